"""Reference data of the city: kecamatan and kelurahan, kinds, agencies.

Shipped inside the package (``kesah/data/bontang.json``) so the product runs
from its own files. Loaded once; treat the result as read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    city: str
    province: str
    kecamatan: dict[str, tuple[str, ...]]
    kinds: dict[str, str]
    agencies: tuple[Agency, ...]
    triage_agency: str
    response_due_working_days: dict[str, int]

    @property
    def kelurahan(self) -> dict[str, str]:
        """Kelurahan name -> its kecamatan."""
        return {k: kec for kec, names in self.kecamatan.items() for k in names}

    def agency(self, agency_id: str) -> Agency:
        for agency in self.agencies:
            if agency.id == agency_id:
                return agency
        raise KeyError(agency_id)


@lru_cache(maxsize=1)
def load() -> Reference:
    raw = json.loads(resources.files("kesah").joinpath("data/bontang.json").read_text("utf-8"))
    return Reference(
        city=raw["city"],
        province=raw["province"],
        kecamatan={k: tuple(v) for k, v in raw["kecamatan"].items()},
        kinds=dict(raw["kinds"]),
        agencies=tuple(Agency(a["id"], a["name"], tuple(a["keywords"])) for a in raw["agencies"]),
        triage_agency=raw["triage_agency"],
        response_due_working_days=dict(raw["response_due_working_days"]),
    )
