from __future__ import annotations

import pytest

from kesah import reference
from services.routing import rules

REF = reference.load()
RULES = rules.seed_rules(REF)


def choose(text: str, kind: str = "keluhan", kelurahan: str = "Api-Api") -> rules.Decision | None:
    return rules.choose(kind=kind, kelurahan=kelurahan, texts=[text], rules=RULES)


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
    assert choose(text).agency_id == agency  # type: ignore[union-attr]


def test_no_keyword_means_no_decision_the_operator_routes_it() -> None:
    assert choose("Terima kasih atas pelayanannya") is None


def test_the_reason_names_the_keywords_and_the_rule() -> None:
    assert choose("Jalan berlubang").reason == "Kata kunci: jalan, berlubang (aturan pupr)."


def test_keywords_match_whole_words_only() -> None:
    # "kk" is a keyword of disdukcapil; "kakak" must not match it, nor "obat" inside "obati".
    assert choose("Kakak saya diobati dengan baik") is None


def test_a_phrase_outweighs_a_single_word() -> None:
    decision = choose("Lampu lalu lintas rusak dan jalan macet")
    assert decision.agency_id == "dishub"
    assert set(decision.matched_keywords) >= {"lampu lalu lintas", "macet"}


def test_ties_go_to_the_earlier_rule() -> None:
    assert choose("jalan dan sampah").agency_id == "pupr"


def test_rules_can_be_limited_by_kind_and_kelurahan() -> None:
    only_saran = rules.Rule("dinsos-1", "dinsos", "Dinas Sosial", ("jalan",), kinds=("saran",), kelurahan=("Loktuan",))
    picked = rules.choose(kind="saran", kelurahan="Loktuan", texts=["jalan"], rules=[only_saran])
    assert picked is not None and picked.agency_id == "dinsos"
    assert rules.choose(kind="keluhan", kelurahan="Loktuan", texts=["jalan"], rules=[only_saran]) is None
    assert rules.choose(kind="saran", kelurahan="Kanaan", texts=["jalan"], rules=[only_saran]) is None
    verdicts = rules.explain(kind="keluhan", kelurahan="Kanaan", texts=["jalan"], rules=[only_saran])
    assert verdicts[0].skipped == "kind"


def test_agencies_that_declined_are_left_out() -> None:
    decision = rules.choose(kind="keluhan", kelurahan="Api-Api", texts=["Sampah di jalan"], rules=RULES,
                            exclude={"pupr"})
    assert decision is not None and decision.agency_id == "dlh"


def test_matching_ignores_case_and_spacing() -> None:
    assert choose("JALAN   BERLUBANG").matched_keywords  # type: ignore[union-attr] == ("jalan", "berlubang")
