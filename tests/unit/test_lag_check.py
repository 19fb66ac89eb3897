from __future__ import annotations

from services.publicview.watch import LagCheck


class View:
    def __init__(self) -> None:
        self.lag = 0

    def freshness(self) -> dict:
        return {"sources": [{"source": "intake", "lag": self.lag}, {"source": "routing", "lag": None}],
                "projection_lag": 0}


def test_lag_is_a_problem_only_once_it_stays_high() -> None:
    view, now = View(), [0.0]
    check = LagCheck(view, events=10, seconds=60, clock=lambda: now[0])
    assert check.round().problem is None
    view.lag = 50
    assert check.round().problem is None  # a burst
    now[0] = 30.0
    assert check.round().problem is None
    now[0] = 61.0
    assert "50 events behind" in check.round().problem
    view.lag = 5
    assert check.round().problem is None
    view.lag = 50
    now[0] = 100.0
    assert check.round().problem is None  # high again: the clock starts over


def test_a_pinned_projection_says_so_instead_of_blaming_the_relay() -> None:
    view, now = View(), [0.0]
    view.freshness = lambda: {"sources": [], "projection_lag": 40, "pinned": "journal sequence 7"}  # type: ignore[method-assign]
    check = LagCheck(view, events=10, seconds=5, clock=lambda: now[0])
    assert check.round().problem is None
    now[0] = 6.0
    problem = check.round().problem
    assert "pinned at journal sequence 7" in problem and "kesah rebuild publicview" in problem
    assert "relay" not in problem
