"""Responses' HTTP face: agencies answer the complaints routed to them.

Authenticated by a per-agency API token (Authorization: Bearer ...). The
authorization check lives in Responses.answer, not here: a page or API that
forgets to check still cannot answer another agency's complaint.
"""

from __future__ import annotations

from marshmallow import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kesah import config, http, watch

from .domain import NotYours
from .schemas import ANSWER
from .store import Responses


def create_app(settings: config.Settings | None = None, responses: Responses | None = None) -> Starlette:
    settings = settings or config.load()
    responses = responses or Responses.open(settings)

    def agency_of(request: Request) -> tuple[str, str]:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise http.ApiError(401, "Sertakan token instansi: Authorization: Bearer <token>.")
        agency = responses.agency_for_token(token.strip())
        if agency is None:
            raise http.ApiError(401, "Token instansi tidak dikenal.")
        return agency

    async def answer(request: Request) -> JSONResponse:
        agency_id, agency_name = await run_in_threadpool(agency_of, request)
        data = await http.read_json(request)
        try:
            loaded = ANSWER.load(data)
        except ValidationError as exc:
            raise http.ApiError(422, "Data jawaban tidak valid.", exc.messages) from None
        complaint = request.path_params["complaint"]
        try:
            event = await run_in_threadpool(
                responses.answer, complaint, agency_id, agency_name, loaded["body"].strip(), loaded["status"]
            )
        except LookupError:
            raise http.ApiError(404, "Aduan tidak ditemukan atau belum diteruskan ke instansi.") from None
        except NotYours:
            raise http.ApiError(403, "Aduan ini tidak diteruskan ke instansi Anda.") from None
        return JSONResponse(
            {"response_id": event.payload["response_id"], "complaint_id": event.payload["complaint_id"],
             "tracking_code": event.payload["tracking_code"], "status": event.payload["status"]},
            status_code=201,
        )

    async def inbox(request: Request) -> JSONResponse:
        agency_id, _ = await run_in_threadpool(agency_of, request)
        items = await run_in_threadpool(responses.assigned_to, agency_id)
        return JSONResponse(
            {"complaints": [
                {"complaint_id": a.complaint_id, "tracking_code": a.tracking_code, "due_date": a.due_date}
                for a in items
            ]}
        )

    app = http.create_app(
        [
            Route("/api/agency/complaints", inbox, methods=["GET"]),
            Route("/api/agency/complaints/{complaint}/responses", answer, methods=["POST"]),
        ],
        checks={"store": http.database_check(responses.store.engine),
                **watch.recorded_checks(responses.store.engine, ("integrity",))},
        collect=lambda: watch.recorded_families(responses.store.engine, "responses"),
    )
    app.state.responses = responses
    return app
