"""Open311 GeoReport v2 driven with a plain HTTP client, every endpoint, JSON and XML, against the spec."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

from tests.support.system import System, wait_until

V2 = "/open311/v2"
W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
SERVICE = {"service_code": str, "service_name": str, "description": str, "metadata": bool, "type": str,
           "keywords": str, "group": str}
ATTRIBUTE = {"variable": bool, "code": str, "datatype": str, "required": bool, "datatype_description": str,
             "order": int, "description": str}
REQUEST = {  # GET Service Request(s), in the spec's order; None: "may not be returned" / not kept here
    "service_request_id": str, "status": str, "status_notes": (str, type(None)), "service_name": str,
    "service_code": str, "description": str, "agency_responsible": (str, type(None)),
    "service_notice": (str, type(None)), "requested_datetime": str, "updated_datetime": str,
    "expected_datetime": (str, type(None)), "address": str, "address_id": type(None), "zipcode": type(None),
    "lat": type(None), "long": type(None), "media_url": (str, type(None)),
}
XML_BOOL = {"true", "false"}


def typed(value: dict[str, Any], shape: dict[str, Any]) -> None:
    assert list(value) == list(shape), (list(value), list(shape))
    for name, kind in shape.items():
        assert isinstance(value[name], kind), (name, value[name])


def xml_of(response: Any, root: str) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = ET.fromstring(response.content)
    assert element.tag == root
    return element


def json_of(response: Any) -> Any:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()


def same_in_xml(item: ET.Element, value: dict[str, Any]) -> None:
    """The XML element holds the JSON object's fields, in order, as text (Spark convention)."""
    assert [c.tag for c in item] == list(value)
    for child in item:
        expected = value[child.tag]
        if isinstance(expected, bool):
            assert child.text in XML_BOOL and (child.text == "true") == expected
        elif isinstance(expected, (str, int)):
            assert child.text == str(expected), child.tag
        elif expected is None:
            assert child.text is None and len(child) == 0, child.tag


