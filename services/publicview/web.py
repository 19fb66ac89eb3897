"""publicview's HTTP face: what citizens see. Reads only publicview's own database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from kesah import config, http

from .projections import CHANNEL_LABELS, KIND_LABELS, STATUS_LABELS
from .store import PublicView

HERE = Path(__file__).parent
WITA = dt.timezone(dt.timedelta(hours=8))
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")


def tanggal(iso: str | None, with_time: bool = True) -> str:
    """An ISO timestamp (UTC) as Bontang reads it: 25 November 2026 14.05 WITA."""
    if not iso:
        return ""
    if len(iso) == 10:
        day = dt.date.fromisoformat(iso)
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(WITA)
    text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return f"{text} {moment:%H.%M} WITA" if with_time else text


def public_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON API's shape of a complaint."""
    if doc["visibility"] == "confidential":
        return {
            "tracking_code": doc["tracking_code"],
            "visibility": "confidential",
            "message": "Aduan ini bersifat rahasia; isinya tidak ditampilkan untuk umum.",
            "submitted_at": doc["submitted_at"],
        }
    return {
        "tracking_code": doc["tracking_code"],
        "kind": doc["kind"],
        "title": doc["title"],
        "body": doc["body"],
        "kelurahan": doc["kelurahan"],
        "kecamatan": doc["kecamatan"],
        "address": doc["address"],
        "channel": doc["channel"],
        "visibility": doc["visibility"],
        "status": doc["status"],
        "agency": doc["agency"],
        "due_date": doc["due_date"],
        "overdue": doc.get("overdue", False),
        "rejection_reason": doc.get("rejection_reason"),
        "reopened": doc.get("reopened", False),
        "responses": doc["responses"],
        "timeline": doc["timeline"],
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["updated_at"],
    }


def create_app(settings: config.Settings | None = None, view: PublicView | None = None) -> Starlette:
    settings = settings or config.load()
    view = view or PublicView.open(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["tanggal"] = tanggal
    templates.env.globals.update(KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS, CHANNEL_LABELS=CHANNEL_LABELS)

    async def home(request: Request) -> Response:
        recent = await run_in_threadpool(view.recent, 20)
        return templates.TemplateResponse(request, "home.html", {"complaints": recent})

    async def complaint_page(request: Request) -> Response:
        code = request.path_params["code"].upper()
        doc = await run_in_threadpool(view.complaint, code)
        if doc is None:
            raise HTTPException(404)
        return templates.TemplateResponse(request, "complaint.html", {"c": doc})

    async def complaint_api(request: Request) -> JSONResponse:
        code = request.path_params["code"].upper()
        doc = await run_in_threadpool(view.complaint, code)
        if doc is None:
            raise http.ApiError(404, "Aduan dengan kode itu tidak ditemukan.")
        return JSONResponse(public_json(doc))

    async def not_found_or_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return await http.EXCEPTION_HANDLERS[HTTPException](request, exc)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 500:
            http.log.exception("unhandled error on %s", request.url.path)
        message = http.MESSAGES.get(status, "Kesalahan.")
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    app = http.create_app(
        [
            Route("/", home),
            Route("/aduan/{code}", complaint_page),
            Route("/api/complaints/{code}", complaint_api),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        checks={"store": http.database_check(view.engine)},
    )
    app.add_exception_handler(HTTPException, not_found_or_error)
    app.add_exception_handler(Exception, not_found_or_error)
    app.state.view = view
    return app
