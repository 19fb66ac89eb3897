"""What an alert says to the people it reaches, in Bahasa Indonesia."""

from __future__ import annotations

from kesah.alerts import message

PROBLEM = {"position": 2, "kind": "changed", "detail": "its content does not match the hash its owner signed",
           "event_id": "6f1c0000-0000-4000-8000-000000000001", "event_type": "ComplaintSubmitted"}


def test_an_owners_broken_log_names_position_kind_and_the_command_to_run() -> None:
    text = message("intake", "integrity", "intake: FAILED at position 2: changed", {
        "name": "intake", "ok": False, "problem": PROBLEM, "remedy": "..."})
    assert "verifikasi log GAGAL" in text and "intake: posisi 2: isinya diubah" in text
    assert "ComplaintSubmitted 6f1c0000-0000-4000-8000-000000000001" in text
    assert "tidak pernah diubah otomatis" in text and "kesah restore intake --from publicview" in text


def test_publicviews_journal_names_each_broken_source() -> None:
    text = message("publicview", "integrity", "...", {"reports": [
        {"name": "publicview journal (intake)", "problem": {**PROBLEM, "kind": "missing", "event_id": None}},
        {"name": "publicview journal (routing)", "problem": None},
        {"name": "publicview journal (responses)", "problem": {**PROBLEM, "kind": "bad signature"}},
    ]})
    assert "publicview journal (intake): posisi 2: peristiwa hilang (dihapus);" in text
    assert "publicview journal (responses): posisi 2: tanda tangannya tidak sah" in text
    assert "routing" not in text and "kesah replay publicview --from sources" in text


def test_a_projection_says_what_was_healed_or_what_to_run() -> None:
    differences = [{"tracking_code": "ACDE-FHJK", "what": "differs in status"}, {"tracking_code": "KJ4M-X7PA"}]
    healed = message("publicview", "projection", "...", {"differences": differences, "healed": 2})
    assert "2 aduan (pertama ACDE-FHJK)" in healed and "2 aduan sudah diproyeksikan ulang otomatis" in healed
    assert "kesah rebuild publicview" in message("publicview", "projection", "...",
                                                 {"differences": differences, "healed": 0})


def test_lag_and_unknown_checks_still_say_something_useful() -> None:
    assert "tertinggal 1500 peristiwa" in message("publicview", "lag", "...", {"lag": 1500})
    other = message("relay", "outbox", "outbox stuck for 300s", {})
    assert "pemeriksaan outbox menemukan masalah" in other and "outbox stuck for 300s" in other


def test_a_check_that_could_not_run_says_so_and_why() -> None:
    text = message("publicview", "integrity", "integrity check could not run: DatabaseError: file is not a database",
                   {"could_not_run": "DatabaseError: file is not a database"})
    assert "pemeriksaan integritas log tidak dapat berjalan (DatabaseError: file is not a database)" in text
    assert "tidak siap" in text


def test_a_damaged_database_file_says_where_it_went_or_what_to_run() -> None:
    moved = message("publicview", "database", "...", {"path": "/var/kesah/publicview.db", "damage": "it is empty (0 bytes)",
                                                      "moved_to": "/var/kesah/publicview.db.corrupt-20261207T024621Z"})
    assert "berkas basis data /var/kesah/publicview.db rusak (it is empty (0 bytes))" in moved
    assert "dipindahkan ke /var/kesah/publicview.db.corrupt-20261207T024621Z" in moved and "diisi ulang" in moved
    by_hand = message("publicview", "database", "...", {"path": "/var/kesah/publicview.db",
                                                        "damage": "file is not a database"})
    assert "kesah replay publicview --from sources" in by_hand