def api_key(system: System) -> str:
    done = subprocess.run([sys.executable, "-m", "kesah", "open311", "key", "aplikasi-uji"], env=system.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_endpoint_in_json_and_xml(system: System) -> None:
    http = system.http

    # Service discovery.
    discovery = json_of(http.get(f"{V2}/discovery.json"))
    assert list(discovery) == ["changeset", "contact", "key_service", "endpoints"]
    assert all(isinstance(discovery[k], str) for k in ("changeset", "contact", "key_service"))
    (endpoint,) = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] in ("production", "test")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml_of(http.get(f"{V2}/discovery.xml"), "discovery")
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == endpoint["formats"]

    # GET Service List.
    services = json_of(http.get(f"{V2}/services.json", params={"jurisdiction_id": "bontangkota.go.id"}))
    assert [s["service_code"] for s in services] == ["informasi", "keluhan", "pertanyaan", "kritik", "saran"]
    for service in services:
        typed(service, SERVICE)
        assert service["type"] in ("realtime", "batch", "blackbox")
    root = xml_of(http.get(f"{V2}/services.xml"), "services")
    assert [c.tag for c in root] == ["service"] * 5
    for item, service in zip(root, services):
        same_in_xml(item, service)

    # GET Service Definition.
    definition = json_of(http.get(f"{V2}/services/keluhan.json"))
    assert list(definition) == ["service_code", "attributes"] and definition["service_code"] == "keluhan"
    for attribute in definition["attributes"]:
        values = attribute.pop("values", None)
        typed(attribute, ATTRIBUTE)
        assert attribute["datatype"] in ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
        for value in values or []:
            assert list(value) == ["key", "name"]
    root = xml_of(http.get(f"{V2}/services/keluhan.xml"), "service_definition")
    attributes = root.find("attributes")
    assert [a.find("code").text for a in attributes] == ["kelurahan", "visibility", "title"]
    assert len(attributes[0].find("values")) == 15 and attributes[0].find("values/value/key").text == "Bontang Kuala"

    # POST Service Request: refused without a key (403), then accepted (JSON and XML).
    form = {"service_code": "keluhan", "address_string": "Jl. Brigjend Katamso, depan SD 003",
            "description": "Drainase tersumbat, air menggenang setiap hujan di depan sekolah.",
            "attribute[kelurahan]": "Bontang Baru", "first_name": "Andi", "last_name": "Wijaya",
            "email": "andi.wijaya@example.org", "phone": "0813-2222-9999", "device_id": "perangkat-1"}
    refused = http.post(f"{V2}/requests.json", data=form)
    assert refused.status_code == 403
    ((error),) = json_of(refused)
    assert error["code"] == 403 and isinstance(error["description"], str)
    refused = http.post(f"{V2}/requests.xml", data={**form, "api_key": "salah"})
    assert refused.status_code == 403
    root = xml_of(refused, "errors")
    assert root[0].tag == "error" and root[0].find("code").text == "403"

    key = api_key(system)
    created = http.post(f"{V2}/requests.json", data={**form, "api_key": key})
    assert created.status_code == 201, created.text
    (made,) = json_of(created)
    assert list(made) == ["service_request_id", "service_notice", "account_id"]
    assert isinstance(made["service_request_id"], str) and made["account_id"] is None
    code = made["service_request_id"]
    created = http.post(f"{V2}/requests.xml", data={**form, "api_key": key, "attribute[visibility]": "anonymous",
                                                     "first_name": "", "last_name": "", "email": "", "phone": ""})
    assert created.status_code == 201, created.text
    root = xml_of(created, "service_requests")
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
    anonymous = root[0].find("service_request_id").text

    # POST errors: 404 unknown service, 400 for everything else, several at once, in both formats.
    unknown = http.post(f"{V2}/requests.json", data={**form, "api_key": key, "service_code": "protes"})
    assert unknown.status_code == 404 and json_of(unknown)[0]["code"] == 404
    bad = http.post(f"{V2}/requests.xml", data={**form, "api_key": key, "email": "bukan", "attribute[kelurahan]": "X"})
    assert bad.status_code == 400
    assert sorted(e.find("description").text.split(":")[0] for e in xml_of(bad, "errors")) == [
        "attribute[kelurahan]", "email"]
    no_place = http.post(f"{V2}/requests.json", data={**form, "api_key": key, "address_string": ""})
    assert no_place.status_code == 400 and "Lokasi" in json_of(no_place)[0]["description"]

    # GET Service Request: the new request, once routed, with every field typed as the spec says.
    system.routed(code)
    (request,) = json_of(http.get(f"{V2}/requests/{code}.json"))
    typed(request, REQUEST)
    assert request["service_request_id"] == code and request["status"] == "open"
    assert request["service_code"] == "keluhan" and request["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert request["description"] == form["description"]
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3.match(request[name]), (name, request[name])
    assert "Kel. Bontang Baru" in request["address"]
    root = xml_of(http.get(f"{V2}/requests/{code}.xml"), "service_requests")
    same_in_xml(root[0], request)
    assert "Andi" not in json.dumps(request) and "example.org" not in http.get(f"{V2}/requests/{code}.xml").text
    missing = http.get(f"{V2}/requests/AAAA-AAAA.json")
    assert missing.status_code == 404 and json_of(missing)[0]["code"] == 404

    # GET Service Requests: filters by code, status and dates; the id list overrides them.
    system.wait_public(anonymous)
    today = dt.datetime.now(dt.timezone.utc)
    window = {"start_date": (today - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end_date": (today + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def listed(fmt: str = "json", **params: str) -> list[str]:
        response = http.get(f"{V2}/requests.{fmt}", params=params)
        assert response.status_code == 200, response.text
        if fmt == "xml":
            return [r.find("service_request_id").text for r in xml_of(response, "service_requests")]
        items = json_of(response)
        for item in items:
            typed(item, REQUEST)
        return [i["service_request_id"] for i in items]

    assert set(listed()) == {code, anonymous}
    assert set(listed("xml", service_code="keluhan", status="open", **window)) == {code, anonymous}
    assert listed(status="closed") == []
    assert listed(service_code="saran,kritik") == []
    assert listed(start_date="2020-01-01T00:00:00Z", end_date="2020-02-01T00:00:00Z") == []
    assert listed(service_request_id=f"{anonymous},AAAA-AAAA", status="closed") == [anonymous]
    for params, status in (({"status": "terbuka"}, 400), ({"start_date": "kemarin"}, 400),
                           ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"}, 400),
                           ({"jurisdiction_id": "jakarta.go.id"}, 404)):
        for fmt in ("json", "xml"):
            response = http.get(f"{V2}/requests.{fmt}", params=params)
            assert response.status_code == status, (params, fmt)
            code_text = (json_of(response)[0]["code"] if fmt == "json"
                         else xml_of(response, "errors").find("error/code").text)
            assert int(code_text) == status

    # Confidential requests are never shown; unknown paths and formats answer in the error format.
    confidential = http.post(f"{V2}/requests.json", data={**form, "api_key": key,
                                                          "attribute[visibility]": "confidential"})
    (hidden,) = json_of(confidential)
    system.wait_public(hidden["service_request_id"])
    assert http.get(f"{V2}/requests/{hidden['service_request_id']}.json").status_code == 404
    assert hidden["service_request_id"] not in listed()
    assert http.get(f"{V2}/requests.csv").status_code == 404
    assert xml_of(http.get(f"{V2}/tokens/123.xml"), "errors").find("error/code").text == "404"
    wrong_method = http.delete(f"{V2}/requests.json")
    assert wrong_method.status_code == 405 and json_of(wrong_method)[0]["code"] == 405


def test_posting_while_intake_cannot_be_reached_is_a_clear_error(make_system: Any) -> None:
    system = make_system(extra_env={"KESAH_INTAKE_URL": "http://127.0.0.1:9"}).start("web")
    for fmt in ("json", "xml"):
        response = system.http.post(f"{V2}/requests.{fmt}", data={"service_code": "keluhan", "api_key": "x"})
        assert response.status_code == 400 and "tidak dapat dihubungi" in response.text
