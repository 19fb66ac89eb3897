from __future__ import annotations

import datetime as dt

import pytest

from services.routing.deadlines import add_working_days, is_working_day, local_date

WED = dt.date(2026, 11, 25)


def test_working_days_skip_the_weekend() -> None:
    assert add_working_days(WED, 1) == dt.date(2026, 11, 26)
    assert add_working_days(WED, 3) == dt.date(2026, 11, 30)  # Thu, Fri, (Sat, Sun), Mon
    assert add_working_days(WED, 5) == dt.date(2026, 12, 2)


def test_a_holiday_does_not_count() -> None:
    holiday = {dt.date(2026, 11, 26)}
    assert add_working_days(WED, 1, holiday) == dt.date(2026, 11, 27)
    assert add_working_days(WED, 5, holiday) == dt.date(2026, 12, 3)


def test_submitting_on_saturday_counts_from_monday() -> None:
    saturday = dt.date(2026, 11, 28)
    assert not is_working_day(saturday)
    assert add_working_days(saturday, 1) == dt.date(2026, 11, 30)


def test_zero_days_is_the_same_day_and_negative_is_refused() -> None:
    assert add_working_days(WED, 0) == WED
    with pytest.raises(ValueError):
        add_working_days(WED, -1)


def test_the_local_date_is_bontang_time() -> None:
    # 16:30 UTC is 00:30 the next day in WITA (UTC+8).
    assert local_date("2026-11-27T16:30:00.000000Z") == dt.date(2026, 11, 28)
    assert local_date("2026-11-27T15:59:59.000000Z") == dt.date(2026, 11, 27)
