from __future__ import annotations

import csv
import io
import json

from services.publicview import opendata, projections

from .events import complaint_events


def test_spreadsheet_formulas_in_text_are_defused_and_values_kept() -> None:
    records = [{"a": "=HYPERLINK(\"x\")", "b": "-5 derajat", "c": 3, "d": None, "e": True, "f": {"k": [1]}}]
    fields = [opendata.Field(n, "teks", "") for n in "abcdef"]
    text = "".join(opendata.csv_lines(records, fields))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list("abcdef")
    assert rows[1] == ["'=HYPERLINK(\"x\")", "'-5 derajat", "3", "", "true", '{"k":[1]}']


def test_json_lines_make_one_array() -> None:
    assert json.loads("".join(opendata.json_lines(iter([{"a": 1}, {"b": "é"}])))) == [{"a": 1}, {"b": "é"}]
    assert json.loads("".join(opendata.json_lines(iter([])))) == []


def test_an_event_of_a_confidential_complaint_keeps_its_proof_but_not_its_content() -> None:
    submitted = complaint_events("confidential")[0]
    record = opendata.event_record(submitted, hidden=True)
    assert record["payload"] is None and record["redacted"] is True
    assert record["hash"] == submitted.hash and record["signature"] == submitted.signature
    assert [f.name for f in opendata.EVENT_FIELDS] == list(record)
    shown = opendata.event_record(submitted, hidden=False)
    assert shown["payload"] == submitted.payload and shown["redacted"] is False


def test_the_public_shapes_of_a_complaint() -> None:
    doc = projections.complaint_view(complaint_events())
    row = opendata.complaint_record(doc)
    assert [f.name for f in opendata.COMPLAINT_FIELDS] == list(row)
    assert row["agency_id"] == "pupr" and row["first_answer_at"] == "2026-11-26T02:00:00.000000Z"
    assert opendata.public_json(doc)["responses"][0]["body"] == "Sudah ditambal."
    secret = opendata.public_json(projections.complaint_view(complaint_events("confidential")))
    assert set(secret) == {"tracking_code", "visibility", "message", "submitted_at"}
