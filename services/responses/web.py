"""Responses' HTTP face: the agency portal (/agency) and the agencies' token API (/api/agency).

The API is authenticated by a per-agency token (Authorization: Bearer ...),
which acts as that agency's staff. The authorization checks live in
``Responses`` (domain.py's matrix), not here: a page or API that forgets to
check still cannot answer another agency's complaint.
"""

from __future__ import annotations

from marshmallow import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kesah import config, diskspace, http, watch

from . import domain
from .portal import Portal
from .schemas import ANSWER
from .store import Responses


def create_app(settings: config.Settings | None = None, responses: Responses | None = None) -> Starlette:
    settings = settings or config.load()
    responses = responses or Responses.open(settings)

    def actor_of(request: Request) -> domain.Actor:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise http.ApiError(401, "Sertakan token instansi: Authorization: Bearer <token>.")
        actor = responses.actor_for_token(token.strip())
        if actor is None:
            raise http.ApiError(401, "Token instansi tidak dikenal.")
        return actor

    async def answer(request: Request) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, request)
        data = await http.read_json(request)
        try:
            loaded = ANSWER.load(data)
        except ValidationError as exc:
            raise http.ApiError(422, "Data jawaban tidak valid.", exc.messages) from None
        complaint = request.path_params["complaint"]
        try:
            event = await run_in_threadpool(responses.answer, actor, complaint, loaded["body"].strip(), loaded["status"])
        except LookupError:
            raise http.ApiError(404, "Aduan tidak ditemukan atau belum diteruskan ke instansi.") from None
        except domain.Forbidden as exc:
            raise http.ApiError(403, str(exc)) from None
        except domain.Conflict as exc:
            raise http.ApiError(409, str(exc)) from None
        return JSONResponse(
            {"response_id": event.payload["response_id"], "complaint_id": event.payload["complaint_id"],
             "tracking_code": event.payload["tracking_code"], "status": event.payload["status"]},
            status_code=201,
        )

    async def inbox(request: Request) -> JSONResponse:
        actor = await run_in_threadpool(actor_of, request)
        items = await run_in_threadpool(lambda: responses.inbox(actor, status=None))
        return JSONResponse(
            {"complaints": [
                {"complaint_id": c["complaint_id"], "tracking_code": c["tracking_code"], "status": c["status"], "due_date": c["due_date"],
                 "overdue": c["overdue"], "title": c["title"]}
                for c in items
            ]}
        )

    portal = Portal(settings, responses)
    app = http.create_app(
        [
            Route("/api/agency/complaints", inbox, methods=["GET"]),
            Route("/api/agency/complaints/{complaint}/responses", answer, methods=["POST"]),
            *portal.routes(),
        ],
        checks={"store": http.database_check(responses.store.engine),
                "disk": diskspace.DiskSpace({"responses": settings.database_url("responses")},
                                            settings.disk_min_free_bytes).problem,
                **watch.recorded_checks(responses.store.engine, ("integrity",))},
        collect=lambda: watch.recorded_families(responses.store.engine, "responses") + [diskspace.full_errors_family()],
    )
    app.state.responses = responses
    return app
