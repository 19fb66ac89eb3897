"""publicview's HTTP face: what citizens see. Reads only publicview's own database.

Pages (Bahasa Indonesia, no JavaScript): home, list with filters and
full-text search, a complaint with its timeline and answers, tracking by
code, per-agency statistics with SVG charts, data freshness, open data.
Also the JSON API of one complaint and Open311 GeoReport v2. The form that
submits a complaint belongs to intake (``/lapor``): only intake accepts
complaints and knows the reporter's secret.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import exc as sa_exc
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from kesah import config, database, diskspace, http, openapi, pages, reference, stores, watch

from . import charts, listing, open311, opendata, statistics, transparency
from .pagecache import PageCache
from .projections import CHANNEL_LABELS, STATUS_LABELS
from .store import PublicView

HERE = Path(__file__).parent
RECENT = 10
RECOVERING = "Halaman sedang dipulihkan, coba lagi sebentar lagi."
RETRY_AFTER_SECONDS = 10
LISTED_FOR = 5.0  # seconds a count of the listed complaints may be shown after the projection moved


def database_unavailable(exc: BaseException) -> str | None:
    """What to tell a citizen when the projection cannot be read (None: not the database's fault, a bug).

    A damaged or emptied file is being replaced by publicview's worker; any
    other trouble reaching the database is the generic 503.
    """
    if database.damage(exc) is not None or (isinstance(exc, sa_exc.OperationalError) and "no such table" in str(exc)):
        return RECOVERING
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.TimeoutError)):
        return http.MESSAGES[503]
    return None


class WhileDamaged:
    """Every public page answers 503 while publicview's database file is damaged (its header says so).

    Pages could still come from the cache of a connection opened before the
    damage; a citizen gets one clear answer instead, until the worker has
    moved the file aside (tens of microseconds a request: a stat and 100 bytes read).
    """

    def __init__(self, app: ASGIApp, path: str | None, answer: Callable[[Request, str], Response]) -> None:
        self.app, self.path, self.answer = app, path, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.path is not None and scope["path"] not in PROBES
                and not scope["path"].startswith("/static/") and database.file_damage(self.path)):
            await self.answer(Request(scope, receive), RECOVERING)(scope, receive, send)
            return
        await self.app(scope, receive, send)


PROBES = ("/healthz", "/readyz", "/metrics")


def open_view(settings: config.Settings) -> PublicView:
    """The face's view; on a damaged file the face starts anyway and answers 503 until the worker replaces it."""
    try:
        return PublicView.open(settings)
    except Exception as exc:
        found = database.damage(exc)
        if found is None:
            raise
        http.log.error("publicview's database is damaged (%s): serving 503 until it is replaced", found)
        return PublicView(database.create_engine(settings.database_url("publicview")), stores.keyring(settings))


def statistics_charts(summary: statistics.Summary) -> list[tuple[str, Any]]:
    """(caption, chart) for the statistics page."""
    rows = summary.agencies
    charts_ = [
        charts.bar_chart(
            "grafik-jumlah", "Jumlah aduan per instansi",
            "Banyaknya aduan publik yang diteruskan ke tiap instansi.",
            [charts.Bar(r.name, r.complaints, str(r.complaints)) for r in rows],
        ),
        charts.bar_chart(
            "grafik-dijawab", "Persentase aduan yang sudah dijawab",
            "Bagian aduan tiap instansi yang sudah mendapat jawaban.",
            [charts.Bar(r.name, 100 * r.answered_share, f"{100 * r.answered_share:.0f}%") for r in rows],
            max_value=100,
        ),
        charts.bar_chart(
            "grafik-waktu", "Median waktu sampai dijawab",
            "Nilai tengah waktu dari aduan masuk sampai jawaban pertama instansi, dalam hari.",
            [charts.Bar(r.name, r.median_days_to_answer or 0, statistics.duration(r.median_days_to_answer))
             for r in rows],
        ),
    ]
    captions = ("Jumlah aduan per instansi", "Persentase aduan yang sudah dijawab", "Median waktu sampai dijawab")
    return list(zip(captions, charts_))


def create_app(settings: config.Settings | None = None, view: PublicView | None = None) -> Starlette:
    settings = settings or config.load()
    view = view or open_view(settings)
    ref = reference.load()
    templates = pages.templates(HERE / "templates", STATUS_LABELS=STATUS_LABELS, CHANNEL_LABELS=CHANNEL_LABELS,
                                AGENCIES=ref.agencies, KECAMATAN=ref.kecamatan)
    templates.env.filters["durasi"] = statistics.duration
    # The pages read most, kept while the projection is unchanged (at most LISTED_FOR seconds).
    cache = PageCache(settings.database_url("publicview"), max_age=LISTED_FOR, enabled=settings.page_cache)
    stats_cache: dict[str, Any] = {}
    listed_cache: dict[str, Any] = {}
    listed_lock = threading.Lock()

    def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def listed() -> int:
        """How many complaints are listed, for the home page.

        Counting reads every row of the projection (0.14 s at 28k complaints, 1.3 s at 280k): it
        is redone only when the projection's checkpoint has moved and the last count is more than
        a few seconds old, by one request at a time; the others show the last count meanwhile.
        """
        key = view.checkpoint()
        known = listed_cache.get("value")
        if known is not None and (listed_cache["key"] == key or time.monotonic() - listed_cache["at"] < LISTED_FOR):
            return int(known)
        if not listed_lock.acquire(blocking=known is None):
            return int(known)  # another request is counting
        try:
            if listed_cache.get("key") != key:
                listed_cache.update(key=key, value=view.count(listing.Query()), at=time.monotonic())
            return int(listed_cache["value"])
        finally:
            listed_lock.release()

    def newest_and_listed() -> tuple[list[dict[str, Any]], int]:
        return view.newest(listing.Query(), 0, RECENT), listed()

    async def home(request: Request) -> Response:
        recent, total = await run_in_threadpool(newest_and_listed)
        return page(request, "home.html", {"complaints": recent, "total": total})

    async def complaint_list(request: Request) -> Response:
        asked = listing.from_params(request.query_params, STATUS_LABELS)
        offset = (asked.page - 1) * listing.PAGE_SIZE
        found, total = await run_in_threadpool(view.find, asked.query, offset, listing.PAGE_SIZE)
        pages_total = max(1, math.ceil(total / listing.PAGE_SIZE))
        base = {k: v for k, v in asked.values.items() if v}
        return page(request, "list.html", {
            "complaints": found, "total": total, "asked": asked, "values": asked.values,
            "page": asked.page, "pages": pages_total,
            "prev_query": {**base, "halaman": asked.page - 1} if asked.page > 1 else None,
            "next_query": {**base, "halaman": asked.page + 1} if asked.page < pages_total else None,
        })

    async def complaint_page(request: Request) -> Response:
        code = listing.tracking_code(request.path_params["code"])
        doc = await run_in_threadpool(view.complaint, code) if code else None
        if doc is None:
            raise HTTPException(404)
        if code != request.path_params["code"]:
            return RedirectResponse(f"/aduan/{code}", status_code=301)
        return page(request, "complaint.html", {"c": doc})

    async def track(request: Request) -> Response:
        typed = (request.query_params.get("kode") or "").strip()
        if not typed:
            return page(request, "track.html", {"typed": "", "error": None})
        code = listing.tracking_code(typed)
        if code is None:
            error = "Kode aduan terdiri dari 8 huruf dan angka, misalnya KJ4M-X7PA."
        elif await run_in_threadpool(view.complaint, code) is None:
            error = f"Aduan dengan kode {code} tidak ditemukan. Periksa kembali kodenya."
        else:
            return RedirectResponse(f"/aduan/{code}", status_code=303)
        return page(request, "track.html", {"typed": typed, "error": error}, status_code=404 if code else 400)

    def summary() -> statistics.Summary:
        key = f"{view.checkpoint()}@{pages.local_today()}"
        if stats_cache.get("key") != key:
            stats_cache.update(key=key, value=statistics.summarize(view.public_documents(), pages.local_today()))
        return stats_cache["value"]

    async def statistics_page(request: Request) -> Response:
        result = await run_in_threadpool(summary)
        return page(request, "statistics.html", {"s": result, "charts": statistics_charts(result)})

    async def status_page(request: Request) -> Response:
        fresh = await run_in_threadpool(view.freshness)
        return page(request, "status.html", {"f": fresh})

    async def status_api(request: Request) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(view.freshness))

    async def data_page(request: Request) -> Response:
        return page(request, "data.html", {"complaint_fields": opendata.COMPLAINT_FIELDS,
                                           "event_fields": opendata.EVENT_FIELDS})

    async def download(lines: Iterator[str], media_type: str, filename: str) -> StreamingResponse:
        # Read once before the 200 goes out: a database that cannot be read is a 503, not a cut-off download.
        await run_in_threadpool(view.checkpoint)
        return StreamingResponse(
            lines, media_type=media_type,
            headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-cache"},
        )

    async def complaints_csv(request: Request) -> Response:
        records = (opendata.complaint_record(d) for d in view.public_documents())
        return await download(opendata.csv_lines(records, opendata.COMPLAINT_FIELDS), "text/csv; charset=utf-8",
                              "kesah-etam-aduan.csv")

    async def complaints_json(request: Request) -> Response:
        records = (opendata.public_json(d) for d in view.public_documents())
        return await download(opendata.json_lines(records), "application/json", "kesah-etam-aduan.json")

    async def events_csv(request: Request) -> Response:
        records = (opendata.event_record(e, hidden) for e, hidden in view.public_events())
        return await download(opendata.csv_lines(records, opendata.EVENT_FIELDS), "text/csv; charset=utf-8",
                              "kesah-etam-peristiwa.csv")

    async def events_json(request: Request) -> Response:
        records = (opendata.event_record(e, hidden) for e, hidden in view.public_events())
        return await download(opendata.json_lines(records), "application/json", "kesah-etam-peristiwa.json")

    async def public_keys(request: Request) -> JSONResponse:
        keys = view.keyring.public_keys() if view.keyring else {}
        return JSONResponse({"algorithm": "Ed25519", "keys": keys})

    async def complaint_api(request: Request) -> JSONResponse:
        code = listing.tracking_code(request.path_params["code"])
        doc = await run_in_threadpool(view.complaint, code) if code else None
        if doc is None:
            raise http.ApiError(404, "Aduan dengan kode itu tidak ditemukan.")
        return JSONResponse(opendata.public_json(doc))

    async def openapi_document(request: Request) -> JSONResponse:
        return JSONResponse(openapi.document())

    async def not_found_or_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        unavailable = None if status != 500 else database_unavailable(exc)
        if unavailable is not None:
            http.log.warning("database unavailable on %s: %s", request.url.path, watch.reason(exc))
            return answer_unavailable(request, unavailable)
        if status == 500:
            http.log.exception("unhandled error on %s", request.url.path)
        if request.url.path.startswith("/open311/"):
            fmt = "json" if request.url.path.endswith(".json") else "xml"
            message = "Tidak ditemukan." if status == 404 else http.MESSAGES.get(status, "Kesalahan.")
            return open311.error(fmt, 400 if status == 500 else status, message)
        if request.url.path.startswith("/api/"):
            handler = http.EXCEPTION_HANDLERS[HTTPException if status != 500 else Exception]
            return await handler(request, exc)
        message = http.MESSAGES.get(status, "Kesalahan.")
        return page(request, "error.html", {"status": status, "message": message}, status_code=status)

    def answer_unavailable(request: Request, message: str) -> Response:
        """503 in every shape the face answers in; the browser or client may come back shortly."""
        retry = {"retry-after": str(RETRY_AFTER_SECONDS)}
        if request.url.path.startswith("/open311/"):
            response = open311.error("json" if request.url.path.endswith(".json") else "xml", 503, message)
        elif request.url.path.startswith("/api/"):
            response = http.error_response(503, message)
        else:
            response = page(request, "error.html", {"status": 503, "message": message}, status_code=503)
        response.headers.update(retry)
        return response

    app = http.create_app(
        [
            Route("/", cache.serve(home)),
            Route("/aduan", cache.serve(complaint_list)),
            Route("/aduan/{code}", cache.serve(complaint_page)),
            Route("/lacak", track),
            Route("/statistik", statistics_page),
            Route("/status", status_page),
            Route("/data", data_page),
            Route("/data/aduan.csv", complaints_csv),
            Route("/data/aduan.json", complaints_json),
            Route("/data/peristiwa.csv", events_csv),
            Route("/data/peristiwa.json", events_json),
            Route("/data/kunci-publik.json", public_keys),
            Route("/api/complaints/{code}", cache.serve(complaint_api)),
            Route("/api/status", status_api),
            Route(openapi.PATH, openapi_document),  # every face's, served by the public one
            *open311.routes(view, settings.intake_url, STATUS_LABELS),
            *transparency.routes(view, page),
            Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
        ],
        middleware=[Middleware(WhileDamaged, path=database.sqlite_file(view.engine),
                               answer=answer_unavailable)],
        checks={"store": http.database_check(view.engine),
                "disk": diskspace.DiskSpace({"publicview": settings.database_url("publicview")},
                                            settings.disk_min_free_bytes).problem,
                **watch.recorded_checks(view.engine, ("integrity", "projection", "lag", "database"))},
        collect=lambda: (watch.recorded_families(view.engine, "publicview") + cache.families()
                         + [diskspace.full_errors_family()]),
    )
    app.add_exception_handler(HTTPException, not_found_or_error)
    app.add_exception_handler(sa_exc.OperationalError, not_found_or_error)
    app.add_exception_handler(sa_exc.DatabaseError, not_found_or_error)
    app.add_exception_handler(Exception, not_found_or_error)
    app.state.view = view
    app.state.page_cache = cache
    return app
