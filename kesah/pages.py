"""What every server-rendered face shares: one layout, dates as Bontang reads them.

Each face renders its own templates; they extend ``base.html`` from
``kesah/templates`` so the public site, the submission form and the agency
pages look like one site. Autoescaping is on for every ``.html`` template:
user-supplied text is never markup.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from . import reference

SHARED = Path(__file__).parent / "templates"

# Bontang keeps Central Indonesian Time (WITA, UTC+8).
WITA = dt.timezone(dt.timedelta(hours=8), "WITA")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")


def tanggal(iso: str | None, with_time: bool = True) -> str:
    """An ISO timestamp (UTC) or date as Bontang reads it: 25 November 2026 14.05 WITA."""
    if not iso:
        return ""
    if len(iso) == 10:
        day = dt.date.fromisoformat(iso)
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(WITA)
    text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return f"{text} {moment:%H.%M} WITA" if with_time else text


def local_today() -> dt.date:
    return dt.datetime.now(WITA).date()


def templates(directory: Path, **globals_: Any) -> Jinja2Templates:
    """A face's templates: its own directory first, then the shared layout."""
    result = Jinja2Templates(directory=[directory, SHARED])
    result.env.filters["tanggal"] = tanggal
    result.env.globals.update(KINDS=reference.load().kinds, **globals_)
    return result
