"""A reporter's contact data appears nowhere public, travels in no event, and can be erased for good.

Complaints go in with known contact data through every way in (JSON API,
the form with a photo whose EXIF names the reporter and where the photo was
taken, Open311); then every public page, API answer and export, every event
on the bus (a queue of our own bound to every events exchange) and every
event in every store is searched for it. Then ``kesah erase`` destroys one
complaint's key, and a full replay into a new database still shows the
complaint, without contact data, while intake cannot decrypt it any more.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pika
import sqlalchemy as sa
from PIL import Image

from kesah import broker, config, database, schema, stores
from services.intake.store import Intake, contacts
from services.publicview.store import PublicView
from tests.support import services
from tests.support.photos import jpeg_with_gps
from tests.support.system import DEFAULT_COMPLAINT, System, wait_until

NAME = "Sitti Nurhaliza Qz"
PHONE = "0812-6543-2109"
EMAIL = "sitti.nurhaliza.qz@example.org"
NEEDLES = (NAME, "Nurhaliza", PHONE, "081265432109", "6543-2109", EMAIL, "nurhaliza.qz", "KameraMerek")
PROBE = "privacy-probe"


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [n for n in NEEDLES if n.casefold() in text.casefold()]


def kesah(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kesah", *args], env=system.env, capture_output=True, text=True,
                          timeout=120)


def bind_probe(system: System) -> None:
    """Our own queue on every events exchange, declared before anything is published."""
    connection = pika.BlockingConnection(pika.URLParameters(services.amqp_uri(system.vhost)))
    try:
        channel = connection.channel()
        broker.declare_topology(channel, system.settings.delivery_limit)
        channel.queue_declare(PROBE, durable=True)
        for owner in config.OWNERS:
            channel.queue_bind(PROBE, broker.events_exchange(owner), "#")
    finally:
        connection.close()


def drain_probe(system: System) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(services.amqp_uri(system.vhost)))
    bodies = []
    try:
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(PROBE, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


def all_events(system: System) -> list[Any]:
    return [e for owner in config.OWNERS for e in system.events(owner)]


def live_view(system: System) -> PublicView:
    return PublicView(database.create_engine(system.settings.database_url("publicview")), stores.keyring(system.settings))


def everything_journaled(system: System, view: PublicView) -> Callable[[], bool]:
    return lambda: view.journal_size() == len(all_events(system))


def submit_everywhere(system: System, tmp_path: Path) -> dict[str, str]:
    """One complaint with the reporter's contact through each way in; returns tracking codes by way."""
    codes = {"api": system.submit(reporter={"name": NAME, "phone": PHONE, "email": EMAIL})["tracking_code"]}

    photo = jpeg_with_gps(NAME)
    form = {**DEFAULT_COMPLAINT, "title": "Jalan amblas dekat jembatan", "visibility": "public",
            "name": NAME, "phone": PHONE, "email": EMAIL}
    page = system.http.post("/lapor", data=form, files={"photo": ("IMG_20261125.jpg", photo, "image/jpeg")})
    assert page.status_code == 201, page.text
    codes["form"] = re.search(r'id="kode-aduan">([A-Z0-9-]{9})<', page.text).group(1)

    key = kesah(system, "open311", "key", "uji-privasi").stdout.strip()
    posted = system.http.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "keluhan", "address_string": "Jl. Letjen S. Parman",
        "description": "Lampu jalan mati sepanjang Jl. Letjen S. Parman sejak minggu lalu.",
        "attribute[kelurahan]": "Belimbing", "first_name": "Sitti", "last_name": "Nurhaliza Qz",
        "phone": PHONE, "email": EMAIL, "device_id": "ponsel-sitti"})
    assert posted.status_code == 201, posted.text
    codes["open311"] = posted.json()[0]["service_request_id"]

    codes["confidential"] = system.submit(visibility="confidential", title="Pungli di loket pelayanan",
                                          reporter={"name": NAME, "phone": PHONE})["tracking_code"]
    codes["anonymous"] = system.submit(visibility="anonymous")["tracking_code"]
    refused = system.http.post("/api/complaints", json={**DEFAULT_COMPLAINT, "visibility": "anonymous", "name": NAME})
    assert refused.status_code == 422  # anonymous keeps no contact, so it takes none
    return codes


def public_surfaces(system: System, codes: dict[str, str], photo_urls: list[str]) -> dict[str, bytes]:
    """Every public page, API answer and export, by path."""
    paths = ["/", "/aduan", "/statistik", "/status",
             "/api/status", "/data", "/data/aduan.csv", "/data/aduan.json", "/data/peristiwa.csv",
             "/data/peristiwa.json", "/data/kunci-publik.json", "/lacak", "/lapor",
             "/open311/v2/discovery.xml", "/open311/v2/services.json", "/open311/v2/services/keluhan.xml",
             "/open311/v2/requests.json", "/open311/v2/requests.xml"]
    for code in codes.values():
        paths += [f"/aduan/{code}", f"/api/complaints/{code}", f"/lacak?kode={code}",
                  f"/open311/v2/requests/{code}.json", f"/open311/v2/requests/{code}.xml"]
    found = {path: system.http.get(path, follow_redirects=True).content for path in paths}
    for url in photo_urls:
        found[url] = system.http.get(url).content
    for term in ("Nurhaliza", "sitti.nurhaliza", "6543"):  # searching for the reporter finds nothing
        page = system.http.get("/aduan", params={"q": term}).text
        assert "0 aduan ditemukan" in page, term
        found[f"/aduan?q={term}"] = page.replace(f'value="{term}"', "").encode()  # the search box shows what was typed
    return found


