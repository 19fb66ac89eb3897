"""Open311 GeoReport v2 at /open311/v2/: the five kinds as services, complaints as requests.

Follows http://wiki.open311.org/GeoReport_v2 and /Service_Discovery field by
field, in XML (required by the spec) and JSON (the Spark convention: a list
element becomes an array). Mapping decisions:

- service_code is the kind (``keluhan``, ...); every service has metadata
  (attribute ``kelurahan`` is required to route a complaint; ``visibility``
  and ``title`` are optional), so ``services/{code}`` answers the definition.
- service_request_id is the tracking code; status is ``closed`` once a
  complaint is ``selesai`` or ``ditolak``, otherwise ``open``.
- Confidential complaints are never listed; asking for one answers 404.
- POST goes to intake (only intake accepts complaints); this face forwards
  the form to intake's API and renders intake's answer in the asked format.
- lat/long, address_id, zipcode: the city keeps no coordinates or address
  ids for complaints, so they are returned empty; a request posted with only
  lat/long keeps them as its location text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable, Mapping

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kesah import http, reference
from kesah.pages import WITA

from . import listing
from .statistics import CLOSED
from .store import PublicView

log = logging.getLogger("kesah.publicview.open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
JURISDICTION = "bontangkota.go.id"
CHANGESET = "2026-11-25T00:00:00Z"  # when the service list or definitions last changed
FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
MAX_REQUESTS = 1000
DEFAULT_SPAN = dt.timedelta(days=90)

SERVICE_DESCRIPTIONS = {
    "informasi": "Menyampaikan informasi kepada Pemerintah Kota Bontang.",
    "keluhan": "Mengadukan masalah layanan atau fasilitas umum, misalnya jalan rusak atau sampah.",
    "pertanyaan": "Bertanya tentang layanan Pemerintah Kota Bontang.",
    "kritik": "Menyampaikan kritik atas layanan Pemerintah Kota Bontang.",
    "saran": "Menyampaikan saran untuk perbaikan layanan Pemerintah Kota Bontang.",
}
SERVICE_KEYWORDS = {
    "informasi": "informasi, kabar, pemberitahuan",
    "keluhan": "keluhan, aduan, pengaduan, laporan, masalah",
    "pertanyaan": "pertanyaan, tanya, bertanya",
    "kritik": "kritik, masukan",
    "saran": "saran, usulan, masukan",
}
VISIBILITY_NAMES = {"public": "Publik (nama tidak ditampilkan)", "anonymous": "Anonim (tanpa data pelapor)",
                    "confidential": "Rahasia (tidak ditampilkan untuk umum)"}

# XML element names of list items (the Spark convention maps them to arrays in JSON).
ITEMS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
         "endpoints": "endpoint", "formats": "format", "errors": "error"}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# --- what the resources say (pure) -------------------------------------------------


def services() -> list[dict[str, Any]]:
    return [
        {"service_code": code, "service_name": name, "description": SERVICE_DESCRIPTIONS[code],
         "metadata": True, "type": "realtime", "keywords": SERVICE_KEYWORDS[code], "group": "aduan"}
        for code, name in reference.load().kinds.items()
    ]


def service_definition(code: str) -> dict[str, Any]:
    if code not in reference.load().kinds:
        raise Open311Error(404, f"service_code '{code}' tidak dikenal.")
    kelurahan = reference.load().kelurahan
    return {
        "service_code": code,
        "attributes": [
            {"variable": True, "code": "kelurahan", "datatype": "singlevaluelist", "required": True,
             "datatype_description": "Pilih satu kelurahan di Kota Bontang.", "order": 1,
             "description": "Kelurahan lokasi aduan.",
             "values": [{"key": name, "name": f"{name} (Kec. {kecamatan})"} for name, kecamatan in kelurahan.items()]},
            {"variable": True, "code": "visibility", "datatype": "singlevaluelist", "required": False,
             "datatype_description": "Bawaan: public.", "order": 2,
             "description": "Siapa yang boleh membaca aduan ini.",
             "values": [{"key": key, "name": name} for key, name in VISIBILITY_NAMES.items()]},
            {"variable": True, "code": "title", "datatype": "string", "required": False,
             "datatype_description": "5 sampai 200 karakter.", "order": 3,
             "description": "Judul singkat; bila kosong, diambil dari awal deskripsi."},
        ],
    }


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "Diskominfo Kota Bontang, melalui halaman Kesah Etam: " + base_url,
        "key_service": "api_key untuk mengirim aduan diberikan oleh operator Diskominfo Kota Bontang "
                       "(perintah: kesah open311 key NAMA-APLIKASI).",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": base_url.rstrip("/") + "/open311/v2",
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }


def w3(iso: str | None) -> str | None:
    """A log timestamp in the w3 subset of ISO 8601 the spec asks for (UTC, seconds)."""
    if not iso:
        return None
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_or_closed(status: str | None) -> str:
    return "closed" if status in CLOSED else "open"


def service_request(doc: dict[str, Any], base_url: str, status_labels: Mapping[str, str]) -> dict[str, Any]:
    """One public complaint as an Open311 request, fields in the spec's order."""
    agency = doc.get("agency") or {}
    due = doc.get("due_date")
    timeline = doc.get("timeline") or []
    label = status_labels.get(doc.get("status") or "", doc.get("status") or "")
    notes = f"{label}: {timeline[-1]['text']}" if timeline else label
    photo = doc.get("photo") or {}
    address = ", ".join(p for p in (doc.get("address"), f"Kel. {doc['kelurahan']}", f"Kec. {doc['kecamatan']}",
                                     reference.load().city) if p)
    expected = None
    if due:
        expected = dt.datetime.combine(dt.date.fromisoformat(due), dt.time(23, 59, 59), WITA).isoformat()
    return {
        "service_request_id": doc["tracking_code"],
        "status": open_or_closed(doc.get("status")),
        "status_notes": notes or None,
        "service_name": reference.load().kinds.get(doc["kind"], doc["kind"]),
        "service_code": doc["kind"],
        "description": doc["body"],
        "agency_responsible": agency.get("name"),
        "service_notice": f"Batas waktu jawaban instansi: {due}." if due else None,
        "requested_datetime": w3(doc["submitted_at"]),
        "updated_datetime": w3(doc["updated_at"]),
        "expected_datetime": expected,
        "address": address,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": base_url.rstrip("/") + photo["url"] if photo.get("url") else None,
    }


