"""The pure parts of recovery by replay: what --until means, and how a complaint's events are cut at it."""

from __future__ import annotations

import pytest

from services.publicview import projections
from services.publicview.recovery import Until, cut, groups, parse_until

from .events import complaint_events


def test_until_is_a_journal_position_or_a_time_with_its_offset() -> None:
    assert parse_until("120") == Until(seq=120)
    assert parse_until(7) == Until(seq=7)
    assert parse_until(None) is None
    # Bontang is on WITA (UTC+8): the time is kept in UTC, as occurred_at is.
    assert parse_until("2026-11-25T09:30:00+08:00") == Until(time="2026-11-25T01:30:00.000000Z")
    assert parse_until("2026-11-25T01:30:00.25Z") == Until(time="2026-11-25T01:30:00.250000Z")


@pytest.mark.parametrize("text, says", [
    ("2026-11-25T09:30:00", "needs its UTC offset"),
    ("kemarin", "neither a journal position nor an ISO 8601 time"),
    ("-3", "neither a journal position"),
])
def test_a_bad_until_is_refused_with_a_sentence(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_until(text)


def test_a_pinned_moment_survives_its_storage_as_an_integer() -> None:
    for until in (Until(seq=42), Until(time="2026-11-25T01:30:00.123456Z")):
        assert Until.from_pin(*until.pin()) == until


def test_a_time_between_two_events_keeps_the_first_and_not_the_second() -> None:
    submitted, routed, answered = complaint_events()
    pairs = list(enumerate([submitted, routed, answered], start=1))
    kept = cut(pairs, Until(time=routed.occurred_at))
    assert [e.type for e in kept] == ["ComplaintSubmitted", "ComplaintRouted"]
    assert projections.complaint_view(kept)["status"] == "diteruskan"
    assert cut(pairs, Until(time="2026-11-24T00:00:00.000000Z")) == []
    assert cut(pairs, None) == [submitted, routed, answered]


def test_a_position_counts_the_journal_sequence_and_an_effect_waits_for_its_cause() -> None:
    submitted, routed, answered = complaint_events()
    # Arrival order: the answer came second (responses' relay was faster than routing's).
    pairs = [(1, submitted), (2, answered), (3, routed)]
    assert [e.type for e in cut(pairs, Until(seq=1))] == ["ComplaintSubmitted"]
    assert [e.type for e in cut(pairs, Until(seq=2))] == ["ComplaintSubmitted"]
    assert [e.type for e in cut(pairs, Until(seq=3))] == ["ComplaintSubmitted", "ComplaintRouted", "ResponsePosted"]


def test_an_effect_is_cut_with_its_cause_even_when_its_clock_is_earlier() -> None:
    submitted, routed, answered = complaint_events(skew=True)  # routing's and responses' clocks run behind
    pairs = list(enumerate([submitted, routed, answered], start=1))
    # At 00:57 by the clocks, routed (00:55) and answered (00:56) "had happened", their cause (01:00) not.
    assert cut(pairs, Until(time="2026-11-25T00:57:00.000000Z")) == []


def test_the_cut_does_not_depend_on_arrival_order() -> None:
    events = complaint_events()
    moment = Until(time=events[1].occurred_at)
    forwards = cut(list(enumerate(events)), moment)
    backwards = cut(list(enumerate(reversed(events))), moment)
    assert projections.complaint_view(forwards) == projections.complaint_view(backwards)


def test_rows_ordered_by_complaint_come_out_one_group_per_complaint() -> None:
    first = complaint_events()
    other = [e.__class__(**{**e.to_message(), "correlation_id": "lain"}) for e in complaint_events()]
    rows = list(enumerate(first + other))
    grouped = list(groups(rows))
    assert [len(g) for g in grouped] == [3, 3]
    assert {e.correlation_id for _, e in grouped[1]} == {"lain"}
    assert list(groups([])) == []


def test_chunks_never_split_a_complaint() -> None:
    from services.publicview.recovery import CORRELATION, chunks

    def row(complaint: str) -> tuple:
        values = [0] * (CORRELATION + 2)
        values[CORRELATION] = complaint
        return tuple(values)

    rows = [row(c) for c in "aaabbbbbcd"]
    cut_up = list(chunks(rows, 2))
    assert [[r[CORRELATION] for r in chunk] for chunk in cut_up] == [list("aaa"), list("bbbbb"), list("cd")]
    assert [r for chunk in cut_up for r in chunk] == rows
    assert list(chunks([], 2)) == []


def test_until_a_time_admits_what_occurred_at_that_very_moment() -> None:
    submitted, routed, _ = complaint_events()
    moment = Until(time=routed.occurred_at)
    assert moment.admits(99, routed) and moment.admits(99, submitted)
    assert not Until(time="2026-11-25T01:00:00.999999Z").admits(1, routed)
    assert Until(seq=5).admits(5, routed) and not Until(seq=5).admits(6, routed)
