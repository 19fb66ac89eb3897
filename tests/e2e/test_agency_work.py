"""Agencies' work end to end: the portal's authorization matrix, re-routing, the operator's queue,
deadlines, rules and the reporter's follow-up. Real processes, real broker, real HTTP.

One system serves the whole module (starting one costs seconds); each test makes its own complaints.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import sqlalchemy as sa

from kesah import database
from services.responses import auth, passwords
from services.responses.tables import login_failures

from tests.support import services
from tests.support.fixtures import stores_on_postgres
from tests.support.system import CSRF_RE, PortalUser, System, password_of, wait_until

ROAD = {"title": "Jalan berlubang di Jl. Awang Long", "body": "Aspal jalan berlubang besar di depan pasar."}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    vhost = services.create_vhost()
    databases: list[str] = []
    urls = None
    if stores_on_postgres():
        import uuid

        urls = {}
        for service in ("intake", "routing", "responses", "publicview"):
            name = f"kesah_test_{uuid.uuid4().hex[:10]}"
            services.create_pg_database(name)
            databases.append(name)
            urls[service] = services.pg_url(name)
    # 127.0.0.1 (the test) is a trusted proxy: its X-Forwarded-For names the client, so one test acts from many addresses.
    system = System(Path(tmp_path_factory.mktemp("work")), vhost, urls,
                    extra_env={"KESAH_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        for username, role, agency in (("ops", "operator", None), ("budi", "staff", "pupr"),
                                       ("ani", "admin", "pupr"), ("dewi", "staff", "dlh")):
            system.account(username, role, agency)
        system.start()
        yield system
    finally:
        system.close()
        services.delete_vhost(vhost)
        for name in databases:
            services.drop_pg_database(name)


@pytest.fixture(scope="module")
def people(work: System) -> Iterator[dict[str, PortalUser]]:
    logged_in = {name: work.portal(name) for name in ("ops", "budi", "ani", "dewi")}
    yield logged_in
    for user in logged_in.values():
        user.close()


def anonymous(system: System) -> PortalUser:
    import httpx

    return PortalUser(httpx.Client(base_url=str(system.http.base_url), timeout=30))


def to_login(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 303 and response.headers["location"].startswith("/agency/login")


def test_reading_a_case_file_belongs_to_its_agency_and_operators(work: System, people: dict[str, PortalUser]) -> None:
    code = work.submit(**ROAD, visibility="confidential")["tracking_code"]
    work.assigned(code, "pupr")
    page = people["budi"].get(f"/agency/complaints/{code}")
    assert page.status_code == 200 and "Aspal jalan berlubang" in page.text  # confidential, but theirs
    assert "Rahasia" in page.text
    assert people["ops"].get(f"/agency/complaints/{code}").status_code == 200
    other = people["dewi"].get(f"/agency/complaints/{code}")
    assert other.status_code == 403 and "Aspal jalan" not in other.text
    assert to_login(anonymous(work).get(f"/agency/complaints/{code}"))
    # The inbox: one's own agency only; another agency's queue is refused.
    assert code in people["budi"].get("/agency/inbox").text
    assert code not in people["dewi"].get("/agency/inbox").text
    assert people["budi"].get("/agency/inbox?agency=dlh").status_code == 403
    assert people["budi"].get("/agency/inbox?queue=routing").status_code == 403
    assert to_login(anonymous(work).get("/agency/inbox"))


def test_answering_belongs_to_the_agency_the_complaint_is_routed_to(work: System, people: dict[str, PortalUser]) -> None:
    code = work.submit(**ROAD)["tracking_code"]
    work.assigned(code, "pupr")
    path = f"/agency/complaints/{code}/answer"
    answer = {"body": "Tim kami menambal lubang besok pagi.", "status": "diproses"}
    assert people["dewi"].post(path, answer).status_code == 403
    assert people["ops"].post(path, answer).status_code == 403  # operators do not answer for agencies
    assert to_login(anonymous(work).post(path, answer, csrf=False))
    no_token = people["budi"].post(path, answer, csrf=False)
    assert no_token.status_code == 403 and "Formulir" in no_token.text
    forged = people["budi"].http.post(path, data={**answer, "csrf_token": people["dewi"].csrf()})
    assert forged.status_code == 403
    assert people["budi"].post(path, {"body": "", "status": "dijawab"}).status_code == 422
    assert work.events("responses", ["ResponsePosted"]) == [] or all(
        e.payload["tracking_code"] != code for e in work.events("responses", ["ResponsePosted"]))
    done = people["budi"].post(path, answer)
    assert done.status_code == 303 and done.headers["location"].endswith("?ok=answered")
    doc = work.wait_public(code, lambda c: c["responses"])
    assert doc["status"] == "diproses" and doc["responses"][0]["body"] == answer["body"]


def test_staff_accounts_are_managed_by_their_agency_admin_or_an_operator(work: System,
                                                                        people: dict[str, PortalUser]) -> None:
    new = {"action": "create", "username": "citra", "name": "Citra", "role": "staff", "password": password_of("citra")}
    assert people["budi"].post("/agency/staff", new).status_code == 403  # staff are not admins
    assert people["budi"].get("/agency/staff").status_code == 403
    assert people["ani"].post("/agency/staff", new, csrf=False).status_code == 403
    assert to_login(anonymous(work).post("/agency/staff", new, csrf=False))
    assert people["ani"].post("/agency/staff", new).status_code == 303
    listing = people["ani"].get("/agency/staff")
    assert "citra" in listing.text and "dewi" not in listing.text
    # An admin of pupr cannot touch dlh's staff; an operator can.
    deactivate = {"action": "deactivate", "username": "dewi"}
    assert people["ani"].post("/agency/staff", deactivate).status_code == 403
    work.portal("citra").close()
    assert people["ops"].post("/agency/staff", {"action": "deactivate", "username": "citra", "agency": "pupr"}).status_code == 303
    assert anonymous(work).login("citra", password_of("citra")).status_code == 401


def test_operator_pages_are_for_operators(work: System, people: dict[str, PortalUser]) -> None:
    for path in ("/agency/agencies", "/agency/rules"):
        assert people["ani"].get(path).status_code == 403
        assert people["ops"].get(path).status_code == 200
        assert to_login(anonymous(work).get(path))
    dispora = {"agency_id": "dispora", "name": "Dinas Pemuda dan Olahraga"}
    assert people["ani"].post("/agency/agencies", dispora).status_code == 403
    assert people["ops"].post("/agency/agencies", dispora, csrf=False).status_code == 403
    assert people["ops"].post("/agency/agencies", dispora).status_code == 303
    assert "Dinas Pemuda dan Olahraga" in people["ops"].get("/agency/agencies").text
    rule = {"agency": "dispora", "keywords": "stadion, gor"}
    assert people["budi"].post("/agency/rules", rule).status_code == 403
    assert people["ops"].post("/agency/rules", rule).status_code == 303
    # Routing refuses a rule in English for the CLI; the operator's page says why in Indonesian.
    unknown_place = people["ops"].post("/agency/rules", {**rule, "kelurahan": "Atlantis"})
    assert unknown_place.status_code == 422 and "Kelurahan tidak dikenal: Atlantis." in unknown_place.text
    no_keywords = people["ops"].post("/agency/rules", {"agency": "dispora", "keywords": " , "})
    assert no_keywords.status_code == 422 and "Aturan memerlukan sedikitnya satu kata kunci." in no_keywords.text
    tested = people["ops"].get("/agency/rules", params={"text": "Atap GOR bocor", "kind": "keluhan"})
    assert "Dinas Pemuda dan Olahraga" in tested.text and "cocok gor" in tested.text
    code = work.submit(title="Atap GOR Bontang bocor", body="Atap GOR bocor saat hujan.")["tracking_code"]
    assert work.wait_public(code, lambda c: c["agency"] is not None)["agency"]["id"] == "dispora"


def test_an_agency_asks_for_rerouting_an_operator_moves_it_and_the_first_agency_loses_access(
        work: System, people: dict[str, PortalUser]) -> None:
    code = work.submit(**ROAD)["tracking_code"]
    work.assigned(code, "pupr")
    request = {"reason": "Ini saluran air, wewenang PDAM.", "suggested_agency": "pdam"}
    path = f"/agency/complaints/{code}/reroute-request"
    assert people["dewi"].post(path, request).status_code == 403
    assert people["budi"].post(path, request, csrf=False).status_code == 403
    assert to_login(anonymous(work).post(path, request, csrf=False))
    assert people["budi"].post(path, request).status_code == 303
    # No other rule fits a road: the request waits in the operator's queue.
    queue = wait_until(lambda: (lambda page: code in page.text and page)(people["ops"].get("/agency/inbox?queue=reroute")),
                       20, "the re-routing request in the operator's queue")
    assert "minta dialihkan" in queue.text
    route = {"agency": "pdam", "reason": "Kebocoran pipa air: wewenang PDAM."}
    assert people["budi"].post(f"/agency/complaints/{code}/route", route).status_code == 403
    assert people["ops"].post(f"/agency/complaints/{code}/route", route).status_code == 303
    doc = work.wait_public(code, lambda c: c["status"] == "dialihkan")
    assert doc["agency"]["id"] == "pdam"
    assert "Dialihkan dari Dinas Pekerjaan Umum dan Penataan Ruang ke Perumda Air Minum" in doc["timeline"][-1]["text"]
    work.assigned(code, "pdam")
    wait_until(lambda: people["budi"].get(f"/agency/complaints/{code}").status_code == 403, 20, "pupr losing access")
    answer = {"body": "Masih kami tangani.", "status": "diproses"}
    assert people["budi"].post(f"/agency/complaints/{code}/answer", answer).status_code == 403
    assert work.answer(code, "pupr").status_code == 403
    assert work.answer(code, "pdam").status_code == 201


def test_rules_reroute_by_themselves_when_another_rule_fits(work: System, people: dict[str, PortalUser]) -> None:
    # "jalan" (pupr) and "sampah" (dlh) tie; the earlier rule, pupr's, wins first.
    code = work.submit(title="Sampah di pinggir jalan", body="Sampah menumpuk di pinggir jalan.")["tracking_code"]
    work.assigned(code, "pupr")
    assert people["budi"].post(f"/agency/complaints/{code}/reroute-request",
                               {"reason": "Sampah adalah urusan DLH."}).status_code == 303
    doc = work.wait_public(code, lambda c: c["status"] == "dialihkan")
    assert doc["agency"]["id"] == "dlh" and "Sampah adalah urusan DLH." in doc["timeline"][-1]["text"]


def test_unmatched_complaints_wait_for_the_operator_who_routes_or_rejects_them(
        work: System, people: dict[str, PortalUser]) -> None:
    thanks = work.submit(title="Terima kasih", body="Pelayanan di kantor lurah ramah sekali.")["tracking_code"]
    spam = work.submit(title="Promo pulsa murah", body="Hubungi kami untuk pulsa murah.")["tracking_code"]
    for code in (thanks, spam):
        doc = work.wait_public(code, lambda c: c["awaiting_routing"])
        assert doc["status"] == "diterima" and doc["agency"] is None
    queue = wait_until(lambda: (lambda p: thanks in p.text and spam in p.text and p)(
        people["ops"].get("/agency/inbox?queue=routing")), 20, "both in the routing queue")
    assert queue.status_code == 200
    assert people["ops"].post(f"/agency/complaints/{thanks}/route",
                              {"agency": "dinsos", "reason": "Pujian untuk pelayanan kelurahan."}).status_code == 303
    assert work.wait_public(thanks, lambda c: c["status"] == "diteruskan")["agency"]["id"] == "dinsos"
    assert people["budi"].post(f"/agency/complaints/{spam}/reject", {"reason": "Iklan."}).status_code == 403
    assert people["ops"].post(f"/agency/complaints/{spam}/reject", {"reason": "Iklan, bukan aduan."}).status_code == 303
    doc = work.wait_public(spam, lambda c: c["status"] == "ditolak")
    assert doc["rejection_reason"].startswith("Iklan, bukan aduan.") and "pulsa" not in str(doc)


def test_a_complaint_past_its_due_date_is_flagged_overdue_until_answered(work: System,
                                                                         people: dict[str, PortalUser]) -> None:
    code = work.submit(**ROAD)["tracking_code"]
    doc = work.routed(code)
    due = dt.date.fromisoformat(doc["due_date"])
    status, output = work.kesah("deadlines", "check", "--today", due.isoformat())
    assert status == 0 and code not in output
    status, output = work.kesah("deadlines", "check", "--today", (due + dt.timedelta(days=1)).isoformat())
    assert status == 0 and code in output, output
    assert work.wait_public(code, lambda c: c["overdue"])["status"] == "diteruskan"
    inbox = wait_until(lambda: (lambda p: f'class="terlambat"' in p.text and code in p.text and p)(
        people["budi"].get("/agency/inbox?overdue=1")), 20, "the overdue complaint highlighted in the inbox")
    assert "Terlambat" in inbox.text
    assert code in people["ops"].get("/agency/inbox?overdue=1").text
    assert work.answer(code, "pupr", "Sudah kami tambal, maaf terlambat.").status_code == 201
    assert work.wait_public(code, lambda c: c["status"] == "dijawab")["overdue"] is False


def test_the_reporter_confirms_or_reopens_once_with_the_secret(work: System) -> None:
    accepted = work.submit(**ROAD)
    code, secret = accepted["tracking_code"], accepted["secret"]
    work.routed(code)
    assert f'href="/pelapor/{code}"' in work.http.get(f"/aduan/{code}").text  # the way to the form

    def follow(action: str, secret: str = secret, comment: str = "") -> int:
        return work.http.post(f"/api/intake/complaints/{code}/follow-up",
                              json={"secret": secret, "action": action, "comment": comment}).status_code

    assert follow("selesai") == 409  # nothing answered yet
    assert work.answer(code, "pupr", "Lubang sudah kami tambal.").status_code == 201
    assert follow("selesai", secret="salah") == 403
    wait_until(lambda: follow("buka", comment="Lubangnya muncul lagi setelah hujan.") == 201, 20,
               "intake to learn of the answer")
    doc = work.wait_public(code, lambda c: "Batas waktu jawaban baru" in c["timeline"][-1]["text"])
    assert doc["status"] == "diproses" and doc["reopened"]
    assert "Lubangnya muncul lagi" in doc["timeline"][-2]["text"]
    assert follow("buka", comment="Sekali lagi.") == 409  # once only
    assert work.answer(code, "pupr", "Sudah kami perbaiki permanen.").status_code == 201
    form = wait_until(lambda: (lambda r: r.status_code == 200 and "selesai" in r.text and r)(
        work.http.post(f"/pelapor/{code}", data={"secret": secret, "action": "selesai", "comment": "Terima kasih."})),
        20, "the reporter's form to accept the confirmation")
    assert "Aduan dinyatakan selesai" in form.text
    assert work.wait_public(code, lambda c: c["status"] == "selesai")["timeline"][-1]["text"].endswith("Terima kasih.")


def attempt(system: System, username: str, password: str, address: str) -> httpx.Response:
    """One login from ``address`` (a fresh visitor: the login page, then the form)."""
    visitor = anonymous(system)
    try:
        return visitor.login(username, password, headers={"x-forwarded-for": address})
    finally:
        visitor.close()


def failures(system: System, username: str, address: str) -> int | None:
    """The failures in a row responses counts for (username, address); None when it counts none."""
    engine = database.create_engine(system.settings.database_url("responses"))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(login_failures.c.failures).where(
                login_failures.c.username_key == auth.username_key(username),
                login_failures.c.client == address)).scalar()
    finally:
        engine.dispose()


def end_lock(system: System, username: str, address: str) -> None:
    """As if the lock's minute had passed (the test does not wait for it)."""
    engine = database.create_engine(system.settings.database_url("responses"))
    try:
        with database.writing(engine) as conn:
            conn.execute(login_failures.update().where(
                login_failures.c.username_key == auth.username_key(username), login_failures.c.client == address,
            ).values(locked_until="2026-01-01T00:00:00.000000Z"))
    finally:
        engine.dispose()