def test_contact_data_is_nowhere_public_and_erasure_is_for_good(make_system: Callable[..., System],
                                                                  tmp_path: Path) -> None:
    system = make_system()
    bind_probe(system)
    system.start()
    codes = submit_everywhere(system, tmp_path)
    for way in ("api", "form", "open311"):
        system.routed(codes[way])
    assert system.answer(codes["api"], "pupr", "Tim kami sudah memeriksa lokasi.").status_code == 201
    view = live_view(system)
    wait_until(everything_journaled(system, view), 30, "every event in publicview's journal")

    # The form's photo is public, and only its picture is: no EXIF, no GPS, no name.
    form_doc = system.public(codes["form"])
    assert form_doc["photo"] and system.public(codes["api"])["photo"] is None
    photo = system.http.get(form_doc["photo"]["url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(photo.content))
    assert dict(image.getexif()) == {} and "exif" not in image.info and "comment" not in image.info
    assert b"Exif" not in photo.content

    # Every public page, API answer and export.
    surfaces = public_surfaces(system, codes, [form_doc["photo"]["url"]])
    assert {path: leaks(body) for path, body in surfaces.items() if leaks(body)} == {}
    assert "Pungli" not in surfaces["/data/peristiwa.json"].decode()  # confidential content is not published

    # Every event on the bus, every event in every owner's log and in the journal.
    on_bus = drain_probe(system)
    assert len(on_bus) == len(all_events(system))
    assert [leaks(body) for body in on_bus if leaks(body)] == []
    assert [e.event_id for e in all_events(system) if leaks(json.dumps(e.to_message()))] == []
    assert leaks("\n".join(view.dump())) == []

    # At rest, intake holds the contact data only encrypted: no table of its database shows it.
    intake = Intake.open(system.settings)
    with intake.store.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).all()
            assert leaks(repr(rows)) == [], table

    # Erasure: the key goes; the data cannot be read again, not even from a backup of intake's database.
    code = codes["api"]
    complaint_id = intake.find(code)
    assert intake.contact(complaint_id) == {"name": NAME, "phone": PHONE, "email": EMAIL}
    assert intake.contact(intake.find(codes["open311"])) == {"name": NAME, "phone": PHONE, "email": EMAIL}
    with intake.store.engine.connect() as conn:
        backup = conn.execute(sa.select(contacts.c.ciphertext).where(contacts.c.complaint_id == complaint_id)).scalar()
    erased = kesah(system, "erase", code.lower().replace("-", " "))
    assert erased.returncode == 0, erased.stderr
    assert f"{code}: contact data erased" in erased.stdout and "ContactErased" in erased.stdout
    assert intake.contact(complaint_id) is None
    assert intake.vault.open(complaint_id, backup) is None
    assert intake.contact(intake.find(codes["form"])) == {"name": NAME, "phone": PHONE, "email": EMAIL}  # others stay
    again = kesah(system, "erase", code)
    assert again.returncode == 0 and "nothing to erase" in again.stdout
    unknown = kesah(system, "erase", "ACDE-FHJK")
    assert unknown.returncode == 2 and "no complaint with tracking code ACDE-FHJK" in unknown.stderr
    nonsense = kesah(system, "erase", "bukan kode")
    assert nonsense.returncode == 2 and "is not a tracking code" in nonsense.stderr
    (recorded,) = system.events("intake", ["ContactErased"])
    assert recorded.payload == {"complaint_id": complaint_id, "tracking_code": code}
    wait_until(everything_journaled(system, view), 30, "the erasure in publicview's journal")
    assert [leaks(body) for body in drain_probe(system) if leaks(body)] == []

    # A full replay from the owners' logs, in another order, into a new database: the same
    # projection, the erased complaint still there, and no contact data in it.
    rebuilt_engine = database.create_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    schema.upgrade(rebuilt_engine, schema.DATABASES["publicview"])
    rebuilt = PublicView(rebuilt_engine, stores.keyring(system.settings))
    for event in reversed(all_events(system)):
        assert rebuilt.receive(event)
    assert list(rebuilt.dump()) == list(view.dump())
    doc = rebuilt.complaint(code)
    assert doc["title"] == DEFAULT_COMPLAINT["title"] and doc["responses"][0]["body"] == "Tim kami sudah memeriksa lokasi."
    assert leaks("\n".join(rebuilt.dump())) == []
    assert intake.contact(complaint_id) is None
    assert system.http.get(f"/aduan/{code}").status_code == 200
    for engine in (rebuilt_engine, view.engine, intake.store.engine, intake.vault.engine):
        engine.dispose()
