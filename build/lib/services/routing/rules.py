"""Choosing the agency (OPD) for a complaint: transparent keyword rules.

Pure: the same complaint and rules always give the same decision, with the
reason spelled out, so an operator can see why a complaint went where it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from kesah import reference


@dataclass(frozen=True)
class Rule:
    agency_id: str
    agency_name: str
    keywords: tuple[str, ...]
    kinds: tuple[str, ...] = ()  # empty: every kind
    kelurahan: tuple[str, ...] = ()  # empty: everywhere


@dataclass(frozen=True)
class Decision:
    agency_id: str
    agency_name: str
    matched_keywords: tuple[str, ...]
    reason: str


def seed_rules(ref: reference.Reference | None = None) -> list[Rule]:
    ref = ref or reference.load()
    return [Rule(a.id, a.name, a.keywords) for a in ref.agencies]


def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words only: "kk" must not match inside "kakak"; "-" belongs to a word.
    return re.compile(r"(?<![\w-])" + re.escape(keyword.casefold()) + r"(?![\w-])")


def normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def matches(rule: Rule, text: str) -> tuple[str, ...]:
    return tuple(k for k in rule.keywords if _pattern(k).search(text))


def choose(
    *,
    kind: str,
    kelurahan: str,
    texts: Iterable[str],
    rules: Sequence[Rule],
    triage: tuple[str, str],
) -> Decision:
    """The rule with the most matched keyword words wins; ties go to the earlier rule.

    No match sends the complaint to the triage agency, which sorts it by hand.
    """
    text = normalize(" ".join(texts))
    best: tuple[int, Rule, tuple[str, ...]] | None = None
    for rule in rules:
        if rule.kinds and kind not in rule.kinds:
            continue
        if rule.kelurahan and kelurahan not in rule.kelurahan:
            continue
        found = matches(rule, text)
        if not found:
            continue
        # A phrase ("lampu lalu lintas") says more than one word ("lampu").
        score = sum(len(k.split()) for k in found)
        if best is None or score > best[0]:
            best = (score, rule, found)
    if best is None:
        agency_id, agency_name = triage
        return Decision(agency_id, agency_name, (), "Tidak ada kata kunci yang cocok; dipilah oleh " + agency_name + ".")
    _, rule, found = best
    return Decision(rule.agency_id, rule.agency_name, found, "Kata kunci: " + ", ".join(found) + ".")
