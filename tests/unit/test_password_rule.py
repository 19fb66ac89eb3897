"""The portal's password rule: length, common passwords and their decorations, the account's own words."""

from __future__ import annotations

import pytest

from services.responses import passwords
from services.responses.passwords import COMMON, DERIVED, TOO_SHORT

PUPR = ("pupr", "Dinas Pekerjaan Umum dan Penataan Ruang")


def problem(password: str) -> passwords.Problem | None:
    return passwords.problem(password, "budi.s", "Budi Santoso", PUPR)


def test_the_shipped_list_holds_at_least_the_ten_thousand_most_common_passwords() -> None:
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert {"123456", "password", "qwerty", "iloveyou", "bismillah", "sayang"} <= common


@pytest.mark.parametrize("password", ["", "pendek", "123456789"])
def test_a_password_shorter_than_ten_characters_is_refused(password: str) -> None:
    assert problem(password) is TOO_SHORT


@pytest.mark.parametrize("password", [
    "1234567890", "qwertyuiop", "1qaz2wsx3edc",  # on the list as they are
    "password123", "Password2026!", "!!sunshine!!", "P@ssw0rd1234", "iloveyou2026",  # decorated
    "bismillah123", "Sayangku2026", "indonesia1945",  # the Indonesian supplement
    "qwertyqwerty", "dragondragon",  # repeated
    "abcdefghijkl", "zyxwvutsrqpo", "asdfghjkl;'",  # runs of letters or keys
    "aaaaaaaaaaaa", "abababababab", "1212121212",  # too few different characters
])
def test_common_passwords_are_refused_also_decorated(password: str) -> None:
    assert problem(password) is COMMON


@pytest.mark.parametrize("password", [
    "Bontang2026!", "B0ntang#2026", "bontangku123", "kesah-etam-2026", "KesahEtam!!2026",
    "budi.s-12345", "budisantoso99", "santoso.budi.1", "pupr-bontang-1", "PenataanRuang2026",
    "sandi-budi-12345", "admin-pupr-2026", "operator2026bontang",
])
def test_passwords_built_from_the_account_agency_or_city_are_refused(password: str) -> None:
    assert problem(password) is DERIVED


@pytest.mark.parametrize("password", [
    "Lubang-budi-Awang-Long", "tambal jalan pagi hari", "kopi susu di pasar malam", "Xq7!vR2#mP9z",
    "Bontang-lampu-taman-padam",  # the city's name beside enough of one's own
])
def test_passwords_of_ones_own_are_accepted(password: str) -> None:
    assert problem(password) is None


def test_the_same_password_may_suit_one_account_and_not_another() -> None:
    assert passwords.problem("andi-kurniawan-77", "budi", "Budi") is None
    assert passwords.problem("andi-kurniawan-77", "andi", "Andi Kurniawan") is DERIVED


def test_every_problem_speaks_indonesian_to_the_person_and_english_to_the_command_line() -> None:
    for each in (TOO_SHORT, COMMON, DERIVED):
        assert each.message.startswith("Kata sandi") and each.english.startswith("the password")


def test_generated_passwords_pass_the_rule_they_are_generated_for() -> None:
    made = {passwords.generate("operator", "Operator Diskominfo") for _ in range(200)}
    assert len(made) == 200
    assert all(len(p) >= 20 and passwords.problem(p, "operator", "Operator Diskominfo") is None for p in made)
