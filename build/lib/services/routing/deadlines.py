"""Due dates in working days: weekends and holidays do not count."""

from __future__ import annotations

import datetime as dt
from typing import AbstractSet

# Bontang keeps Central Indonesian Time (WITA, UTC+8): a complaint sent at
# 23:00 on Friday local time is a Friday complaint.
WITA = dt.timezone(dt.timedelta(hours=8), "WITA")


def local_date(iso_utc: str) -> dt.date:
    moment = dt.datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    return moment.astimezone(WITA).date()


def is_working_day(day: dt.date, holidays: AbstractSet[dt.date] = frozenset()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: dt.date, days: int, holidays: AbstractSet[dt.date] = frozenset()) -> dt.date:
    """The date ``days`` working days after ``start`` (the day itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_working_day(day, holidays):
            remaining -= 1
    return day
