"""The portal's lockout: the backoff schedule, a pair's failures in a row, and the one refusal."""

from __future__ import annotations

import datetime as dt

import pytest

from services.responses import auth
from services.responses.auth import ACCOUNT_BACKOFF, ADDRESS_BACKOFF, Backoff, Failures

T0 = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("failures, seconds", [
    (0, 0), (1, 0), (4, 0),  # four mistakes cost nothing
    (5, 60), (6, 120), (7, 240), (8, 480), (9, 960), (10, 1920),  # then a minute, doubling
    (11, 3600), (12, 3600), (500, 3600), (10**6, 3600),  # at most an hour, however many
])
def test_one_username_from_one_address_is_locked_after_five_failures_a_minute_doubling_up_to_an_hour(
        failures: int, seconds: int) -> None:
    assert ACCOUNT_BACKOFF.lock_seconds(failures) == seconds


def test_an_address_over_every_username_is_looser_than_one_username() -> None:
    assert ADDRESS_BACKOFF.free > ACCOUNT_BACKOFF.free
    assert ADDRESS_BACKOFF.lock_seconds(ADDRESS_BACKOFF.free - 1) == 0
    assert ADDRESS_BACKOFF.lock_seconds(ADDRESS_BACKOFF.free) == 60


def test_failures_in_a_row_lock_and_the_lock_ends_by_itself() -> None:
    backoff = Backoff(free=3, first=60, cap=600)
    state = Failures()
    for minute in range(2):
        state = state.failed(T0 + dt.timedelta(minutes=minute), backoff)
        assert state.wait(T0 + dt.timedelta(minutes=minute)) == 0
    third = T0 + dt.timedelta(minutes=2)
    state = state.failed(third, backoff)
    assert state.count == 3 and state.locked_until == third + dt.timedelta(seconds=60)
    assert state.wait(third + dt.timedelta(seconds=15)) == 45
    later = third + dt.timedelta(seconds=61)
    assert state.wait(later) == 0
    state = state.failed(later, backoff)  # the next failure after the lock: twice as long
    assert state.count == 4 and state.wait(later) == 120


def test_a_pair_not_seen_failing_for_a_day_starts_afresh() -> None:
    state = Failures(count=9, locked_until=None, last_at=T0)
    assert state.failed(T0 + dt.timedelta(hours=23), ACCOUNT_BACKOFF).count == 10
    fresh = state.failed(T0 + dt.timedelta(hours=25), ACCOUNT_BACKOFF)
    assert fresh.count == 1 and fresh.locked_until is None


def test_every_refusal_says_the_same_and_only_a_lock_adds_when_to_try_again() -> None:
    plain, locked = auth.refusal(0), auth.refusal(61)
    assert plain.startswith("Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal.")
    assert locked.startswith("Nama pengguna atau kata sandi salah, atau terlalu banyak percobaan gagal.")
    assert locked.endswith("Coba lagi dalam 2 menit.") and "menit" not in plain
    assert "dikunci" not in plain + locked and "tidak aktif" not in plain + locked


def test_a_username_is_counted_under_its_digest_as_typed_but_normalised() -> None:
    assert auth.username_key("  Budi ") == auth.username_key("budi") != auth.username_key("budi2")
    assert len(auth.username_key("sandi rahasia saya")) == 64 and "sandi" not in auth.username_key("sandi")
    assert auth.username_key("x") != auth.EVERY_USERNAME
