"""What every HTTP face shares: JSON errors in Indonesian, health, safe headers."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any, Awaitable, Callable

from sqlalchemy.exc import DatabaseError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import database, health, metrics

log = logging.getLogger("kesah.http")

MESSAGES = {
    400: "Permintaan tidak valid.",
    401: "Perlu masuk terlebih dahulu.",
    403: "Anda tidak berhak melakukan ini.",
    404: "Halaman atau data tidak ditemukan.",
    405: "Metode tidak diizinkan.",
    413: "Data yang dikirim terlalu besar.",
    415: "Gunakan Content-Type application/json.",
    422: "Data tidak valid.",
    429: "Terlalu banyak permintaan. Silakan coba lagi nanti.",
    500: "Terjadi kesalahan pada server. Silakan coba lagi.",
    503: "Layanan sedang tidak siap. Silakan coba lagi sebentar lagi.",
}

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}


class ApiError(HTTPException):
    """An error a client caused, answered as JSON with a message (and field errors)."""

    def __init__(self, status_code: int, message: str | None = None, errors: dict[str, Any] | None = None) -> None:
        super().__init__(status_code, message or MESSAGES.get(status_code, "Kesalahan."))
        self.errors = errors


def error_response(status_code: int, message: str, errors: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code)
    message = exc.detail if isinstance(exc, ApiError) else MESSAGES.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, str(message), getattr(exc, "errors", None))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, MESSAGES[500])


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    # Down, out of connections, or not there at all (destroyed, being restored): the service's, not the request's.
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, MESSAGES[503])


async def _database_error(request: Request, exc: Exception) -> Response:
    # A damaged database file is the service's trouble, not the request's: 503 until it is replaced or restored.
    if database.damage(exc) is not None:
        return await _database_unavailable(request, exc)
    return await _server_error(request, exc)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    HTTPException: _http_exception,
    OperationalError: _database_unavailable,
    DatabaseError: _database_error,
    Exception: _server_error,
}


class NotJSON(ValueError):
    """A body that is not JSON text; the message, in Indonesian, says why."""


NOT_JSON = "Badan permintaan harus berupa JSON yang valid."
UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
NUL_TEXT = "Teks tidak boleh berisi karakter NUL (\\u0000)."
SURROGATE_TEXT = "Teks berisi karakter Unicode yang tidak sah (surrogate tanpa pasangan)."
MAX_INTEGER_DIGITS = 309  # beyond a double's range (1.8e308): no value of ours is that big


def _no_constant(name: str) -> Any:
    raise NotJSON(f"{NOT_JSON} {name} bukan angka JSON.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise NotJSON(f"{NOT_JSON} Angka {text[:20]} terlalu besar.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise NotJSON(f"{NOT_JSON} Angka terlalu besar.")
    return int(text)


def _unstorable(value: Any) -> str | None:
    """What is wrong with the first bad text in a parsed JSON value (keys too), or None."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                return problem
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


def text_problem(text: str) -> str | None:
    """Why a text cannot be kept, in Indonesian; None when it can.

    Half of a UTF-16 pair (JSON's lone ``\\ud800``) is no character: UTF-8
    cannot hold it, so it can be neither hashed, signed nor stored. NUL
    (``\\u0000``, ``%00``) is one, but PostgreSQL's text cannot hold it.
    """
    if "\x00" in text:
        return NUL_TEXT
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # surrogates are the only code points UTF-8 refuses
        return SURROGATE_TEXT
    return None


def parse_json(body: bytes | str) -> Any:
    """A JSON body as RFC 8259 has it, or NotJSON.

    Python's json module is laxer: it takes NaN and Infinity, turns 1e400 into
    infinity and a lone ``\\ud800`` escape into a string that cannot be encoded
    as UTF-8, so it could be neither hashed, signed nor stored. Every JSON
    body of every face is read here, the signed webhooks' too.
    """
    try:
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except NotJSON:
        raise
    except RecursionError:
        raise NotJSON(f"{NOT_JSON} Terlalu banyak tingkat bersarang.") from None
    except (ValueError, UnicodeDecodeError):
        raise NotJSON(NOT_JSON) from None
    # In UTF-8 bytes only an escape can make NUL or a surrogate (the rest was decoded): look when there is one.
    utf8 = isinstance(body, bytes) and json.detect_encoding(body).startswith("utf-8")
    if not utf8 or UNSTORABLE_ESCAPE.search(body):  # type: ignore[arg-type]
        if problem := _unstorable(value):
            raise NotJSON(problem)
    return value


async def read_form(request: Request, **limits: Any) -> FormData:
    """The request's form (``limits`` as Starlette's ``form()`` takes them), or ApiError 400 for a text it cannot keep."""
    form = await request.form(**limits)
    for value in form.values():
        if isinstance(value, str) and (problem := text_problem(value)):
            await form.close()
            raise ApiError(400, problem)
    return form


async def read_json(request: Request, max_bytes: int = 64 * 1024) -> Any:
    """The request's JSON body, or an ApiError saying what is wrong with it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415)
    body = await request.body()
    if len(body) > max_bytes:
        raise ApiError(413)
    try:
        return parse_json(body)
    except NotJSON as exc:
        raise ApiError(400, str(exc)) from None


class SecurityHeaders:
    """Adds the security headers to every response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in SECURITY_HEADERS.items()
                    if k.encode("latin-1") not in present
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RefuseNul:
    """Answers 400 to an address with NUL in its path or query (``%00``): no handler can keep or look it up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")):
            await error_response(400, "Alamat berisi karakter NUL (%00) yang tidak sah.")(scope, receive, send)
            return
        await self.app(scope, receive, send)


Check = health.Check
database_check = health.database_check


def create_app(
    routes: list[Any],
    checks: dict[str, Check] | None = None,
    collect: Callable[[], Any] | None = None,
    **kwargs: Any,
) -> Starlette:
    """A face's Starlette app with the project's error handling, headers and probes.

    Every face answers ``/healthz`` (the process is alive), ``/readyz`` (each
    check returns None when fine, or what is wrong) and ``/metrics``
    (Prometheus text from ``collect``): the paths the Kubernetes probes and
    Prometheus use.
    """
    probes = health.Probes(checks, collect)

    async def readyz(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        try:
            asked = health.only(probes.checks, request.query_params.getlist("check"))
        except KeyError as exc:
            return error_response(400, exc.args[0])
        status, body = await run_in_threadpool(health.readiness, asked)
        return JSONResponse(body, status_code=status)

    async def metrics_page(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        text = await run_in_threadpool(probes.metrics_text)
        return Response(text, media_type=metrics.CONTENT_TYPE)

    from starlette.routing import Route

    paths = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_page)]
    middleware = [Middleware(SecurityHeaders), Middleware(RefuseNul)] + list(kwargs.pop("middleware", []))
    return Starlette(routes=paths + list(routes), exception_handlers=EXCEPTION_HANDLERS, middleware=middleware,
                     **kwargs)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def serve(app: ASGIApp, host: str, port: int, trusted_proxies: str = "127.0.0.1,::1") -> None:
    """Serve an ASGI app as every face is served (one uvicorn process; the benchmarks' baseline too).

    A request's client is the connection's address, or the X-Forwarded-For
    address when the connection comes from one of ``trusted_proxies``.
    """
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5,
                proxy_headers=True, forwarded_allow_ips=trusted_proxies)
