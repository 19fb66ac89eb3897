from __future__ import annotations

import pytest

from kesah.refusal import Refusal, answer


class Invalid(Refusal):
    status = 422


def test_an_action_done_is_ok_and_a_refusal_is_said_in_indonesian_with_its_status() -> None:
    assert answer(lambda: "ABCD-EFGH") == {"ok": "ABCD-EFGH"}

    def refused() -> None:
        raise Invalid("a rule needs at least one keyword", "Aturan memerlukan sedikitnya satu kata kunci.")

    assert answer(refused) == {"error": "Aturan memerlukan sedikitnya satu kata kunci.", "status": 422}


def test_a_refusal_said_once_is_its_own_indonesian_text_and_a_status_may_be_given() -> None:
    only = Refusal("Aduan ini sudah diteruskan.")
    assert (str(only), only.in_indonesian, only.status) == ("Aduan ini sudah diteruskan.",) * 2 + (409,)
    assert Refusal("no post", "Kiriman itu tidak ditemukan.", 404).status == 404


def test_anything_else_is_not_an_answer() -> None:
    with pytest.raises(KeyError):
        answer(lambda: {}["x"])
