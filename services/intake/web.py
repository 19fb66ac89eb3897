"""Intake's HTTP face: citizens and channels submit complaints here.

It writes to intake's own store directly (event + outbox in one commit), so
a complaint is accepted even while RabbitMQ is down; the relay publishes it
when the broker is back.
"""

from __future__ import annotations

from marshmallow import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kesah import config, http, reference

from . import domain
from .schemas import SUBMISSION, canonical_kelurahan
from .store import Intake


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

    app = http.create_app(
        [
            Route("/api/complaints", submit, methods=["POST"]),
        ],
        checks={"store": http.database_check(intake.store.engine)},
    )
    app.state.intake = intake
    return app

