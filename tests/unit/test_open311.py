"""Open311 GeoReport v2 as the spec words it: field names, order, types, formats."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest

from services.publicview import open311, projections

from .events import complaint_events

REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]
NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)


def test_the_five_kinds_are_the_services() -> None:
    services = open311.services()
    assert [s["service_code"] for s in services] == ["informasi", "keluhan", "pertanyaan", "kritik", "saran"]
    for s in services:
        assert list(s) == ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
        assert s["metadata"] is True and s["type"] == "realtime"


def test_the_definition_asks_for_the_kelurahan() -> None:
    definition = open311.service_definition("keluhan")
    kelurahan = definition["attributes"][0]
    assert (kelurahan["code"], kelurahan["datatype"], kelurahan["required"], kelurahan["order"]) == (
        "kelurahan", "singlevaluelist", True, 1)
    assert {"key": "Api-Api", "name": "Api-Api (Kec. Bontang Utara)"} in kelurahan["values"]
    with pytest.raises(open311.Open311Error) as error:
        open311.service_definition("protes")
    assert error.value.status == 404


def test_a_complaint_as_a_service_request() -> None:
    doc = projections.complaint_view(complaint_events())
    request = open311.service_request(doc, "https://kesah.example/", projections.STATUS_LABELS)
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == "ACDE-FHJK" and request["status"] == "open"
    assert request["requested_datetime"] == "2026-11-25T01:00:00Z"
    assert request["expected_datetime"] == "2026-12-02T23:59:59+08:00"
    assert request["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert request["address"] == "Jl. Mawar, Kel. Api-Api, Kec. Bontang Utara, Kota Bontang"
    assert request["lat"] is None and request["media_url"] is None
    assert open311.open_or_closed("selesai") == "closed" and open311.open_or_closed("ditolak") == "closed"


def test_list_arguments_become_a_query_of_at_most_90_days() -> None:
    query = open311.requests_query({}, NOW)
    assert query.submitted_from == "2026-09-01T12:00:00.000000Z"
    query = open311.requests_query({"service_code": "keluhan,saran", "status": "open",
                                    "start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-30"}, NOW)
    assert query.kinds == ("keluhan", "saran") and query.statuses_not == ("ditolak", "selesai")
    assert query.submitted_from == "2026-11-01T00:00:00.000000Z"
    assert query.submitted_before == "2026-11-30T16:00:00.000000Z"  # a date ends at midnight WITA
    assert open311.requests_query({"status": "closed"}, NOW).statuses == ("ditolak", "selesai")
    ids = open311.requests_query({"service_request_id": "acde-fhjk,KJ4M-X7PA", "status": "bogus"}, NOW)
    assert ids.codes == ("ACDE-FHJK", "KJ4M-X7PA")  # ids override every other argument


@pytest.mark.parametrize("params", [
    {"status": "pending"},
    {"service_code": "protes"},
    {"start_date": "kemarin"},
    {"start_date": "2026-11-01T00:00:00"},  # no time zone
    {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},  # more than 90 days
    {"start_date": "2026-11-02T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
])
def test_bad_list_arguments_are_400(params: dict[str, str]) -> None:
    with pytest.raises(open311.Open311Error) as error:
        open311.requests_query(params, NOW)
    assert error.value.status == 400


def test_xml_follows_the_spark_convention_and_json_is_its_mapping() -> None:
    value = [{"service_code": "keluhan", "metadata": True, "keywords": None}]
    root = ET.fromstring(open311.to_xml("services", value))
    assert root.tag == "services" and [c.tag for c in root] == ["service"]
    assert [(c.tag, c.text) for c in root[0]] == [("service_code", "keluhan"), ("metadata", "true"), ("keywords", None)]
    errors = open311.error("json", 403, "api_key salah")
    assert errors.status_code == 403 and json.loads(errors.body) == [{"code": 403, "description": "api_key salah"}]
    xml = ET.fromstring(open311.error("xml", 404, "tidak ada").body)
    assert xml.tag == "errors" and xml[0].tag == "error" and xml[0].find("code").text == "404"


def test_text_that_xml_cannot_carry_is_dropped_and_markup_is_escaped() -> None:
    body = open311.to_xml("service_requests", [{"description": "a\x00b\x1b<c>&"}])
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert ET.fromstring(body)[0][0].text == "ab<c>&"


def test_discovery_names_the_spec_and_formats() -> None:
    found = open311.discovery("https://kesah.example/")
    assert list(found) == ["changeset", "contact", "key_service", "endpoints"]
    (endpoint,) = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "https://kesah.example/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"] and endpoint["type"] == "production"
