"""The OpenAPI document (kesah/openapi.py) describes every route of every face, and is valid OpenAPI 3.0.

The faces are built for real (on SQLite files in a temporary data directory), so a route added to
any face without being described here fails this test.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
import schemathesis
from starlette.routing import Mount, Route

from kesah import config, devserver, gateway, openapi

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _template(path: str) -> str:
    """A path with its parameters' names and converters left out: /a/{x:int}.json -> /a/{}.json."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def face_routes(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route of a face; HEAD goes with GET, a Mount serves files below it."""
    for route in app.routes:
        if isinstance(route, Mount):
            yield "get", _template(route.path + "/{path}")
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method.lower(), _template(route.path)
        else:
            raise AssertionError(f"a route of a kind this test does not know: {route!r}")


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = config.load({"KESAH_DATA_DIR": str(tmp_path_factory.mktemp("openapi"))})
    devserver.prepare(settings)
    return {face: gateway.build_face(face, settings) for face in gateway.FACES}


def described() -> set[tuple[str, str]]:
    return {(method, _template(path)) for path, item in openapi.document()["paths"].items()
            for method in item if method in METHODS}


def test_every_route_of_every_face_is_described(faces: dict[str, Any]) -> None:
    missing = sorted({f"{method.upper()} {path} ({face})" for face, app in faces.items()
                      for method, path in face_routes(app)} - {f"{m.upper()} {p} ({face})" for face in faces
                                                                 for m, p in described()})
    assert not missing, "routes not in kesah/openapi.py:\n" + "\n".join(missing)


def test_every_described_operation_is_served_by_the_face_its_path_goes_to(faces: dict[str, Any]) -> None:
    served = {face: set(face_routes(app)) for face, app in faces.items()}
    wrong = []
    for path, item in openapi.document()["paths"].items():
        face = gateway.face_for(path.replace("{", "x").replace("}", "x"))
        wrong += [f"{method.upper()} {path} -> {face}" for method in item
                  if method in METHODS and (method, _template(path)) not in served[face]]
    assert not wrong, "described but not served where the gateway (and the Ingress) sends it:\n" + "\n".join(wrong)


def test_the_document_is_valid_openapi_3() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.")
    schema = schemathesis.openapi.from_dict(document)
    schema.validate()  # the OpenAPI 3.0 meta-schema
    problems = [str(result.err()) for result in schema.get_all_operations() if result.__class__.__name__ != "Ok"]
    assert not problems
    for path, item in document["paths"].items():
        declared = {p["name"] for op in item.values() for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), path
        for method, operation in item.items():
            assert operation["responses"], f"{method} {path} has no responses"


def test_request_bodies_are_the_faces_own_schemas() -> None:
    """What intake and responses check is what the document says: the marshmallow schemas themselves."""
    from services.intake.schemas import SUBMISSION

    document = openapi.document()
    body = document["paths"]["/api/complaints"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Submission"}
    submission = document["components"]["schemas"]["Submission"]
    assert set(submission["properties"]) == set(SUBMISSION.fields)
    assert submission["properties"]["title"]["maxLength"] == 200
    assert document["components"]["schemas"]["Delivery"]["properties"]["posts"]["maxItems"] == 500


def test_the_document_is_json() -> None:
    import json

    text = json.dumps(openapi.document(), allow_nan=False)
    assert json.loads(text)["info"]["title"] == "Kesah Etam"