WRONG = "Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal. Periksa lalu coba lagi."
LOCKED = "Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal. Coba lagi dalam {} menit."


def test_an_attacker_elsewhere_never_locks_the_real_user_out_and_meets_a_doubling_backoff(work: System) -> None:
    password = work.account("eko", "staff", "dlh")
    attacker, office = "203.0.113.66", "198.51.100.7"
    answers = [attempt(work, "eko", f"tebakan-ke-{n}-salah", attacker) for n in range(20)]
    assert {a.status_code for a in answers} == {401}
    assert [WRONG in a.text for a in answers] == [True] * 4 + [False] * 16
    assert all(LOCKED.format(1) in a.text for a in answers[4:])
    assert failures(work, "eko", attacker) == 5  # tries refused while locked are not even looked at
    # The lock holds at the attacker's address even for the right password ...
    assert LOCKED.format(1) in attempt(work, "eko", password, attacker).text
    # ... while the real user, elsewhere, logs in, and that does not unlock the attacker.
    assert failures(work, "eko", office) is None
    assert WRONG in attempt(work, "eko", "salah-ketik-sekali", office).text
    user = anonymous(work)
    assert user.login("eko", password, headers={"x-forwarded-for": office}).status_code == 303
    assert user.get("/agency/inbox").status_code == 200
    assert failures(work, "eko", office) is None  # a success ends its count
    assert "portal login of account eko from 198.51.100.7 after 1 failed attempts in a row" in work.logs("web")
    assert LOCKED.format(1) in attempt(work, "eko", password, attacker).text
    # After the minute, the next failure locks for two, the one after for four.
    end_lock(work, "eko", attacker)
    assert LOCKED.format(2) in attempt(work, "eko", "tebakan-lagi-salah", attacker).text
    end_lock(work, "eko", attacker)
    assert LOCKED.format(4) in attempt(work, "eko", "tebakan-lagi-salah", attacker).text
    assert failures(work, "eko", attacker) == 7
    assert "portal logins locked for account eko from 203.0.113.66" in work.logs("web")
    ops = work.portal("ops")
    assert "eko</td>" in ops.get("/agency/staff?agency=dlh").text
    assert "masuk dikunci sementara dari alamat yang berulang kali gagal" in ops.get("/agency/staff?agency=dlh").text
    # A new password from an admin ends the locks.
    reset = {"action": "password", "username": "eko", "agency": "dlh", "password": "Sapu-jalan-dekat-pasar-7"}
    assert ops.post("/agency/staff", reset).status_code == 303
    assert failures(work, "eko", attacker) is None
    assert "masuk dikunci" not in ops.get("/agency/staff?agency=dlh").text
    assert attempt(work, "eko", "Sapu-jalan-dekat-pasar-7", attacker).status_code == 303
    assert to_login(user.get("/agency/inbox"))  # the reset ended the session too
    user.close()
    ops.close()


