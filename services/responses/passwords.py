"""The password rule of the agency portal, and the passwords it generates.

A password is refused when it is shorter than ``MIN_LENGTH``; when it is a
common password (``data/common-passwords*.txt``), also with digits or
symbols added at its ends, with letters written as digits (``p@ssw0rd``)
or repeated (``qwertyqwerty``), or a run of keys or letters
(``abcdefghij``), or uses fewer than four different characters; and when it
is built only from the account's own words (username, name, agency) and
the city's (``bontang``, ``kesah``, ...) with at most three letters of its
own besides. Pure: the lists are read once, from the package.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Iterator

MIN_LENGTH = 10
# Letters a password may have besides the account's and the city's words before it counts as its own.
OWN_LETTERS = 4
# Words anyone guessing a password for this portal tries first.
CITY_WORDS = ("bontang", "kesah", "etam", "kesahetam", "kota", "pemkot", "diskominfo", "kominfo", "kaltim",
              "sandi", "katasandi", "password", "admin", "operator", "rahasia", "agency", "instansi")
SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm",
             "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p")
# Digits and symbols people write for letters; "1" stands for i or l, so both are tried.
_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "!": "i",
         "|": "i", "+": "t"}
LEET_I = str.maketrans({**_LEET, "1": "i"})
LEET_L = str.maketrans({**_LEET, "1": "l"})
_ENDS = string.digits + string.punctuation + string.whitespace


@dataclass(frozen=True)
class Problem:
    """Why a password is refused: ``message`` for the person (Indonesian), ``english`` for the command line."""

    code: str
    message: str
    english: str


TOO_SHORT = Problem("too-short", f"Kata sandi minimal {MIN_LENGTH} karakter.",
                    f"the password must have at least {MIN_LENGTH} characters")
COMMON = Problem("common", "Kata sandi ini terlalu umum atau mudah ditebak. Pilih yang lain, misalnya beberapa kata "
                           "acak yang Anda ingat.",
                 "the password is too common or too easy to guess (a common password, a run of keys or a repetition)")
DERIVED = Problem("derived", "Kata sandi tidak boleh dibentuk dari nama pengguna, nama, instansi, \"bontang\" atau "
                             "\"kesah\". Pilih yang lain.",
                  "the password is built from the username, the name, the agency, 'bontang' or 'kesah'")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    folder = resources.files("services.responses") / "data"
    words: set[str] = set()
    for name in ("common-passwords.txt", "common-passwords-id.txt"):
        words.update(line.strip() for line in (folder / name).read_text("utf-8").splitlines() if line.strip())
    return frozenset(words)


def problem(password: str, username: str = "", name: str = "", agency: Iterable[str] = ()) -> Problem | None:
    """Why ``password`` may not be used by this account (None: it may). ``agency``: the agency's id and name."""
    if len(password) < MIN_LENGTH:
        return TOO_SHORT
    text = unicodedata.normalize("NFKC", password).lower()
    if _is_common(text):
        return COMMON
    if _is_derived(text, [username, name, *agency]):
        return DERIVED
    return None


def _variants(text: str) -> Iterator[str]:
    """The password as typed, without digits and symbols at its ends, and with digits read as letters."""
    for candidate in (text, text.translate(LEET_I), text.translate(LEET_L)):
        yield candidate
        yield candidate.strip(_ENDS)
    yield text.strip(_ENDS).translate(LEET_I)
    yield text.strip(_ENDS).translate(LEET_L)


def _is_common(text: str) -> bool:
    if len(set(text)) < 4:
        return True
    common = common_passwords()
    for candidate in _variants(text):
        if not candidate:
            continue
        unit = _repeated_unit(candidate)
        if candidate in common or unit in common:
            return True
        if len(unit) >= 4 and any(unit in seq or unit in seq[::-1] for seq in SEQUENCES):
            return True
    return False


def _repeated_unit(text: str) -> str:
    """The shortest piece that ``text`` repeats (``text`` itself when it repeats nothing)."""
    found = re.fullmatch(r"(.+?)\1+", text)
    return found.group(1) if found else text


def _words(texts: Iterable[str]) -> list[str]:
    words = set(CITY_WORDS)
    for text in texts:
        lowered = unicodedata.normalize("NFKC", text or "").lower()
        words.add("".join(c for c in lowered if c.isalpha()))
        words.update(re.findall(r"[^\W\d_]+", lowered))
    # Longest first, so "kesahetam" goes before "kesah" leaves "etam" behind.
    return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def _is_derived(text: str, texts: Iterable[str]) -> bool:
    words = _words(texts)
    for candidate in (text, text.translate(LEET_I), text.translate(LEET_L)):
        letters = "".join(c for c in candidate if c.isalpha())
        rest = letters
        for word in words:
            rest = rest.replace(word, "")
        if rest != letters and len(rest) < OWN_LETTERS:
            return True
    return False


def generate(username: str = "", name: str = "", agency: Iterable[str] = ()) -> str:
    """A random password the rule accepts (20 characters from ``secrets``)."""
    agency = tuple(agency)
    while True:
        password = secrets.token_urlsafe(15)
        if problem(password, username, name, agency) is None:
            return password
