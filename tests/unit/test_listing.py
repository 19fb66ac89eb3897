from __future__ import annotations

from services.publicview import listing
from services.publicview.projections import STATUS_LABELS


def test_tracking_codes_are_read_as_people_type_them() -> None:
    assert listing.tracking_code("kj4m x7pa") == "KJ4M-X7PA"
    assert listing.tracking_code(" KJ4M-X7PA ") == "KJ4M-X7PA"
    assert listing.tracking_code("KJ4M-X7P") is None
    assert listing.tracking_code("<script>") is None


def test_search_terms_are_words_only_so_they_cannot_be_query_syntax() -> None:
    assert listing.search_terms('jalan "berlubang" OR NEAR(x) *drop* ; --') == [
        "jalan", "berlubang", "or", "near", "x", "drop"]
    assert listing.search_terms("Jalan_Rusak") == ["jalan", "rusak"]
    assert listing.search_terms(None) == []


def test_dates_are_days_in_bontang() -> None:
    asked = listing.from_params({"dari": "2026-11-25", "sampai": "2026-11-25"}, STATUS_LABELS)
    # Midnight WITA is 16:00 UTC the day before; the last day is included whole.
    assert asked.query.submitted_from == "2026-11-24T16:00:00.000000Z"
    assert asked.query.submitted_before == "2026-11-25T16:00:00.000000Z"
    assert asked.errors == []


def test_known_filters_become_the_query_and_unknown_ones_are_dropped_with_a_message() -> None:
    asked = listing.from_params(
        {"q": " lampu ", "jenis": "keluhan", "kelurahan": "Api-Api", "instansi": "pupr", "status": "dijawab",
         "halaman": "3"}, STATUS_LABELS)
    assert asked.query == listing.Query(kinds=("keluhan",), kelurahan="Api-Api", agency="pupr",
                                        statuses=("dijawab",), text="lampu")
    assert asked.page == 3 and asked.errors == []

    bad = listing.from_params({"jenis": "protes", "kelurahan": "Menteng", "instansi": "x", "status": "y",
                               "dari": "kemarin", "halaman": "-4"}, STATUS_LABELS)
    assert bad.query == listing.Query()
    assert bad.page == 1
    assert len(bad.errors) == 5
    assert bad.values["jenis"] == "" and bad.values["dari"] == "kemarin"


def test_reversed_dates_are_refused() -> None:
    asked = listing.from_params({"dari": "2026-11-25", "sampai": "2026-11-01"}, STATUS_LABELS)
    assert asked.errors == ["Tanggal awal harus sebelum tanggal akhir."]
    assert asked.query.submitted_from is None


def test_search_text_holds_the_public_content_and_answers() -> None:
    doc = {"tracking_code": "ACDE-FHJK", "title": "Lampu mati", "body": "Gelap", "address": "Jl. A",
           "kelurahan": "Api-Api", "kecamatan": "Bontang Utara", "agency": {"name": "Dinas Perhubungan"},
           "responses": [{"body": "Sudah diganti"}]}
    text = listing.search_text(doc)
    for part in ("ACDE-FHJK", "Lampu mati", "Gelap", "Dinas Perhubungan", "Sudah diganti"):
        assert part in text