def test_the_answer_never_tells_whether_a_username_exists(work: System,
                                                          people: dict[str, PortalUser]) -> None:
    work.account("fajar", "staff", "dlh")
    assert people["ops"].post("/agency/staff", {"action": "deactivate", "username": "fajar",
                                                "agency": "dlh"}).status_code == 303

    def seen(response: httpx.Response, username: str) -> tuple[int, str]:
        """What a visitor sees, but the form's CSRF token and the username typed (shown back in the form)."""
        return response.status_code, CSRF_RE.sub("TOKEN", response.text).replace(username, "USERNAME")

    address = "203.0.113.90"
    for n in range(1, 7):  # wrong password, unknown user; five failures lock both alike
        real, ghost = attempt(work, "dewi", "bukan-sandinya-1", address), attempt(work, "hantu", "bukan-sandinya-1", address)
        assert seen(real, "dewi") == seen(ghost, "hantu"), n
        assert real.text.count("Coba lagi dalam 1 menit") == (1 if n >= 5 else 0)
        assert sorted(real.headers.keys()) == sorted(ghost.headers.keys())
    # A deactivated account with its right password: the same as a wrong one, no word of "inactive".
    inactive = attempt(work, "fajar", password_of("fajar"), "203.0.113.91")
    unknown = attempt(work, "ghost", password_of("fajar"), "203.0.113.91")
    assert seen(inactive, "fajar") == seen(unknown, "ghost") and WRONG in inactive.text
    assert failures(work, "hantu", address) == failures(work, "dewi", address) == 5
    # The log names the accounts (for the operator), never what was typed for an unknown one.
    assert "locked for account dewi from 203.0.113.90" in work.logs("web") and "hantu" not in work.logs("web")


