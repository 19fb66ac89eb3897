"""Intake's HTTP face: citizens and channels submit complaints here.

It writes to intake's own store directly (event + outbox in one commit), so
a complaint is accepted even while RabbitMQ is down; the relay publishes it
when the broker is back.
"""

from __future__ import annotations

import logging
import time

from marshmallow import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kesah import config, http, reference

from . import domain
from .channels import Adapter, Malformed, Unauthenticated, meta
from .channels.signed import SignedWebhook
from .schemas import SUBMISSION, canonical_kelurahan
from .store import Intake

log = logging.getLogger("kesah.intake")

# Meta batches up to 1,000 changes in one notification.
WEBHOOK_MAX_BYTES = 4 * 1024 * 1024


def submission_from(data: dict) -> domain.Submission:
    kelurahan = canonical_kelurahan(data["kelurahan"])
    assert kelurahan is not None  # the schema checked it
    return domain.Submission(
        kind=data["kind"],
        title=data["title"].strip(),
        body=data["body"].strip(),
        kelurahan=kelurahan,
        kecamatan=reference.load().kelurahan[kelurahan],
        address=(data.get("address") or "").strip(),
        visibility=data["visibility"],
        channel="web",
        reporter={k: v.strip() for k, v in (data.get("reporter") or {}).items() if v and v.strip()},
    )


def create_app(settings: config.Settings | None = None, intake: Intake | None = None) -> Starlette:
    settings = settings or config.load()
    intake = intake or Intake.open(settings)

    async def submit(request: Request) -> JSONResponse:
        data = await http.read_json(request)
        try:
            loaded = SUBMISSION.load(data)
        except ValidationError as exc:
            raise http.ApiError(422, "Data aduan tidak valid.", exc.messages) from None
        accepted = await run_in_threadpool(intake.submit, submission_from(loaded))
        return JSONResponse(
            {
                "complaint_id": accepted.complaint_id,
                "tracking_code": accepted.tracking_code,
                "secret": accepted.secret,
                "submitted_at": accepted.submitted_at,
                "url": f"/aduan/{accepted.tracking_code}",
            },
            status_code=201,
            headers={"location": f"/api/complaints/{accepted.tracking_code}"},
        )

    async def deliver(request: Request, adapter: Adapter) -> JSONResponse:
        """One delivery of any channel: authenticate the raw bytes, read the posts, take each in once."""
        body = await request.body()
        if len(body) > WEBHOOK_MAX_BYTES:
            raise http.ApiError(413)
        try:
            adapter.authenticate(request.headers, body, time.time())
        except Unauthenticated as exc:
            log.warning("refused a %s delivery: %s", adapter.channel, exc)
            raise http.ApiError(403, "Tanda tangan kiriman tidak sah.") from None
        except Malformed as exc:
            raise http.ApiError(422 if exc.errors else 400, str(exc), exc.errors) from None
        payload = await http.read_json(request, WEBHOOK_MAX_BYTES)
        try:
            found = adapter.posts(payload)
        except Malformed as exc:
            raise http.ApiError(422 if exc.errors else 400, str(exc), exc.errors) from None
        receipts = await run_in_threadpool(intake.receive_posts, found) if found else []
        counts = {outcome: sum(r.outcome == outcome for r in receipts) for outcome in ("submitted", "waiting", "duplicate")}
        return JSONResponse({
            "received": len(receipts),
            **counts,
            "posts": [
                {"channel": p.channel, "id": p.source_id, "outcome": r.outcome, "tracking_code": r.tracking_code}
                for p, r in zip(found, receipts)
            ],
        })

    async def meta_webhook(request: Request) -> Response:
        if request.method == "GET":
            answer = meta.challenge_answer(request.query_params, settings.meta_verify_token or "")
            if answer is None:
                raise http.ApiError(403, "Verifikasi webhook gagal.")
            return PlainTextResponse(answer)
        if not settings.meta_app_secret:
            raise http.ApiError(503, "Saluran Meta belum dikonfigurasi.")
        return await deliver(request, meta.MetaWebhook(settings.meta_app_secret))

    async def channel_webhook(request: Request) -> Response:
        name = request.path_params["channel"]
        secret = settings.channel_secrets.get(name)
        if secret is None:
            raise http.ApiError(404, "Saluran tidak dikenal.")
        return await deliver(request, SignedWebhook(name, secret, settings.webhook_tolerance_seconds))

    app = http.create_app(
        [
            Route("/api/complaints", submit, methods=["POST"]),
            Route("/api/intake/meta", meta_webhook, methods=["GET", "POST"]),
            Route("/api/intake/channels/{channel}", channel_webhook, methods=["POST"]),
        ],
        checks={"store": http.database_check(intake.store.engine)},
    )
    app.state.intake = intake
    return app

