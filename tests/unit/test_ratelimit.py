from __future__ import annotations

import pytest

from kesah.ratelimit import Limit, RateLimit, minutes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_may_submit_count_times_per_window_then_waits_until_the_oldest_leaves_it() -> None:
    clock = Clock()
    limit = RateLimit(Limit(3, 600), clock)
    assert [limit.take("a") for _ in range(3)] == [0, 0, 0]
    clock.now += 100
    assert limit.take("a") == pytest.approx(500)
    assert limit.take("b") == 0  # another address has its own count
    clock.now += 500  # the first three leave the window
    assert [limit.take("a") for _ in range(3)] == [0, 0, 0]
    assert limit.take("a") == pytest.approx(600)


def test_a_refused_submission_does_not_count() -> None:
    clock = Clock()
    limit = RateLimit(Limit(1, 60), clock)
    assert limit.take("a") == 0
    for _ in range(10):
        clock.now += 5
        limit.take("a")
    clock.now = 1060.0
    assert limit.take("a") == 0


def test_the_least_recent_clients_are_forgotten_first_when_memory_is_full() -> None:
    limit = RateLimit(Limit(1, 60), Clock(), clients=2)
    limit.take("a")
    limit.take("b")
    limit.take("c")
    assert limit.take("a") == 0  # forgotten, so counted afresh
    assert limit.take("c") > 0


@pytest.mark.parametrize("text, expected", [
    ("30/3600", Limit(30, 3600.0)), (" 5/60 ", Limit(5, 60.0)), ("off", None), ("OFF", None),
])
def test_a_limit_is_written_count_slash_seconds_or_off(text: str, expected: Limit | None) -> None:
    assert Limit.parse(text) == expected


@pytest.mark.parametrize("text", ["30", "30/", "/60", "a/b", "0/60", "5/0", "-1/60"])
def test_a_limit_that_cannot_be_read_says_so(text: str) -> None:
    with pytest.raises(ValueError, match="COUNT/SECONDS"):
        Limit.parse(text)


@pytest.mark.parametrize("seconds, expected", [(0.2, 1), (59, 1), (60, 1), (61, 2), (599.5, 10), (3600, 60)])
def test_a_wait_is_told_in_whole_minutes_rounded_up(seconds: float, expected: int) -> None:
    assert minutes(seconds) == expected
