"""The benchmark itself must not rot: every case runs at a tiny size and reports its figures.

No timing is asserted (the machine is shared); what must hold is that every
case ran, and every figure came with a raw baseline and a ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.__main__ import CASES
from bench.harness import ROOT

CASE_LABELS = ("1 intake", "2 end2end", "3 relay", "4 rebuild", "5 reads", "6 verify", "7 memory")


def test_every_case_runs_and_reports_a_figure_beside_its_baseline(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path / "results"),
         "--cache", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (written,) = (tmp_path / "results").glob("2*-smoke.json")
    results = json.loads(written.read_text())
    assert results["errors"] == {}
    assert len(CASE_LABELS) == len(CASES)
    reported = {f["case"] for f in results["figures"]}
    assert reported == set(CASE_LABELS)
    for figure in results["figures"]:
        assert figure["baseline"] > 0, figure
        if figure["name"] == "highest sustained rate":
            # 0 is a measurement here: on a busy machine not even the smoke's one rate was sustained
            # (seen in CI); the ramp's note says what was offered and accepted.
            assert figure["value"] >= 0, figure
            continue
        assert figure["value"] > 0 and figure["ratio"] > 0, figure
    assert "/s offered:" in done.stdout
    assert "raw baseline" in done.stdout and "ratio" in done.stdout
