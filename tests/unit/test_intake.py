from __future__ import annotations

import re

import pytest
from marshmallow import ValidationError

from kesah import contracts
from services.intake import domain
from services.intake.schemas import SUBMISSION, canonical_kelurahan
from services.intake.store import ContactVault

VALID = {
    "kind": "keluhan",
    "title": "Drainase tersumbat",
    "body": "Drainase di gang kami tersumbat sampah.",
    "kelurahan": "Tanjung Laut",
}


def test_tracking_codes_use_only_unambiguous_characters() -> None:
    codes = {domain.new_tracking_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert re.match(contracts.TRACKING_CODE_RE, code)
        assert not set(code.replace("-", "")) & set("0O1IL2Z5S6G8B")


@pytest.mark.parametrize("typed", ["acde-fhjk", " ACDE FHJK ", "ACDEFHJK", "acdefhjk"])
def test_a_typed_tracking_code_is_normalized(typed: str) -> None:
    assert domain.normalize_tracking_code(typed) == "ACDE-FHJK"


@pytest.mark.parametrize("typed", ["", "ACDE-FHJ", "ACDE-FHJK1", "ABCD-EFGH", "<script>"])
def test_what_cannot_be_a_code_is_refused(typed: str) -> None:
    assert domain.normalize_tracking_code(typed) is None


def test_the_secret_is_stored_only_as_a_hash() -> None:
    secret = domain.new_secret()
    assert len(secret) == 10
    assert domain.secret_hash(secret) == domain.secret_hash(secret.upper() + " ")
    assert secret not in domain.secret_hash(secret)


def test_a_valid_submission_loads_with_defaults() -> None:
    loaded = SUBMISSION.load(VALID)
    assert loaded["visibility"] == "public"


def test_contact_fields_are_accepted_flat_or_nested() -> None:
    flat = SUBMISSION.load({**VALID, "name": "Budi", "phone": "0812 3456 7890"})
    nested = SUBMISSION.load({**VALID, "reporter": {"name": "Budi", "phone": "0812 3456 7890"}})
    assert flat["reporter"] == nested["reporter"] == {"name": "Budi", "phone": "0812 3456 7890"}


def test_errors_are_in_indonesian_per_field() -> None:
    with pytest.raises(ValidationError) as caught:
        SUBMISSION.load({"kind": "protes", "title": "ab", "kelurahan": "Menteng", "reporter": {"email": "x"}})
    errors = caught.value.messages
    assert errors["kind"][0].startswith("Jenis harus salah satu dari")
    assert errors["title"] == ["Judul harus 5 sampai 200 karakter."]
    assert errors["body"] == ["Wajib diisi."]
    assert errors["kelurahan"] == ["Kelurahan tidak dikenal di Kota Bontang."]
    assert errors["reporter"] == {"email": ["Alamat email tidak valid."]}


def test_anonymous_submissions_refuse_contact_data() -> None:
    with pytest.raises(ValidationError) as caught:
        SUBMISSION.load({**VALID, "visibility": "anonymous", "phone": "081234567890"})
    assert "anonim" in caught.value.messages["reporter"][0]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        SUBMISSION.load(["keluhan"])  # type: ignore[arg-type]
    assert caught.value.messages == {"_schema": ["Data harus berupa objek JSON."]}


def test_kelurahan_matches_without_case_or_dash() -> None:
    assert canonical_kelurahan("api api") == "Api-Api"
    assert canonical_kelurahan("  BONTANG   baru ") == "Bontang Baru"
    assert canonical_kelurahan("Jakarta") is None


def test_the_submitted_event_carries_no_contact_data() -> None:
    submission = domain.Submission("keluhan", "Judul aduan", "Isi aduan panjang", "Api-Api", "Bontang Utara",
                                   "Jl. Mawar", "public", "web", {"name": "Budi", "phone": "0812"})
    event = domain.complaint_submitted(submission, "c0ffee00-0000-4000-8000-000000000000", "ACDE-FHJK")
    contracts.validate_payload(event.type, event.resolved_version(), event.payload)
    assert "Budi" not in str(event.payload) and "0812" not in str(event.payload)


def test_the_contact_vault_seals_each_complaint_under_its_own_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    from kesah import database, schema

    engine = database.create_engine(f"sqlite:///{tmp_path / 'vault.db'}")
    schema.prepare(engine, "contactvault")
    vault = ContactVault(Fernet.generate_key(), engine)
    one, two = "c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000002"
    sealed_one = vault.seal(one, {"name": "Budi"})
    sealed_two = vault.seal(two, {"name": "Budi"})
    assert sealed_one != sealed_two
    assert vault.open(one, sealed_one) == {"name": "Budi"}
    assert vault.open(two, sealed_one) is None  # another complaint's key opens nothing
    assert ContactVault(Fernet.generate_key(), engine).open(one, sealed_one) is None  # nor another master key
    assert vault.destroy(one) is True
    assert vault.open(one, sealed_one) is None  # crypto-shredded
    assert vault.destroy(one) is False
    assert vault.open(two, sealed_two) == {"name": "Budi"}
