"""An Open311 POST as a submission: what is kept, what is refused, named as the client sent it."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.intake import domain, open311
from services.intake.schemas import SUBMISSION

POST = {
    "service_code": "keluhan", "description": "Sampah menumpuk di TPS dekat pasar. Baunya sampai ke rumah.",
    "address_string": "Jl. Pupuk Raya, dekat pasar", "attributes": {"kelurahan": "Loktuan"},
    "first_name": "Siti", "last_name": "Rahma", "phone": "0812-1111-2222", "email": "siti@example.org",
    "device_id": "abc123", "account_id": "77", "media_url": "http://example.org/x.jpg",
}


def test_a_request_becomes_a_submission_with_the_contact_kept_apart() -> None:
    data = open311.submission_data(POST)
    assert data == {
        "kind": "keluhan", "title": "Sampah menumpuk di TPS dekat pasar.", "body": POST["description"],
        "kelurahan": "Loktuan", "address": "Jl. Pupuk Raya, dekat pasar", "visibility": "public",
        "reporter": {"name": "Siti Rahma", "phone": "0812-1111-2222", "email": "siti@example.org"},
    }
    assert SUBMISSION.load(data)["kind"] == "keluhan"
    assert "abc123" not in str(data) and "example.org/x.jpg" not in str(data)


def test_coordinates_become_the_location_text_when_there_is_no_address() -> None:
    data = open311.submission_data({**POST, "address_string": "", "lat": "0.1325", "long": "117.4853"})
    assert data["address"] == "Koordinat 0.132500, 117.485300"


@pytest.mark.parametrize("change, status, words", [
    ({"service_code": ""}, 400, "service_code wajib"),
    ({"service_code": "protes"}, 404, "tidak dikenal"),
    ({"address_string": ""}, 400, "Lokasi wajib"),
    ({"address_string": "", "address_id": "123"}, 400, "address_id tidak didukung"),
    ({"address_string": "", "lat": "1.0"}, 400, "berdua"),
    ({"address_string": "", "lat": "utara", "long": "1"}, 400, "angka"),
    ({"address_string": "", "lat": "91", "long": "1"}, 400, "rentang"),
    ({"attributes": {}}, 400, "attribute[kelurahan] wajib"),
    ({"description": "x" * 4001}, 400, "4.000"),
])
def test_what_only_open311_can_say_is_refused_with_its_status(change: dict, status: int, words: str) -> None:
    with pytest.raises(open311.Refused) as refused:
        open311.submission_data({**POST, **change})
    assert refused.value.status == status and words in refused.value.description


def test_field_errors_name_the_open311_fields() -> None:
    data = open311.submission_data({**POST, "email": "bukan-email", "attributes": {"kelurahan": "Menteng"},
                                    "description": "pendek"})
    with pytest.raises(ValidationError) as invalid:
        SUBMISSION.load(data)
    described = sorted(e["description"] for e in open311.errors_from(invalid.value.messages))
    assert described == [
        "attribute[kelurahan]: Kelurahan tidak dikenal di Kota Bontang.",
        "description: Isi aduan harus 10 sampai 5000 karakter.",
        "email: Alamat email tidak valid.",
    ]


def test_titles_from_the_description() -> None:
    assert domain.title_from("Lampu mati. Sudah lama.", "Keluhan") == "Lampu mati."
    long = "kata " * 40
    title = domain.title_from(long, "Keluhan")
    assert title.endswith("…") and len(title) <= 81
    assert domain.title_from("ok", "Saran") == "Saran: ok"
