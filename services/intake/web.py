"""Intake's HTTP face: citizens and channels submit complaints here.

It writes to intake's own store directly (event + outbox in one commit), so
a complaint is accepted even while RabbitMQ is down; the relay publishes it
when the broker is back.

- ``POST /api/complaints``: the JSON API.
- ``/lapor``: the submission form (works without JavaScript) and, after a
  successful POST, the confirmation with the tracking code and the
  reporter's secret (shown once, never stored in clear, never cached).
- ``/api/intake/photos/{id}``: a photo as stored, metadata stripped.
- ``/api/intake/open311/requests``: Open311 posts, forwarded by publicview.
- ``/api/intake/meta``, ``/api/intake/channels/{channel}``: social-media
  webhooks; each post becomes a complaint once.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kesah import config, database, diskspace, http, pages, ratelimit, reference, watch
from kesah.logwatch import disk_stores

from . import domain, open311, photos
from .channels import Adapter, Malformed, Unauthenticated, meta
from .channels.signed import SignedWebhook
from .schemas import SUBMISSION, canonical_kelurahan
from .store import Accepted, Intake

log = logging.getLogger("kesah.intake")

# Meta batches up to 1,000 changes in one notification.
WEBHOOK_MAX_BYTES = 4 * 1024 * 1024
HERE = Path(__file__).parent
FORM_FIELDS = ("kind", "title", "body", "kelurahan", "address", "visibility", "name", "phone", "email")
FORM_OVERHEAD = 64 * 1024  # room for the text fields beside the photo
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def submission_from(data: dict, channel: str = "web") -> domain.Submission:
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
        channel=channel,
        reporter={k: v.strip() for k, v in (data.get("reporter") or {}).items() if v and v.strip()},
    )


def form_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """The schema's errors by form field; the reporter's nested ones flattened."""
    errors: dict[str, list[str]] = {}
    for field, value in messages.items():
        if field == "reporter" and isinstance(value, dict):
            errors.update({k: list(v) for k, v in value.items()})
        elif field == "reporter":
            errors["contact"] = list(value)
        else:
            errors[field] = list(value) if isinstance(value, list) else [str(value)]
    return errors


def form_data(values: dict[str, str]) -> dict[str, Any]:
    """A form's strings as the submission schema takes them: empty optional fields are absent."""
    data: dict[str, Any] = {k: values[k] for k in ("kind", "title", "body", "kelurahan")}
    data["address"] = values["address"]
    data["visibility"] = values["visibility"] or "public"
    reporter = {k: values[k].strip() for k in ("name", "phone", "email") if values[k].strip()}
    if reporter:
        data["reporter"] = reporter
    return data


# The store could not write (its disk full, the database away): nothing was accepted, so say so.
NOT_STORED = ("Aduan Anda belum tersimpan karena server sedang mengalami gangguan penyimpanan. "
              "Silakan kirim lagi beberapa saat lagi.")


class NotStored(Exception):
    """A submission the store could not write; the message is for the citizen."""


FOLLOW_UPS = {
    "selesai": "Terima kasih. Aduan dinyatakan selesai.",
    "buka": "Aduan dibuka kembali dan diteruskan lagi ke instansi.",
}


