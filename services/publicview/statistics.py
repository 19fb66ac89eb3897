"""How each agency answers: counts, answered share, median time to answer, overdue. Pure.

Computed from the public documents (confidential complaints carry no agency
and are not counted). A complaint is *answered* once its agency posted a
response that is more than "diproses" (being processed); the time to answer
runs from submission to that first answer. A complaint is *overdue* when its
document says so (the deadline event), or, while no such event exists, when
it is unanswered, not closed and its due date has passed.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

from kesah import reference
from kesah.lifecycle import AWAITING_ANSWER, FINAL

NOT_YET_AN_ANSWER = frozenset({"diproses"})
CLOSED = frozenset(FINAL)


def _moment(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def first_answer_at(doc: dict[str, Any]) -> str | None:
    answers = [r["posted_at"] for r in doc.get("responses") or () if r.get("status") not in NOT_YET_AN_ANSWER]
    return min(answers) if answers else None


def is_overdue(doc: dict[str, Any], today: dt.date) -> bool:
    if doc.get("overdue"):
        return True
    # The deadline check may not have run yet: the due date decides meanwhile.
    due = doc.get("due_date")
    if not due or doc.get("status") not in AWAITING_ANSWER:
        return False
    return dt.date.fromisoformat(due) < today


@dataclass(frozen=True)
class AgencyStats:
    agency_id: str
    name: str
    complaints: int
    answered: int
    overdue: int
    median_days_to_answer: float | None

    @property
    def answered_share(self) -> float:
        return self.answered / self.complaints if self.complaints else 0.0


@dataclass(frozen=True)
class Summary:
    agencies: list[AgencyStats]
    complaints: int
    not_routed: int


def summarize(docs: Iterable[dict[str, Any]], today: dt.date) -> Summary:
    names = {a.id: a.name for a in reference.load().agencies}
    grouped: dict[str, list[dict[str, Any]]] = {}
    total = not_routed = 0
    for doc in docs:
        if doc.get("visibility") == "confidential":
            continue
        total += 1
        agency = doc.get("agency")
        if not agency:
            not_routed += 1
            continue
        names.setdefault(agency["id"], agency["name"])
        grouped.setdefault(agency["id"], []).append(doc)
    rows = []
    for agency_id, items in grouped.items():
        waits = []
        for doc in items:
            answered_at = first_answer_at(doc)
            if answered_at:
                seconds = (_moment(answered_at) - _moment(doc["submitted_at"])).total_seconds()
                waits.append(max(0.0, seconds) / 86400)
        rows.append(AgencyStats(
            agency_id=agency_id,
            name=names[agency_id],
            complaints=len(items),
            answered=len(waits),
            overdue=sum(1 for d in items if is_overdue(d, today)),
            median_days_to_answer=statistics.median(waits) if waits else None,
        ))
    rows.sort(key=lambda r: (-r.complaints, r.name))
    return Summary(rows, total, not_routed)


def duration(days: float | None) -> str:
    """A time to answer as people say it: 5 jam, 2,5 hari."""
    if days is None:
        return "—"
    if days < 1:
        hours = days * 24
        return "kurang dari 1 jam" if hours < 1 else f"{hours:.0f} jam"
    return f"{days:.1f}".replace(".", ",").replace(",0", "") + " hari"
