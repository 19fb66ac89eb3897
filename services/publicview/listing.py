"""Which public complaints a reader asked for: filters and full-text terms. Pure.

The list page and the Open311 API both turn their parameters into one
``Query``; the store turns a Query into SQL (FTS5 on SQLite, tsvector on
PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from kesah import reference
from kesah.pages import WITA

PAGE_SIZE = 20
MAX_TERMS = 8


@dataclass(frozen=True)
class Query:
    kinds: tuple[str, ...] = ()
    kelurahan: str | None = None
    agency: str | None = None
    statuses: tuple[str, ...] = ()
    statuses_not: tuple[str, ...] = ()
    submitted_from: str | None = None  # UTC ISO timestamp, inclusive
    submitted_before: str | None = None  # UTC ISO timestamp, exclusive
    text: str | None = None
    codes: tuple[str, ...] = ()


def tracking_code(text: str | None) -> str | None:
    """A tracking code as people type it (lower case, spaces, no dash) in its canonical form."""
    raw = re.sub(r"[\s\-]", "", text or "").upper()
    return f"{raw[:4]}-{raw[4:]}" if re.fullmatch(r"[A-Z0-9]{8}", raw) else None


def search_terms(text: str | None) -> list[str]:
    """The words of a search, lower case; punctuation and operators are not syntax here."""
    return re.findall(r"[^\W_]+", (text or "").casefold())[:MAX_TERMS]


def utc_iso(moment: dt.datetime) -> str:
    """The event log's timestamp format, so bounds compare as text."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def day_start(day: dt.date) -> str:
    """Midnight in Bontang (WITA) of ``day``, as a UTC timestamp."""
    return utc_iso(dt.datetime.combine(day, dt.time(), WITA))


def search_text(doc: Mapping[str, Any]) -> str:
    """What full-text search looks at in a public complaint."""
    parts = [doc.get("tracking_code"), doc.get("title"), doc.get("body"), doc.get("address"),
             doc.get("kelurahan"), doc.get("kecamatan"), (doc.get("agency") or {}).get("name")]
    parts += [r.get("body") for r in doc.get("responses") or ()]
    return "\n".join(p for p in parts if p)


@dataclass
class ListRequest:
    """The list page's parameters, checked: what to query and what to show back in the form."""

    query: Query
    page: int = 1
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def from_params(params: Mapping[str, str], statuses: Mapping[str, str]) -> ListRequest:
    """The list page's query string (Indonesian names) as a Query; bad values are dropped with a message."""
    ref = reference.load()
    values = {k: (params.get(k) or "").strip() for k in ("q", "jenis", "kelurahan", "instansi", "status", "dari", "sampai")}
    errors: list[str] = []
    kwargs: dict[str, Any] = {}
    if values["q"]:
        kwargs["text"] = values["q"][:200]
    if values["jenis"]:
        if values["jenis"] in ref.kinds:
            kwargs["kinds"] = (values["jenis"],)
        else:
            errors.append("Jenis aduan tidak dikenal.")
    if values["kelurahan"]:
        if values["kelurahan"] in ref.kelurahan:
            kwargs["kelurahan"] = values["kelurahan"]
        else:
            errors.append("Kelurahan tidak dikenal.")
    if values["instansi"]:
        if any(a.id == values["instansi"] for a in ref.agencies):
            kwargs["agency"] = values["instansi"]
        else:
            errors.append("Instansi tidak dikenal.")
    if values["status"]:
        if values["status"] in statuses:
            kwargs["statuses"] = (values["status"],)
        else:
            errors.append("Status tidak dikenal.")
    first = _date(values["dari"]) if values["dari"] else None
    last = _date(values["sampai"]) if values["sampai"] else None
    if values["dari"] and first is None or values["sampai"] and last is None:
        errors.append("Tanggal harus berformat TTTT-BB-HH, misalnya 2026-11-25.")
    if first and last and first > last:
        errors.append("Tanggal awal harus sebelum tanggal akhir.")
        first = last = None
    if first:
        kwargs["submitted_from"] = day_start(first)
    if last:
        kwargs["submitted_before"] = day_start(last + dt.timedelta(days=1))
    try:
        page = max(1, min(int(params.get("halaman") or 1), 10_000))
    except ValueError:
        page = 1
    for key, ok in (("jenis", "kinds"), ("kelurahan", "kelurahan"), ("instansi", "agency"), ("status", "statuses")):
        if values[key] and ok not in kwargs:
            values[key] = ""
    return ListRequest(Query(**kwargs), page, values, errors)
