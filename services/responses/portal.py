"""The agency portal (/agency): server-rendered pages in Bahasa Indonesia, usable without JavaScript.

Agency staff log in, see their inbox, answer and ask for re-routing; agency
admins manage their staff; operators see every queue, route, re-route and
reject, manage agencies and routing rules (through routing's RPC).

Every POST carries the session's CSRF token (the login form a token bound
to a signed cookie); a missing or wrong token is refused with 403 before
anything happens. Anonymous visitors are sent to the login page. What a
person may do is decided by ``Responses``/``Accounts`` (domain.py's matrix),
not here: the pages only show or hide the forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlencode

from marshmallow import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from kesah import config, http, lifecycle, reference
from kesah.pages import tanggal

from . import auth, domain
from .accounts import AccountError, LoginFailed, Session
from .rpc_client import ServiceClient, ServiceUnavailable
from .schemas import ANSWER_FORM, REASON_FORM
from .store import AgencyError, Responses

HERE = Path(__file__).parent
SESSION_COOKIE = "kesah_sesi"
LOGIN_COOKIE = "kesah_masuk"
MAX_FORM_FIELDS = 50

DONE = {
    "answered": "Jawaban terkirim dan tampil di halaman publik.",
    "reroute-requested": "Permintaan pengalihan terkirim ke operator.",
    "routed": "Keputusan routing tercatat.",
    "rejected": "Aduan ditolak.",
    "account-saved": "Akun tersimpan.",
    "agency-saved": "Instansi tersimpan.",
    "rule-saved": "Aturan tersimpan.",
    "rule-removed": "Aturan dihapus.",
    "post-submitted": "Kiriman menjadi aduan dan diteruskan ke routing.",
}
SKIPPED = {"declined": "instansinya sudah menolak", "kind": "jenis lain", "kelurahan": "kelurahan lain"}


class Refusal(Exception):
    """Stop and show an error page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Portal:
    def __init__(self, settings: config.Settings, responses: Responses) -> None:
        self.settings = settings
        self.responses = responses
        self.accounts = responses.accounts
        key = settings.session_key.encode("utf-8") if settings.session_key else None
        self.signer = auth.CookieSigner(key or _session_key(settings))
        self.services = {name: ServiceClient(settings, name) for name in ("routing", "intake")}
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["tanggal"] = tanggal
        self.templates.env.globals.update(
            STATUS_LABELS=lifecycle.STATUS_LABELS, KIND_LABELS=lifecycle.KIND_LABELS,
            CHANNEL_LABELS=lifecycle.CHANNEL_LABELS,
            ROLE_LABELS=domain.ROLE_LABELS, AWAITING_ANSWER=lifecycle.AWAITING_ANSWER, SKIPPED=SKIPPED,
        )

    # --- plumbing -----------------------------------------------------------------

    def render(self, request: Request, template: str, session: Session | None, status_code: int = 200,
               **context: Any) -> Response:
        context.update(session=session, actor=session.actor if session else None,
                       csrf_token=session.csrf_token if session else None,
                       done=DONE.get(request.query_params.get("ok", "")))
        return self.templates.TemplateResponse(request, template, context, status_code=status_code,
                                               headers={"cache-control": "no-store"})

    async def session(self, request: Request) -> Session | None:
        session_id = self.signer.unsign(request.cookies.get(SESSION_COOKIE))
        if session_id is None:
            return None
        return await run_in_threadpool(self.accounts.session, session_id)

    def page(self, handler: Callable[[Request, Session, FormData | None], Awaitable[Response]]) -> Callable:
        """A page for logged-in people: login first, then CSRF (POST), then the handler."""

        async def endpoint(request: Request) -> Response:
            session = await self.session(request)
            if session is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse("/agency/login?next=" + quote(target, safe=""), status_code=303)
            form = None
            try:
                if request.method == "POST":
                    form = await self.form(request)
                    if not auth.csrf_matches(session.csrf_token, form.get("csrf_token")):  # type: ignore[arg-type]
                        raise Refusal(403, "Formulir kedaluwarsa atau tidak sah. Muat ulang halaman lalu coba lagi.")
                return await handler(request, session, form)
            except Refusal as exc:
                return self.error(request, session, exc.status, exc.message)
            except domain.Forbidden as exc:
                return self.error(request, session, 403, str(exc))
            except domain.Conflict as exc:
                return self.error(request, session, 409, str(exc))
            except LookupError:
                return self.error(request, session, 404, "Aduan atau data itu tidak ditemukan.")
            except (AccountError, AgencyError) as exc:
                return self.error(request, session, 422, str(exc))
            except ServiceUnavailable as exc:
                return self.error(request, session, 503,
                                  f"Layanan {exc.service} sedang tidak menjawab. Coba lagi sebentar lagi.")

        return endpoint

    def error(self, request: Request, session: Session | None, status: int, message: str) -> Response:
        return self.render(request, "error.html", session, status_code=status, status=status, message=message)

    def cookie(self, response: Response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/agency", httponly=True, samesite="lax",
                            secure=self.settings.secure_cookies)

    async def form(self, request: Request) -> FormData:
        try:
            return await http.read_form(request, max_fields=MAX_FORM_FIELDS)
        except http.ApiError as exc:
            raise Refusal(exc.status_code, str(exc.detail)) from None

    async def rpc(self, method: str, service: str = "routing", **kwargs: Any) -> Any:
        """Ask a service (routing unless named); an answer ``{"error": ...}`` is shown as a refusal."""
        answer = await run_in_threadpool(self.services[service].call, method, **kwargs)
        if isinstance(answer, dict) and "error" in answer:
            raise Refusal(int(answer.get("status", 409)), answer["error"])
        return answer

    # --- logging in and out -----------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if await self.session(request) is not None:
            return RedirectResponse("/agency/inbox", status_code=303)
        return self._login_form(request, None, 200)

    def _login_form(self, request: Request, message: str | None, status: int, username: str = "") -> Response:
        nonce = auth.new_csrf_token()
        response = self.render(request, "login.html", None, status_code=status, login_token=nonce, message=message,
                               username=username, next=request.query_params.get("next", ""))
        self.cookie(response, LOGIN_COOKIE, self.signer.sign(nonce), max_age=3600)
        return response

    async def login(self, request: Request) -> Response:
        try:
            form = await self.form(request)
        except Refusal as exc:
            return self.error(request, None, exc.status, exc.message)
        expected = self.signer.unsign(request.cookies.get(LOGIN_COOKIE))
        if not auth.csrf_matches(expected, form.get("csrf_token")):  # type: ignore[arg-type]
            return self.error(request, None, 403, "Formulir masuk kedaluwarsa. Muat ulang halaman lalu coba lagi.")
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        try:
            # The client as uvicorn names it: X-Forwarded-For's rightmost address not among KESAH_TRUSTED_PROXIES.
            client = request.client.host if request.client else ""
            session_id, _ = await run_in_threadpool(self.accounts.login, username, password, client)
        except LoginFailed as exc:
            return self._login_form(request, str(exc), 401, username)
        target = str(form.get("next") or "")
        if not target.startswith("/agency/") or target.startswith("//"):
            target = "/agency/inbox"
        response = RedirectResponse(target, status_code=303)
        self.cookie(response, SESSION_COOKIE, self.signer.sign(session_id), max_age=auth.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path="/agency")
        return response

    async def logout(self, request: Request, session: Session, form: FormData | None) -> Response:
        session_id = self.signer.unsign(request.cookies.get(SESSION_COOKIE))
        if session_id:
            await run_in_threadpool(self.accounts.logout, session_id)
        response = RedirectResponse("/agency/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/agency")
        return response

    # --- the inbox and one complaint ---------------------------------------------------

    async def inbox(self, request: Request, session: Session, form: FormData | None) -> Response:
        q = request.query_params
        filters = {
            "status": q.get("status", "terbuka"),
            "overdue": q.get("overdue") == "1",
            "kind": q.get("kind") or None,
            "agency_id": q.get("agency") or None,
            "queue": q.get("queue") or None,
        }
        if filters["status"] == "semua":
            filters["status"] = None
        if filters["queue"]:
            filters["status"] = None
        items = await run_in_threadpool(lambda: self.responses.inbox(session.actor, **filters))
        agencies = await run_in_threadpool(self.responses.agencies)
        return self.render(request, "inbox.html", session, items=items, agencies=agencies, q=q,
                           filters=filters, query=urlencode)

    async def complaint(self, request: Request, session: Session, form: FormData | None) -> Response:
        code = request.path_params["code"]
        case = await run_in_threadpool(self.responses.case_file, session.actor, code)
        agencies = await run_in_threadpool(self.responses.agencies)
        agency_id = (case.get("agency") or {}).get("id")
        may_act = (not session.actor.is_operator) and session.actor.agency_id == agency_id
        return self.render(request, "case.html", session, c=case, agencies=agencies, may_act=may_act,
                           answerable=case["status"] in domain.ANSWERABLE)

    async def answer(self, request: Request, session: Session, form: FormData | None) -> Response:
        data = _load(ANSWER_FORM, form)
        code = request.path_params["code"]
        await run_in_threadpool(self.responses.answer, session.actor, code, data["body"].strip(), data["status"])
        return RedirectResponse(f"/agency/complaints/{quote(code)}?ok=answered", status_code=303)

    async def reroute_request(self, request: Request, session: Session, form: FormData | None) -> Response:
        data = _load(REASON_FORM, form)
        code = request.path_params["code"]
        await run_in_threadpool(self.responses.request_reroute, session.actor, code, data["reason"].strip(),
                                str(form.get("suggested_agency") or "") or None)  # type: ignore[union-attr]
        return RedirectResponse(f"/agency/complaints/{quote(code)}?ok=reroute-requested", status_code=303)

    async def route(self, request: Request, session: Session, form: FormData | None) -> Response:
        """Operator: send a complaint from the queue to an agency, or move it to another one."""
        domain.check_operator(session.actor)
        data = _load(REASON_FORM, form)
        code = request.path_params["code"]
        case = await run_in_threadpool(self.responses.case_file, session.actor, code)
        agency_id = str(form.get("agency") or "")  # type: ignore[union-attr]
        agencies = await run_in_threadpool(self.responses.agencies)
        if agency_id not in agencies:
            raise Refusal(422, "Pilih instansi tujuan.")
        method = "route" if case["status"] == "diterima" else "reroute"
        await self.rpc(method, complaint=case["complaint_id"], agency_id=agency_id, agency_name=agencies[agency_id],
                       reason=data["reason"].strip(), operator=session.actor.username)
        return RedirectResponse(f"/agency/complaints/{quote(code)}?ok=routed", status_code=303)

    async def reject(self, request: Request, session: Session, form: FormData | None) -> Response:
        domain.check_operator(session.actor)
        data = _load(REASON_FORM, form)
        code = request.path_params["code"]
        case = await run_in_threadpool(self.responses.case_file, session.actor, code)
        await self.rpc("reject", complaint=case["complaint_id"], reason=data["reason"].strip(),
                       operator=session.actor.username)
        return RedirectResponse(f"/agency/complaints/{quote(code)}?ok=rejected", status_code=303)

    # --- accounts, agencies, rules ------------------------------------------------------

    async def staff(self, request: Request, session: Session, form: FormData | None) -> Response:
        actor = session.actor
        agency_id = request.query_params.get("agency") if actor.is_operator else actor.agency_id
        agency_id = agency_id or None
        if form is not None:
            agency_id = str(form.get("agency") or "") or None if actor.is_operator else actor.agency_id
            action = str(form.get("action", ""))
            username = str(form.get("username", ""))
            if action == "create":
                await run_in_threadpool(self.accounts.create, actor, username, str(form.get("name", "")),
                                        str(form.get("role", "staff")), agency_id, str(form.get("password", "")))
            elif action in ("activate", "deactivate"):
                await run_in_threadpool(self.accounts.set_active, actor, username, action == "activate")
            elif action == "password":
                await run_in_threadpool(self.accounts.set_password, actor, username, str(form.get("password", "")))
            else:
                raise Refusal(400, "Tindakan tidak dikenal.")
            return RedirectResponse("/agency/staff?" + urlencode({"agency": agency_id or "", "ok": "account-saved"}),
                                    status_code=303)
        people = await run_in_threadpool(self.accounts.listing, actor, agency_id)
        agencies = await run_in_threadpool(self.responses.agencies)
        return self.render(request, "staff.html", session, people=people, agency_id=agency_id, agencies=agencies)

    async def agencies(self, request: Request, session: Session, form: FormData | None) -> Response:
        domain.check_operator(session.actor)
        if form is not None:
            await run_in_threadpool(self.responses.save_agency, session.actor, str(form.get("agency_id", "")),
                                    str(form.get("name", "")))
            return RedirectResponse("/agency/agencies?ok=agency-saved", status_code=303)
        agencies = await run_in_threadpool(self.responses.agencies)
        return self.render(request, "agencies.html", session, agencies=agencies)

    async def rules(self, request: Request, session: Session, form: FormData | None) -> Response:
        domain.check_operator(session.actor)
        agencies = await run_in_threadpool(self.responses.agencies)
        if form is not None:
            if form.get("action") == "remove":
                await self.rpc("remove_rule", rule_id=str(form.get("rule_id", "")))
                return RedirectResponse("/agency/rules?ok=rule-removed", status_code=303)
            agency_id = str(form.get("agency", ""))
            if agency_id not in agencies:
                raise Refusal(422, "Pilih instansi untuk aturan ini.")
            await self.rpc("add_rule", agency_id=agency_id, agency_name=agencies[agency_id],
                           keywords=_split(form.get("keywords")), kinds=[str(k) for k in form.getlist("kinds")],
                           kelurahan=_split(form.get("kelurahan")))
            return RedirectResponse("/agency/rules?ok=rule-saved", status_code=303)
        q = request.query_params
        test = None
        if q.get("text"):
            test = await self.rpc("test_rules", text=q["text"], kind=q.get("kind") or "keluhan",
                                  kelurahan=q.get("kelurahan", ""))
        rules = await self.rpc("list_rules")
        return self.render(request, "rules.html", session, rules=rules, agencies=agencies, test=test, q=q,
                           kinds=reference.load().kinds)

    async def posts(self, request: Request, session: Session, form: FormData | None) -> Response:
        """Posts from social media that wait for an operator to say their kind or kelurahan (intake owns them)."""
        domain.check_operator(session.actor)
        ref = reference.load()
        if form is not None:
            kind, kelurahan = str(form.get("kind", "")), str(form.get("kelurahan", ""))
            if kind not in ref.kinds:
                raise Refusal(422, "Pilih jenis aduan.")
            if kelurahan not in ref.kelurahan:
                raise Refusal(422, "Pilih kelurahan lokasi aduan.")
            answer = await self.rpc("complete_post", service="intake", post_id=str(form.get("post_id", "")),
                                    kind=kind, kelurahan=kelurahan)
            code = answer["ok"]
            return RedirectResponse(f"/agency/posts?ok=post-submitted&kode={quote(code)}", status_code=303)
        waiting = await self.rpc("waiting_posts", service="intake", limit=100)
        return self.render(request, "posts.html", session, posts=waiting, kinds=ref.kinds,
                           kecamatan=ref.kecamatan, submitted=request.query_params.get("kode"))

    # --- the routes -------------------------------------------------------------------

    def routes(self) -> list[Any]:
        async def home(request: Request) -> Response:
            return RedirectResponse("/agency/inbox", status_code=303)

        page = self.page
        return [
            Route("/agency", home),
            Route("/agency/login", self.login_page, methods=["GET"]),
            Route("/agency/login", self.login, methods=["POST"]),
            Route("/agency/logout", page(self.logout), methods=["POST"]),
            Route("/agency/inbox", page(self.inbox)),
            Route("/agency/complaints/{code}", page(self.complaint)),
            Route("/agency/complaints/{code}/answer", page(self.answer), methods=["POST"]),
            Route("/agency/complaints/{code}/reroute-request", page(self.reroute_request), methods=["POST"]),
            Route("/agency/complaints/{code}/route", page(self.route), methods=["POST"]),
            Route("/agency/complaints/{code}/reject", page(self.reject), methods=["POST"]),
            Route("/agency/staff", page(self.staff), methods=["GET", "POST"]),
            Route("/agency/agencies", page(self.agencies), methods=["GET", "POST"]),
            Route("/agency/rules", page(self.rules), methods=["GET", "POST"]),
            Route("/agency/posts", page(self.posts), methods=["GET", "POST"]),
            Mount("/agency/static", StaticFiles(directory=str(HERE / "static")), name="agency-static"),
        ]


def _load(schema: Any, form: FormData | None) -> dict[str, Any]:
    try:
        return schema.load({k: v for k, v in (form or {}).items() if k != "csrf_token" and isinstance(v, str)})
    except ValidationError as exc:
        problems = "; ".join(f"{m}" for messages in exc.messages.values() for m in messages)  # type: ignore[union-attr]
        raise Refusal(422, problems) from None


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _session_key(settings: config.Settings) -> bytes:
    import secrets

    from kesah import signing

    return signing.load_or_create_secret(settings.keys_dir / "session.key",
                                         lambda: secrets.token_urlsafe(48).encode("ascii"))
