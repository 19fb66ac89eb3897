"""The rehearsal's verdict: a drill is ok only when nothing was lost, duplicated or otherwise found broken."""

from __future__ import annotations

from rehearsal.report import Outcome, table


def test_a_drill_that_lost_duplicated_or_found_a_problem_fails_and_the_table_says_why() -> None:
    fine = Outcome("rabbitmq-kill-leader", 10, 10, 0, 0, 0.5)
    lost = Outcome("rabbitmq-partition", 10, 9, 1, 0, 0.5)
    twice = Outcome("x", 10, 10, 0, 1, 0.5)
    archive = Outcome("y", 10, 10, 0, 0, 0.5, problems=["2 accepted complaints missing from the archive stream"])
    assert fine.ok and not lost.ok and not twice.ok and not archive.ok
    printed = table([fine, lost, archive])
    rows = printed.splitlines()
    assert rows[2].split()[-1] == "ok" and rows[3].split()[-1] == "FAILED" and rows[4].split()[-1] == "FAILED"
    assert "- y: PROBLEM: 2 accepted complaints missing from the archive stream" in printed
