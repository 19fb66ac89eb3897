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
        ("/lapor", "intake"),
        ("/lapor/x", "publicview"),
        ("/pelapor/ACDE-FHJK", "intake"),
        ("/pelaporx", "publicview"),
        ("/api/intake/photos/7d0c1a3e-0000-4000-8000-000000000001", "intake"),
        ("/open311/v2/requests.json", "publicview"),
    ],
)
def test_paths_go_where_the_ingress_sends_them(path: str, face: str) -> None:
    assert face_for(path) == face