def test_one_address_trying_many_usernames_is_slowed_down_without_touching_other_addresses(work: System) -> None:
    password = work.account("gita", "staff", "pupr")
    sprayer = "203.0.113.120"
    answers = [attempt(work, f"petugas{n}", "Bontang-Juara-2026", sprayer) for n in range(auth.ADDRESS_BACKOFF.free)]
    assert all(WRONG in a.text for a in answers[:-1]) and LOCKED.format(1) in answers[-1].text
    assert LOCKED.format(1) in attempt(work, "gita", password, sprayer).text
    assert attempt(work, "gita", password, "198.51.100.8").status_code == 303
    assert "portal logins locked for every username from 203.0.113.120" in work.logs("web")
    # An office behind that address, once the operator knows it was them: unlock the address.
    status, output = work.kesah("account", "unlock", "--address", sprayer)
    assert status == 0 and output.startswith(f"forgot {auth.ADDRESS_BACKOFF.free + 1} failed-login record(s)"), output
    assert attempt(work, "gita", password, sprayer).status_code == 303
    assert work.kesah("account", "unlock")[0] == 2


def test_common_or_derived_passwords_are_refused_by_the_command_line_and_the_portal(
        work: System, people: dict[str, PortalUser]) -> None:
    def add(username: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kesah", "account", "add", username, "--role", "staff",
                               "--agency", "dlh", "--password-stdin"], input=password + "\n", env=work.env,
                              capture_output=True, text=True, timeout=60)

    common = add("hadi", "password123")
    assert common.returncode == 2 and common.stdout == ""
    assert common.stderr == ("kesah: account not created: the password is too common or too easy to guess "
                             "(a common password, a run of keys or a repetition).\n")
    derived = add("hadi", "Bontang2026!")
    assert derived.returncode == 2 and "built from the username, the name, the agency" in derived.stderr
    assert add("hadi", "Tong-sampah-penuh-lagi").returncode == 0
    generated = subprocess.run([sys.executable, "-m", "kesah", "account", "add", "indah", "--role", "staff",
                                "--agency", "dlh"], env=work.env, capture_output=True, text=True, timeout=60)
    assert generated.returncode == 0, generated.stderr
    assert attempt(work, "indah", generated.stdout.rsplit("password: ", 1)[1].strip(), "127.0.0.9").status_code == 303
    # The first operator's generated password (make up, devserver.prepare) works and passes the rule.
    first = (work.data_dir / "operator-password").read_text().strip()
    assert passwords.problem(first, "operator", "Operator Diskominfo") is None
    assert attempt(work, "operator", first, "127.0.0.9").status_code == 303
    # The portal: an admin creating staff, and a new password, in Indonesian on the page.
    made = people["ani"].post("/agency/staff", {"action": "create", "username": "joko", "name": "Joko",
                                                "role": "staff", "password": "qwertyuiop123"})
    assert made.status_code == 422 and "Kata sandi ini terlalu umum" in made.text
    made = people["ani"].post("/agency/staff", {"action": "create", "username": "joko", "name": "Joko",
                                                "role": "staff", "password": "joko-pupr-2026"})
    assert made.status_code == 422 and "tidak boleh dibentuk dari nama pengguna" in made.text
    assert "joko" not in people["ani"].get("/agency/staff").text
    renewed = people["ani"].post("/agency/staff", {"action": "password", "username": "budi", "password": "iloveyou2026"})
    assert renewed.status_code == 422 and "terlalu umum" in renewed.text
    assert people["budi"].get("/agency/inbox").status_code == 200  # nothing changed: budi's session lives on


