from __future__ import annotations

import pytest

from kesah import reference
from services.routing import rules

REF = reference.load()
RULES = rules.seed_rules(REF)
TRIAGE = (REF.triage_agency, REF.agency(REF.triage_agency).name)


def choose(text: str, kind: str = "keluhan", kelurahan: str = "Api-Api") -> rules.Decision:
    return rules.choose(kind=kind, kelurahan=kelurahan, texts=[text], rules=RULES, triage=TRIAGE)


@pytest.mark.parametrize(
    "text, agency",
    [
        ("Jalan berlubang di depan SD 001", "pupr"),
        ("Sampah menumpuk di TPS dekat pasar, baunya menyengat", "dlh"),
        ("Lampu lalu lintas di simpang tiga mati sejak kemarin", "dishub"),
        ("Kapan jadwal fogging DBD di RT 12?", "dinkes"),
        ("Antrean poli di RSUD lama sekali", "rsud"),
        ("Bagaimana cara mengurus e-KTP yang hilang?", "disdukcapil"),
        ("Air keruh dan berbau sejak tiga hari", "pdam"),
        ("PKL berjualan di trotoar menutup jalan", "pupr"),
        ("Pedagang kaki lima mengganggu ketertiban di taman", "satpolpp"),
        ("Banjir setinggi lutut di perumahan", "bpbd"),
    ],
)
def test_keywords_route_to_the_agency_that_owns_them(text: str, agency: str) -> None:
    assert choose(text).agency_id == agency


def test_no_keyword_goes_to_triage_with_a_reason() -> None:
    decision = choose("Terima kasih atas pelayanannya")
    assert decision.agency_id == "diskominfo"
    assert decision.matched_keywords == ()
    assert "dipilah" in decision.reason


def test_keywords_match_whole_words_only() -> None:
    # "kk" is a keyword of disdukcapil; "kakak" must not match it, nor "obat" inside "obati".
    assert choose("Kakak saya diobati dengan baik").agency_id == "diskominfo"


def test_a_phrase_outweighs_a_single_word() -> None:
    decision = choose("Lampu lalu lintas rusak dan jalan macet")
    assert decision.agency_id == "dishub"
    assert set(decision.matched_keywords) >= {"lampu lalu lintas", "macet"}


def test_ties_go_to_the_earlier_rule() -> None:
    assert choose("jalan dan sampah").agency_id == "pupr"


def test_rules_can_be_limited_by_kind_and_kelurahan() -> None:
    only_saran = rules.Rule("dinsos", "Dinas Sosial", ("jalan",), kinds=("saran",), kelurahan=("Loktuan",))
    picked = rules.choose(kind="saran", kelurahan="Loktuan", texts=["jalan"], rules=[only_saran], triage=TRIAGE)
    assert picked.agency_id == "dinsos"
    other_kind = rules.choose(kind="keluhan", kelurahan="Loktuan", texts=["jalan"], rules=[only_saran], triage=TRIAGE)
    assert other_kind.agency_id == "diskominfo"
    other_place = rules.choose(kind="saran", kelurahan="Kanaan", texts=["jalan"], rules=[only_saran], triage=TRIAGE)
    assert other_place.agency_id == "diskominfo"


def test_matching_ignores_case_and_spacing() -> None:
    assert choose("JALAN   BERLUBANG").matched_keywords == ("jalan", "berlubang")
