from __future__ import annotations

import pytest

from kesah.gateway import face_for


@pytest.mark.parametrize(
    "path, face",
    [
        ("/api/complaints", "intake"),
        ("/api/complaints/ACDE-FHJK", "publicview"),
        ("/api/intake/webhooks/meta", "intake"),
        ("/api/agency/complaints/x/responses", "responses"),
        ("/agency", "responses"),
        ("/agency/masuk", "responses"),
        ("/agencyx", "publicview"),
        ("/", "publicview"),
        ("/aduan/ACDE-FHJK", "publicview"),
    ],
)
def test_paths_go_where_the_ingress_sends_them(path: str, face: str) -> None:
    assert face_for(path) == face