def create_app(settings: config.Settings | None = None, intake: Intake | None = None) -> Starlette:
    settings = settings or config.load()
    intake = intake or Intake.open(settings)
    ref = reference.load()
    templates = pages.templates(HERE / "templates", KECAMATAN=ref.kecamatan,
                                PHOTO_TYPES=photos.ACCEPTED_TYPES,
                                PHOTO_LIMIT=photos.megabytes(settings.photo_max_bytes))

    limit = ratelimit.RateLimit(settings.submit_limit) if settings.submit_limit else None
    disk = diskspace.DiskSpace(disk_stores(settings, "intake"), settings.disk_min_free_bytes)

    async def store(*args: Any) -> Accepted:
        """Intake.submit; a store that cannot write (a full disk, the database away) is the server's 503."""
        try:
            return await run_in_threadpool(intake.submit, *args)
        except OperationalError as exc:
            log.warning("complaint not stored (%s): %s", "disk full" if database.disk_full(exc) else
                        "database unavailable", str(exc.orig).splitlines()[0] if exc.orig else exc)
            raise NotStored(NOT_STORED) from None

    def wait_for(request: Request) -> float:
        """Seconds this client must wait before submitting again (0: go on, and it counts)."""
        return limit.take(request.client.host if request.client else "") if limit else 0.0

    def too_many(wait: float) -> str:
        return (f"Terlalu banyak aduan dikirim dari alamat internet Anda. Aduan ini belum terkirim; "
                f"silakan kirim lagi dalam {ratelimit.minutes(wait)} menit.")

    def form(request: Request, values: dict[str, str], errors: dict[str, list[str]], status_code: int) -> Response:
        return templates.TemplateResponse(request, "lapor.html", {"values": values, "errors": errors},
                                          status_code=status_code)

    async def submit(request: Request) -> JSONResponse:
        data = await http.read_json(request)
        try:
            loaded = SUBMISSION.load(data)
        except ValidationError as exc:
            raise http.ApiError(422, "Data aduan tidak valid.", exc.messages) from None
        if wait := wait_for(request):
            return http.error_response(429, too_many(wait), headers={"retry-after": str(int(wait) + 1)})
        try:
            accepted = await store(submission_from(loaded))
        except NotStored as exc:
            return http.error_response(503, str(exc), headers={"retry-after": "60"})
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

    async def form_page(request: Request) -> Response:
        if request.method == "GET":
            return form(request, {k: "" for k in FORM_FIELDS} | {"visibility": "public"}, {}, 200)
        empty = {k: "" for k in FORM_FIELDS} | {"visibility": "public"}
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > settings.photo_max_bytes + FORM_OVERHEAD:
            message = (f"Kiriman terlalu besar: foto paling besar {photos.megabytes(settings.photo_max_bytes)}. "
                       "Aduan belum terkirim; silakan isi ulang dengan foto yang lebih kecil.")
            return form(request, empty, {"form": [message]}, 413)
        try:
            submitted = await http.read_form(request, max_files=1, max_fields=30, max_part_size=FORM_OVERHEAD)
        except http.ApiError as exc:
            return form(request, empty, {"form": [f"{exc.detail} Silakan isi ulang."]}, 400)
        except HTTPException:
            return form(request, empty, {"form": ["Isian formulir tidak dapat dibaca. Silakan isi ulang."]}, 400)
        values = {k: v if isinstance(v := submitted.get(k), str) else "" for k in FORM_FIELDS}
        errors: dict[str, list[str]] = {}
        loaded: dict[str, Any] = {}
        try:
            loaded = SUBMISSION.load(form_data(values))
        except ValidationError as exc:
            errors = form_errors(exc.messages)  # type: ignore[arg-type]
        # A choice left empty is said as such, not as an unknown value.
        for field, message in (("kind", "Pilih jenis aduan."), ("kelurahan", "Pilih kelurahan lokasi aduan.")):
            if field in errors and not values[field]:
                errors[field] = [message]
        photo = None
        upload = submitted.get("photo")
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(settings.photo_max_bytes + 1)
            try:
                photo = await run_in_threadpool(photos.clean, raw, settings.photo_max_bytes)
            except photos.PhotoRejected as exc:
                errors["photo"] = [str(exc)]
            if errors and "photo" not in errors:
                errors["photo"] = ["Pilih foto Anda sekali lagi: demi keamanan, foto tidak disimpan sebelum aduan terkirim."]
        await submitted.close()
        if errors:
            return form(request, values, errors, 422)
        if wait := wait_for(request):
            # What was typed stays in the form; the photo must be chosen again, as after any error.
            message = too_many(wait) + (" Pilih foto Anda sekali lagi saat mengirim." if photo else "")
            return form(request, values, {"form": [message]}, 429)
        try:
            accepted = await store(submission_from(loaded), photo)
        except NotStored as exc:
            message = str(exc) + (" Pilih foto Anda sekali lagi saat mengirim." if photo else "")
            response = form(request, values, {"form": [message]}, 503)
            response.headers["retry-after"] = "60"
            return response
        return templates.TemplateResponse(
            request, "terkirim.html",
            {"accepted": accepted, "visibility": loaded["visibility"], "photo": photo is not None},
            status_code=201,
            headers={"cache-control": "no-store", "location": f"/aduan/{accepted.tracking_code}"},
        )

    async def photo(request: Request) -> Response:
        photo_id = request.path_params["photo_id"]
        stored = await run_in_threadpool(intake.photo, photo_id) if UUID_RE.match(photo_id) else None
        if stored is None:
            raise http.ApiError(404, "Foto tidak ditemukan.")
        return Response(stored.data, media_type=stored.content_type,
                        headers={"cache-control": "public, max-age=31536000, immutable"})

    async def open311_request(request: Request) -> JSONResponse:
        params = await http.read_json(request)
        if not isinstance(params, dict):
            raise http.ApiError(400, "Data harus berupa objek JSON.")
        key = params.get("api_key") if isinstance(params.get("api_key"), str) else ""
        if not key or await run_in_threadpool(intake.api_client, key) is None:
            return _open311_error(403, "api_key tidak ada atau tidak dikenal; mintalah kepada Diskominfo Kota Bontang.")
        try:
            data = open311.submission_data(params)
        except open311.Refused as exc:
            return _open311_error(exc.status, exc.description)
        try:
            loaded = SUBMISSION.load(data)
        except ValidationError as exc:
            return JSONResponse({"errors": open311.errors_from(exc.messages)}, status_code=400)  # type: ignore[arg-type]
        accepted = await run_in_threadpool(intake.submit, submission_from(loaded, channel="open311"))
        return JSONResponse(
            {"service_request_id": accepted.tracking_code,
             "service_notice": f"Aduan diterima. Lacak di /aduan/{accepted.tracking_code}.",
             "account_id": None},
            status_code=201,
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

    def follow_up(code: str, data: dict) -> tuple[int, str]:
        """(HTTP status, message in Indonesian) of the reporter's follow-up."""
        tracking_code = domain.normalize_tracking_code(code)
        action = str(data.get("action", ""))
        if tracking_code is None:
            return 404, "Kode aduan tidak dikenal."
        if action not in FOLLOW_UPS:
            return 422, "Pilihan harus 'selesai' atau 'buka'."
        try:
            intake.follow_up(tracking_code, str(data.get("secret", "")), action, str(data.get("comment") or "")[:2000])
        except LookupError:
            return 404, "Kode aduan tidak dikenal."
        except domain.WrongSecret:
            return 403, "Kode rahasia tidak cocok dengan aduan ini."
        except domain.NotNow as exc:
            return 409, str(exc)
        return 201, FOLLOW_UPS[action]

    async def follow_up_api(request: Request) -> JSONResponse:
        data = await http.read_json(request)
        if not isinstance(data, dict):
            raise http.ApiError(422, "Data harus berupa objek JSON.")
        status, message = await run_in_threadpool(follow_up, request.path_params["code"], data)
        if status != 201:
            raise http.ApiError(status, message)
        return JSONResponse({"message": message}, status_code=201)

    async def follow_up_page(request: Request) -> Response:
        code = (domain.normalize_tracking_code(request.path_params["code"]) or request.path_params["code"])[:9]
        context: dict = {"code": code, "message": None, "ok": False}
        status = 200
        if request.method == "POST":
            form = await http.read_form(request, max_fields=10)
            status, context["message"] = await run_in_threadpool(follow_up, code, dict(form))
            context["ok"] = status == 201
            status = 200 if status == 201 else status
        return templates.TemplateResponse(request, "followup.html", context, status_code=status)

    app = http.create_app(
        [
            Route("/api/complaints", submit, methods=["POST"]),
            Route("/api/intake/complaints/{code}/follow-up", follow_up_api, methods=["POST"]),
            Route("/pelapor/{code}", follow_up_page, methods=["GET", "POST"]),
            Route("/lapor", form_page, methods=["GET", "POST"]),
            Route("/api/intake/photos/{photo_id}", photo),
            Route("/api/intake/open311/requests", open311_request, methods=["POST"]),
            Route("/api/intake/meta", meta_webhook, methods=["GET", "POST"]),
            Route("/api/intake/channels/{channel}", channel_webhook, methods=["POST"]),
        ],
        checks={"store": http.database_check(intake.store.engine),
                "contact vault": http.database_check(intake.vault.engine),
                "disk": disk.problem,
                **watch.recorded_checks(intake.store.engine, ("integrity",))},
        collect=lambda: watch.recorded_families(intake.store.engine, "intake") + [diskspace.full_errors_family()],
    )
    app.state.intake = intake
    return app


def _open311_error(status: int, description: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": status, "description": description}]}, status_code=status)
