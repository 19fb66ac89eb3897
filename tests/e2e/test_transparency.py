"""Owners sign checkpoints, publicview publishes them, and an auditor's saved one proves the past."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import httpx

from tests.support.intruder import DeleteRow, Rows
from tests.support.system import System, wait_until

MORE = 1000


def submit_many(system: System, count: int) -> None:
    def submit(i: int) -> None:
        with httpx.Client(base_url=str(system.http.base_url), timeout=60) as client:
            for j in range(i, count, 4):
                response = client.post("/api/complaints", json={
                    "kind": "saran", "title": f"Saran taman kota nomor {j}", "body": "Mohon tambah bangku di taman.",
                    "kelurahan": "Api-Api", "address": ""})
                assert response.status_code == 201, response.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, range(4)))


def test_a_saved_checkpoint_proves_the_past_until_an_old_event_is_deleted(
    make_system: Callable[..., System], tmp_path: Path,
) -> None:
    # Self-healing off: publicview would refill the journal row the test deletes below.
    system = make_system(extra_env={"KESAH_CHECKPOINT_INTERVAL": "1", "KESAH_VERIFY_INTERVAL": "0.5",
                                    "KESAH_SELF_HEAL": "off"}).start()
    codes = [system.submit(title=f"Jalan berlubang nomor {i}")["tracking_code"] for i in range(3)]
    for code in codes:
        system.routed(code)

    def intake_checkpoint() -> dict | None:
        published = system.http.get("/transparansi.json").json()
        found = [c for c in published["checkpoints"] if c["source"] == "intake" and c["position"] >= 3]
        return found[0] if found else None

    listed = wait_until(intake_checkpoint, 60, "a signed checkpoint of intake's log on /transparansi")
    published = system.http.get("/transparansi.json").json()
    assert published["keys"]["intake"][listed["key_id"]] == listed["public_key"]
    page = system.http.get("/transparansi")
    assert page.status_code == 200 and "Titik periksa log intake" in page.text and listed["hash"][:16] in page.text
    saved = tmp_path / "titik-periksa.json"
    download = system.http.get(f"/transparansi/intake-{listed['position']}.json")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    saved.write_text(download.text)
    assert system.http.get("/transparansi/intake-99999.json").status_code == 404

    submit_many(system, MORE)
    assert len(system.events("intake", ["ComplaintSubmitted"])) == 3 + MORE

    code, output = system.kesah("audit", str(saved))
    assert code == 0, output
    assert f"checkpoint intake@{listed['position']}" in output and "unchanged" in output
    # The documented command, as an auditor runs it: its own process, on nothing of this installation
    # (no data directory, keys or settings), only the saved file and the public site.
    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    audited = subprocess.run(
        [sys.executable, "-m", "kesah", "audit", str(saved), "--url", str(system.http.base_url)], cwd=elsewhere,
        env={k: v for k, v in os.environ.items() if not k.startswith("KESAH_")},
        capture_output=True, text=True, timeout=120)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert f"checkpoint intake@{listed['position']}" in audited.stdout and "unchanged" in audited.stdout
    assert list(elsewhere.iterdir()) == []  # it made no data directory, keys or database
    assert "Traceback" not in audited.stderr and "Warning" not in audited.stderr, audited.stderr

    # An intruder deletes an old event from publicview's journal: the public copy no longer proves it.
    journal_rows = Rows(system.store("publicview").engine, "journal", "intake")
    removed = DeleteRow(journal_rows, 2)
    removed.apply()
    code, output = system.kesah("audit", str(saved), "--url", str(system.http.base_url))
    assert code == 1, output
    assert "FAILED" in output and "position 2: missing" in output
    removed.undo()

    # ... and from intake's own log: the audit fails and names the event from the other copy.
    deleted = system.events("intake")[1]
    DeleteRow(Rows(system.store("intake").engine, "events", "intake"), 2).apply()
    code, output = system.kesah("audit", str(saved))
    assert code == 1, output
    assert "position 2: missing" in output
    assert deleted.event_id in output and deleted.payload["tracking_code"] in output, output

    # A file that is not a checkpoint gets a sentence, not a traceback.
    (tmp_path / "bukan.json").write_text(json.dumps({"hello": 1}))
    code, output = system.kesah("audit", str(tmp_path / "bukan.json"))
    assert code == 2 and "not a checkpoint" in output
