"""Open data: the public shape of a complaint, the exports, and their dictionary. Pure.

Two datasets, each as CSV and JSON: the current projection (one record per
listed complaint) and the public events (the journal, verbatim, so anyone can
check hashes and signatures against the published keys). An event of a
confidential complaint keeps its envelope, hash and signature but not its
payload: the chain of hashes stays checkable without revealing the content.
Nothing here ever held a reporter's contact data: events never carry it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from kesah.contracts import RecordedEvent

from .statistics import first_answer_at

CONFIDENTIAL_MESSAGE = "Aduan ini bersifat rahasia; isinya tidak ditampilkan untuk umum."


def public_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a complaint: the JSON API and the JSON export."""
    if doc["visibility"] == "confidential":
        return {
            "tracking_code": doc["tracking_code"],
            "visibility": "confidential",
            "message": CONFIDENTIAL_MESSAGE,
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
        "awaiting_routing": doc.get("awaiting_routing", False),
        "photo": doc.get("photo"),
        "responses": doc["responses"],
        "timeline": doc["timeline"],
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["updated_at"],
    }


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    meaning: str


COMPLAINT_FIELDS = (
    Field("tracking_code", "teks", "Kode lacak aduan (XXXX-XXXX); juga alamat halamannya: /aduan/{kode}."),
    Field("kind", "teks", "Jenis: informasi, keluhan, pertanyaan, kritik atau saran."),
    Field("title", "teks", "Judul yang ditulis pelapor."),
    Field("body", "teks", "Isi aduan yang ditulis pelapor."),
    Field("kelurahan", "teks", "Kelurahan lokasi aduan."),
    Field("kecamatan", "teks", "Kecamatan lokasi aduan."),
    Field("address", "teks", "Lokasi yang ditulis pelapor (jalan, patokan); boleh kosong."),
    Field("channel", "teks", "Saluran masuk: web, open311, dan lain-lain."),
    Field("visibility", "teks", "public (pelapor bernama, nama tidak pernah ditampilkan) atau anonymous (tanpa data pelapor)."),
    Field("status", "teks", "Status terkini: diterima, diteruskan, diproses, dijawab, selesai, dan seterusnya."),
    Field("agency_id", "teks", "Kode instansi (OPD) yang menangani; kosong bila belum diteruskan."),
    Field("agency_name", "teks", "Nama instansi yang menangani."),
    Field("due_date", "tanggal", "Batas waktu jawaban instansi (TTTT-BB-HH)."),
    Field("response_count", "bilangan", "Jumlah tanggapan instansi."),
    Field("first_answer_at", "waktu", "Waktu jawaban pertama (bukan sekadar 'diproses'); kosong bila belum dijawab."),
    Field("photo_url", "teks", "Alamat foto (metadata EXIF/GPS sudah dihapus); kosong bila tanpa foto."),
    Field("submitted_at", "waktu", "Waktu aduan diterima (UTC, ISO 8601)."),
    Field("updated_at", "waktu", "Waktu perubahan terakhir (UTC, ISO 8601)."),
)

EVENT_FIELDS = (
    Field("source", "teks", "Layanan pemilik log yang mencatat peristiwa: intake, routing atau responses."),
    Field("position", "bilangan", "Nomor urut peristiwa dalam log pemiliknya, tanpa celah."),
    Field("event_id", "UUID", "Pengenal unik peristiwa."),
    Field("type", "teks", "Jenis peristiwa, misalnya ComplaintSubmitted, ComplaintRouted, ResponsePosted."),
    Field("version", "bilangan", "Versi skema muatan (payload) jenis peristiwa itu."),
    Field("stream_id", "teks", "Aliran (biasanya aduan) tempat peristiwa ini berada."),
    Field("stream_version", "bilangan", "Nomor urut peristiwa dalam alirannya."),
    Field("occurred_at", "waktu", "Waktu peristiwa (UTC, ISO 8601)."),
    Field("causation_id", "UUID", "Peristiwa yang menyebabkan peristiwa ini; kosong bila tidak ada."),
    Field("correlation_id", "teks", "Aduan yang dimaksud (complaint_id)."),
    Field("payload", "JSON", "Muatan peristiwa, persis seperti ditandatangani; kosong bila disembunyikan (aduan rahasia)."),
    Field("prev_hash", "heksadesimal", "Hash peristiwa sebelumnya di log yang sama (rantai hash)."),
    Field("hash", "heksadesimal", "SHA-256 atas prev_hash dan bentuk kanonik peristiwa."),
    Field("key_id", "teks", "Pengenal kunci publik penanda tangan (lihat kunci publik)."),
    Field("signature", "base64", "Tanda tangan Ed25519 atas hash, oleh layanan pemilik."),
    Field("redacted", "boolean", "true bila muatan disembunyikan karena aduan rahasia; hash dan tanda tangan tetap bisa diperiksa."),
)


def complaint_record(doc: dict[str, Any]) -> dict[str, Any]:
    """A complaint as one flat CSV row."""
    agency = doc.get("agency") or {}
    photo = doc.get("photo") or {}
    return {
        "tracking_code": doc["tracking_code"], "kind": doc["kind"], "title": doc["title"], "body": doc["body"],
        "kelurahan": doc["kelurahan"], "kecamatan": doc["kecamatan"], "address": doc["address"],
        "channel": doc["channel"], "visibility": doc["visibility"], "status": doc["status"],
        "agency_id": agency.get("id"), "agency_name": agency.get("name"), "due_date": doc.get("due_date"),
        "response_count": len(doc.get("responses") or ()), "first_answer_at": first_answer_at(doc),
        "photo_url": photo.get("url"), "submitted_at": doc["submitted_at"], "updated_at": doc["updated_at"],
    }


def event_record(event: RecordedEvent, hidden: bool) -> dict[str, Any]:
    record = event.to_message()
    if hidden:
        record["payload"] = None
    record["redacted"] = hidden
    return {f.name: record[f.name] for f in EVENT_FIELDS}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_lines(records: Iterable[dict[str, Any]], fields: Iterable[Field]) -> Iterator[str]:
    names = [f.name for f in fields]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    yield buffer.getvalue()
    for record in records:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(record.get(n)) for n in names])
        yield buffer.getvalue()


def json_lines(records: Iterable[Any]) -> Iterator[str]:
    """One JSON array, streamed a record at a time."""
    yield "["
    first = True
    for record in records:
        yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False, sort_keys=True)
        first = False
    yield "\n]\n"
