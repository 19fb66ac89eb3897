"""One row per drill, and the table the rehearsal prints."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable


@dataclass
class Outcome:
    """What one fault did to the complaints submitted while it happened."""

    fault: str
    accepted: int  # answered 201 to the citizen
    visible: int  # of those, shown on the public site once the system settled
    lost: int  # accepted but never visible
    duplicated: int  # effects that happened twice (a complaint stored or routed twice, an event journaled twice)
    stall_seconds: float  # the longest time no submission was accepted during the load
    note: str = ""
    # anything else the drill found broken (a copy missing from the archive ...): each fails the drill
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.visible == self.accepted and not self.problems


class CannotRun(Exception):
    """A drill's infrastructure could not be set up here (missing package, no root ...): one sentence why."""


COLUMNS = ("fault", "accepted", "visible", "lost", "duplicated", "stall s", "verdict")


def table(outcomes: Iterable[Outcome]) -> str:
    rows = [COLUMNS] + [
        (o.fault, str(o.accepted), str(o.visible), str(o.lost), str(o.duplicated), f"{o.stall_seconds:.1f}",
         "ok" if o.ok else "FAILED")
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {o.fault}: {o.note}" for o in outcomes if o.note]
    notes += [f"- {o.fault}: PROBLEM: {problem}" for o in outcomes for problem in o.problems]
    return "\n".join(lines + ([""] + notes if notes else []))


def write(outcomes: list[Outcome], out: Path, small: bool) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"{stamp}-rehearsal{'-small' if small else ''}.json"
    path.write_text(json.dumps({"small": small, "outcomes": [asdict(o) | {"ok": o.ok} for o in outcomes]}, indent=2))
    return path