def test_logout_ends_the_session(work: System) -> None:
    user = work.portal("dewi")
    assert user.get("/agency/inbox").status_code == 200
    assert user.post("/agency/logout", {}).status_code == 303
    assert to_login(user.get("/agency/inbox"))
    assert anonymous(work).http.post("/agency/login", data={"username": "dewi", "password": "x" * 12}).status_code == 403


def test_rules_from_the_command_line_change_where_complaints_go(work: System) -> None:
    status, output = work.kesah("rules", "add", "--agency", "dlh", "--keywords", "kucing liar", "--id", "dlh-kucing")
    assert status == 0, output
    status, output = work.kesah("rules", "test", "Banyak kucing liar di pasar")
    assert "-> dlh" in output and "dlh-kucing: matched kucing liar" in output
    code = work.submit(title="Kucing liar", body="Banyak kucing liar di pasar malam.")["tracking_code"]
    doc = work.routed(code)
    assert doc["agency"]["id"] == "dlh"
    assert "dlh-kucing" in work.kesah("rules", "list")[1]
    assert work.kesah("rules", "remove", "dlh-kucing")[0] == 0
    assert work.kesah("rules", "remove", "dlh-kucing")[0] == 2
    assert [e.type for e in work.events("routing", ["RoutingRuleAdded", "RoutingRuleRemoved"])][-2:] == [
        "RoutingRuleAdded", "RoutingRuleRemoved"]