def _moment(value: str, name: str, end_of_day: bool = False) -> dt.datetime:
    """A w3 datetime (with zone) or a date: its first (or last) moment in Bontang."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if end_of_day else 0)
            return dt.datetime.combine(day, dt.time(), WITA) - dt.timedelta(microseconds=1 if end_of_day else 0)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} harus berformat w3, misalnya 2026-11-01T00:00:00Z.") from None
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name} harus menyertakan zona waktu (Z atau +08:00).")
    return moment


def _listed(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def requests_query(params: Mapping[str, str], now: dt.datetime) -> listing.Query:
    """GET requests' arguments as a Query: at most 90 days, the latest 90 when no dates."""
    codes = _listed(params.get("service_request_id"))
    if codes:  # overrides every other argument
        return listing.Query(codes=tuple(c.upper() for c in codes))
    kinds = _listed(params.get("service_code"))
    unknown = [k for k in kinds if k not in reference.load().kinds]
    if unknown:
        raise Open311Error(400, f"service_code tidak dikenal: {', '.join(unknown)}.")
    wanted = set(_listed(params.get("status")))
    if wanted - {"open", "closed"}:
        raise Open311Error(400, "status harus open atau closed (boleh keduanya, dipisah koma).")
    start = _moment(params["start_date"], "start_date") if params.get("start_date") else None
    end = _moment(params["end_date"], "end_date", end_of_day=True) if params.get("end_date") else None
    if start is None and end is None:
        end = now
    if start is None:
        start = end - DEFAULT_SPAN  # type: ignore[operator]
    if end is None:
        end = start + DEFAULT_SPAN
    if end < start:
        raise Open311Error(400, "end_date harus setelah start_date.")
    if end - start > DEFAULT_SPAN:
        raise Open311Error(400, "Rentang start_date sampai end_date paling lama 90 hari.")
    query: dict[str, Any] = {
        "kinds": tuple(kinds),
        "submitted_from": listing.utc_iso(start),
        "submitted_before": listing.utc_iso(end + dt.timedelta(microseconds=1)),
    }
    if wanted == {"closed"}:
        query["statuses"] = tuple(sorted(CLOSED))
    elif wanted == {"open"}:
        query["statuses_not"] = tuple(sorted(CLOSED))
    return listing.Query(**query)


