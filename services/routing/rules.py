"""Choosing the agency (OPD) for a complaint: transparent keyword rules.

Pure: the same complaint and rules always give the same decision, with the
reason spelled out, so an operator can see why a complaint went where it did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import AbstractSet, Any, Iterable, Sequence

from kesah import reference


@dataclass(frozen=True)
class Rule:
    """Keywords that send complaints to an agency, optionally only some kinds or places."""

    rule_id: str
    agency_id: str
    agency_name: str
    keywords: tuple[str, ...]
    kinds: tuple[str, ...] = ()  # empty: every kind
    kelurahan: tuple[str, ...] = ()  # empty: everywhere

    def payload(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "agency_id": self.agency_id, "agency_name": self.agency_name,
                "keywords": list(self.keywords), "kinds": list(self.kinds), "kelurahan": list(self.kelurahan)}

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> "Rule":
        return cls(p["rule_id"], p["agency_id"], p["agency_name"], tuple(p["keywords"]), tuple(p["kinds"]),
                   tuple(p["kelurahan"]))


@dataclass(frozen=True)
class Decision:
    rule_id: str
    agency_id: str
    agency_name: str
    matched_keywords: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Verdict:
    """What one rule made of a text: its matches, or why it did not apply."""

    rule: Rule
    matched_keywords: tuple[str, ...]
    skipped: str | None  # why it did not apply: "declined" (by its agency), "kind", "kelurahan"


def seed_rules(ref: reference.Reference | None = None) -> list[Rule]:
    """The starting rules: one per agency of the reference data, named after it."""
    ref = ref or reference.load()
    return [Rule(a.id, a.id, a.name, a.keywords) for a in ref.agencies]


def normalize_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """Lower case, single spaces, no empties or repeats, in the order given."""
    seen: dict[str, None] = {}
    for keyword in keywords:
        k = normalize(keyword)
        if k:
            seen.setdefault(k, None)
    return tuple(seen)


def _pattern(keyword: str) -> re.Pattern[str]:
    # Whole words only: "kk" must not match inside "kakak"; "-" belongs to a word.
    return re.compile(r"(?<![\w-])" + re.escape(keyword.casefold()) + r"(?![\w-])")


def normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def matches(rule: Rule, text: str) -> tuple[str, ...]:
    return tuple(k for k in rule.keywords if _pattern(k).search(text))


def explain(*, kind: str, kelurahan: str, texts: Iterable[str], rules: Sequence[Rule],
            exclude: AbstractSet[str] = frozenset()) -> list[Verdict]:
    """Every rule's verdict on a complaint, in rule order."""
    text = normalize(" ".join(texts))
    verdicts = []
    for rule in rules:
        if rule.agency_id in exclude:
            verdicts.append(Verdict(rule, (), "declined"))
        elif rule.kinds and kind not in rule.kinds:
            verdicts.append(Verdict(rule, (), "kind"))
        elif rule.kelurahan and kelurahan not in rule.kelurahan:
            verdicts.append(Verdict(rule, (), "kelurahan"))
        else:
            verdicts.append(Verdict(rule, matches(rule, text), None))
    return verdicts


def choose(*, kind: str, kelurahan: str, texts: Iterable[str], rules: Sequence[Rule],
           exclude: AbstractSet[str] = frozenset()) -> Decision | None:
    """The rule with the most matched keyword words wins; ties go to the earlier rule.

    None when no rule matches: the complaint waits for an operator to route it
    by hand. Agencies in ``exclude`` (those that declined it) are skipped.
    """
    best: tuple[int, Verdict] | None = None
    for verdict in explain(kind=kind, kelurahan=kelurahan, texts=texts, rules=rules, exclude=exclude):
        if not verdict.matched_keywords:
            continue
        # A phrase ("lampu lalu lintas") says more than one word ("lampu").
        score = sum(len(k.split()) for k in verdict.matched_keywords)
        if best is None or score > best[0]:
            best = (score, verdict)
    if best is None:
        return None
    rule, found = best[1].rule, best[1].matched_keywords
    return Decision(rule.rule_id, rule.agency_id, rule.agency_name, found,
                    f"Kata kunci: {', '.join(found)} (aturan {rule.rule_id}).")