# --- the two wire formats (pure) -------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEMS[element.tag]), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode").encode("utf-8")


def render(fmt: str, root: str, value: Any, status_code: int = 200) -> Response:
    if fmt == "json":
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    else:
        body = to_xml(root, value)
    return Response(body, status_code=status_code, media_type=FORMATS[fmt])


def error(fmt: str, status: int, description: str) -> Response:
    return render(fmt if fmt in FORMATS else "xml", "errors", [{"code": status, "description": description}], status)


# --- the HTTP face ---------------------------------------------------------------------


def routes(view: PublicView, intake_url: str, status_labels: Mapping[str, str]) -> list[Route]:
    def endpoint(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            fmt = request.path_params.pop("fmt")
            if fmt not in FORMATS:
                return error("xml", 404, "Format tidak dikenal: gunakan .xml atau .json.")
            params = dict(request.query_params)
            jurisdiction = params.get("jurisdiction_id")
            if request.method == "POST":
                form = await http.read_form(request)
                params = {k: v for k, v in form.multi_items() if isinstance(v, str)}
                jurisdiction = params.get("jurisdiction_id") or jurisdiction
            if jurisdiction and jurisdiction != JURISDICTION:
                return error(fmt, 404, f"jurisdiction_id '{jurisdiction}' tidak dikenal; gunakan {JURISDICTION}.")
            try:
                return await handler(request, fmt, params)
            except Open311Error as exc:
                return error(fmt, exc.status, exc.description)

        return run

    base = lambda request: str(request.base_url)  # noqa: E731

    async def get_discovery(request: Request, fmt: str, params: dict[str, str]) -> Response:
        return render(fmt, "discovery", discovery(base(request)))

    async def get_services(request: Request, fmt: str, params: dict[str, str]) -> Response:
        return render(fmt, "services", services())

    async def get_definition(request: Request, fmt: str, params: dict[str, str]) -> Response:
        return render(fmt, "service_definition", service_definition(request.path_params["code"]))

    async def get_request(request: Request, fmt: str, params: dict[str, str]) -> Response:
        code = request.path_params["id"].upper()
        doc = await run_in_threadpool(view.complaint, code)
        if doc is None:
            raise Open311Error(404, f"service_request_id '{code}' tidak ditemukan.")
        if doc["visibility"] == "confidential":
            raise Open311Error(404, f"service_request_id '{code}' adalah aduan rahasia; isinya tidak ditampilkan.")
        return render(fmt, "service_requests", [service_request(doc, base(request), status_labels)])

    async def requests(request: Request, fmt: str, params: dict[str, str]) -> Response:
        if request.method == "POST":
            return await post_request(request, fmt, params)
        query = requests_query(params, dt.datetime.now(dt.timezone.utc))
        docs = await run_in_threadpool(view.newest, query, 0, MAX_REQUESTS)
        return render(fmt, "service_requests", [service_request(d, base(request), status_labels) for d in docs])

    async def post_request(request: Request, fmt: str, params: dict[str, str]) -> Response:
        attributes = {m.group(1): v for k, v in params.items() if (m := re.fullmatch(r"attribute\[([^\]]+)\](?:\[\])?", k))}
        payload = {k: v for k, v in params.items() if not k.startswith("attribute[")}
        payload["attributes"] = attributes
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                answer = await client.post(intake_url.rstrip("/") + "/api/intake/open311/requests", json=payload)
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("intake did not take an Open311 request: %s", exc.__class__.__name__)
            raise Open311Error(400, "Layanan penerimaan aduan sedang tidak dapat dihubungi; coba lagi nanti.") from None
        if answer.status_code != 201:
            errors = body.get("errors") if isinstance(body, dict) else None
            if not errors:
                errors = [{"code": answer.status_code, "description": "Aduan tidak dapat diterima."}]
            return render(fmt, "errors", errors, answer.status_code)
        return render(fmt, "service_requests", [body], 201)

    prefix = "/open311/v2"
    return [
        Route(prefix + "/discovery.{fmt}", endpoint(get_discovery)),
        Route(prefix + "/services.{fmt}", endpoint(get_services)),
        Route(prefix + "/services/{code}.{fmt}", endpoint(get_definition)),
        Route(prefix + "/requests.{fmt}", endpoint(requests), methods=["GET", "POST"]),
        Route(prefix + "/requests/{id}.{fmt}", endpoint(get_request)),
    ]
