"""Reading a post's kind and kelurahan from its text: transparent rules in Indonesian. Pure.

A post on social media has no form: nobody chose "keluhan" or a kelurahan
from a list. These rules infer both from the words, the way people write
them (``jln``, ``tdk``, ``gmn``, ``sdh``, ``tj laut``, ``TLI``), and say
why. What the rules cannot decide with confidence (no signal, a tie, two
kelurahan) is left empty, and intake holds the post for an operator to
complete before it is routed: a guessed kelurahan would send a complaint to
the wrong place in silence.

Every rule is a phrase or word with a weight for one kind. Longer phrases
are matched first and consume their words, so "bagaimana kalau" counts once
as a suggestion and not again as a question. The kind with the highest
total wins; a tie or a total of zero decides nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kesah import reference

# What people type -> the word the rules are written in.
ABBREVIATIONS = {
    "gmn": "bagaimana", "gmna": "bagaimana", "bgmn": "bagaimana", "gimana": "bagaimana", "gmana": "bagaimana",
    "tdk": "tidak", "tak": "tidak", "gak": "tidak", "ga": "tidak", "gk": "tidak", "nggak": "tidak",
    "ngga": "tidak", "enggak": "tidak", "engga": "tidak", "kagak": "tidak", "ndak": "tidak",
    "jln": "jalan", "jl": "jalan", "jaln": "jalan",
    "sdh": "sudah", "udh": "sudah", "udah": "sudah", "dah": "sudah", "sudh": "sudah",
    "blm": "belum", "blum": "belum", "lom": "belum",
    "yg": "yang", "dgn": "dengan", "krn": "karena", "karna": "karena", "utk": "untuk", "tgh": "tengah",
    "tlg": "tolong", "tolongin": "tolong", "mhn": "mohon",
    "knp": "kenapa", "napa": "kenapa", "kpn": "kapan", "brp": "berapa", "brapa": "berapa",
    "dmn": "dimana", "dmana": "dimana", "gmn2": "bagaimana", "apa2": "apa",
    "bs": "bisa", "bsa": "bisa", "sy": "saya", "sya": "saya", "aq": "saya", "aku": "saya",
    "bnyk": "banyak", "byk": "banyak", "bgt": "banget", "org": "orang", "rmh": "rumah",
    "kmrn": "kemarin", "skrg": "sekarang", "skrng": "sekarang", "lg": "lagi", "jg": "juga",
    "aja": "saja", "sj": "saja", "tp": "tapi", "tpi": "tapi", "trs": "terus", "klo": "kalau",
    "kalo": "kalau", "kl": "kalau", "pdhl": "padahal", "hr": "hari", "mgg": "minggu", "bln": "bulan",
    "thn": "tahun", "dr": "dari", "dri": "dari", "dpn": "depan", "sblh": "sebelah", "bener": "benar",
    "infonya": "info", "nanya": "tanya", "tny": "tanya", "ijin": "izin", "sbg": "sebagai",
    "pemkot": "pemerintah kota", "pemda": "pemerintah daerah",
    # places
    "gn": "gunung", "gng": "gunung", "gnng": "gunung", "tj": "tanjung", "tg": "tanjung", "tjg": "tanjung",
    "btg": "bontang", "kel": "kelurahan", "kec": "kecamatan",
}

# Nicknames of kelurahan (after the abbreviations above), beside their own names.
KELURAHAN_ALIASES = {
    "apiapi": "Api-Api",
    "lok tuan": "Loktuan",
    "tanjunglaut": "Tanjung Laut",
    "tli": "Tanjung Laut Indah",
    "tanjung laut ind": "Tanjung Laut Indah",
    "telihan": "Gunung Telihan",
    "gunungelai": "Gunung Elai",
    "bontangbaru": "Bontang Baru",
    "bontangkuala": "Bontang Kuala",
}


@dataclass(frozen=True)
class Rule:
    kind: str
    weight: int
    phrase: str  # normalized words; a trailing "*" matches any ending of the last word


def _rules(kind: str, weight: int, phrases: str) -> list[Rule]:
    return [Rule(kind, weight, p.strip()) for p in phrases.split(",") if p.strip()]


KIND_RULES: tuple[Rule, ...] = tuple(
    _rules("pertanyaan", 3, "mau tanya, ingin tanya, numpang tanya, izin tanya, boleh tanya, tanya dong, "
                            "mohon info, minta info, mohon informasi, minta informasi, apakah, bisakah, bolehkah, "
                            "bagaimana cara*, bagaimana prosedur*, apa syarat*, apa saja syarat*, "
                            "berapa lama, berapa biaya*, ada yang tahu")
    + _rules("pertanyaan", 2, "kapan, berapa, dimana, di mana, bagaimana, kenapa, mengapa, siapa, kemana, ke mana")
    + _rules("saran", 3, "saran, saran saya, menyarankan, usul, usulan, mengusulkan, sebaiknya, seyogyanya, "
                         "alangkah baiknya, lebih baik, bagaimana kalau, bagaimana jika, kenapa tidak, "
                         "mohon dipertimbangkan, dipertimbangkan, perlu ditambah*, perlu dibuat*, perlu dibangun, "
                         "perlu diadakan, perlu dipasang, tolong ditambah*, tolong diadakan, mohon ditambah*, "
                         "mohon diadakan, ke depannya, kedepannya, semoga ke depan, harapan saya, berharap")
    + _rules("kritik", 3, "kritik, mengkritik, kecewa, mengecewakan, tidak becus, tidak profesional, "
                          "tidak kompeten, lamban, buang anggaran, buang buang anggaran, pemborosan, asal asalan, "
                          "asal jadi, tidak serius, tidak peduli, cuma janji, hanya janji, janji manis, pencitraan, "
                          "percuma lapor, percuma mengadu, payah, memalukan, kinerja, pelayanan buruk, pelayanan lambat, tidak ramah, "
                          "judes, jutek, makan gaji buta, gaji buta, tutup mata")
    + _rules("informasi", 3, "info, informasi, sekadar info, sekedar info, sekadar informasi, fyi, "
                             "memberitahukan, menginformasikan, mengabarkan, kabar, pengumuman, untuk diketahui, "
                             "terpantau, hati hati, waspada, telah terjadi, sedang terjadi, ada kejadian, "
                             "berbagi info")
    + _rules("keluhan", 2, "rusak, rusak parah, berlubang, lubang, mati, padam, macet, banjir, tergenang, genangan, "
                           "bau, menumpuk, numpuk, bocor, keruh, tersumbat, mampet, ambruk, roboh, tumbang, "
                           "mengeluh, keluhkan, mengeluhkan, keluhan, resah, meresahkan, mengganggu, terganggu, "
                           "berserakan, kotor, gelap, tidak menyala, tidak mengalir, tidak keluar, "
                           "belum diperbaiki, tidak diperbaiki, belum ditangani, tidak ditangani, belum diangkut, "
                           "tidak diangkut, belum cair, tidak cair, belum dapat, belum terima, tidak dapat, susah, "
                           "sulit, pungli, liar, lama sekali, lama banget, parah, tolong diperbaiki, "
                           "mohon diperbaiki, tolong ditindak, mohon ditindak, tolong segera, mohon segera, "
                           "bagaimana ini, kapan diperbaiki*, kenapa belum")
    + _rules("keluhan", 1, "tolong, mohon")
)

_DURATION = re.compile(r"\b(?:sudah|selama|hampir) (?:\d+|se|satu|dua|tiga|empat|beberapa) ?"
                       r"(?:hari|minggu|bulan|tahun)")
_WORD = re.compile(r"[a-z0-9]+")
_REDUPLICATED = re.compile(r"^([a-z]{3,})2$")


def normalize(text: str) -> str:
    """Lower case words with abbreviations spelled out; no punctuation, mentions or links."""
    text = re.sub(r"https?://\S+|@\w+", " ", text.casefold())
    words: list[str] = []
    for word in _WORD.findall(text.replace("-", " ")):
        doubled = _REDUPLICATED.match(word)
        if doubled:  # "lubang2" is "lubang-lubang"
            word = doubled.group(1)
            words.append(ABBREVIATIONS.get(word, word))
        words.append(ABBREVIATIONS.get(word, word))
    return " ".join(" ".join(words).split())


def _pattern(phrase: str) -> re.Pattern[str]:
    open_end = phrase.endswith("*")
    body = re.escape(phrase.rstrip("*"))
    return re.compile(r"(?<![a-z0-9])" + body + (r"[a-z]*" if open_end else r"(?![a-z0-9])"))


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    ordered = sorted(KIND_RULES, key=lambda r: (-len(r.phrase), r.phrase))
    return tuple((r, _pattern(r.phrase)) for r in ordered)


@lru_cache(maxsize=1)
def _kelurahan_names() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    names = {normalize(k): k for k in reference.load().kelurahan}
    names.update({normalize(alias): k for alias, k in KELURAHAN_ALIASES.items()})
    ordered = sorted(names.items(), key=lambda item: (-len(item[0]), item[0]))
    return tuple((alias, k, _pattern(alias)) for alias, k in ordered)


@dataclass(frozen=True)
class Inference:
    """What the rules read from a post, and why; None where they could not decide."""

    kind: str | None
    kind_reason: str
    kelurahan: str | None
    kelurahan_reason: str

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name, value in (("kind", self.kind), ("kelurahan", self.kelurahan)) if value is None)


def _mask(text: str, match: re.Match[str]) -> str:
    return text[: match.start()] + "_" * (match.end() - match.start()) + text[match.end():]


def infer_kind(text: str) -> tuple[str | None, str]:
    normal = normalize(text)
    scores: dict[str, int] = {}
    found: dict[str, list[str]] = {}

    def add(kind: str, weight: int, label: str) -> None:
        scores[kind] = scores.get(kind, 0) + weight
        found.setdefault(kind, []).append(f"{label} +{weight}")

    for rule, pattern in _compiled():
        while (match := pattern.search(normal)) is not None:
            add(rule.kind, rule.weight, match.group(0))
            normal = _mask(normal, match)
    if _DURATION.search(normalize(text)):
        add("keluhan", 1, "berlangsung lama")
    if "?" in text:
        add("pertanyaan", 1, "?")
    # Naming a public service ("sampah", "pdam") with no other signal is most often a complaint.
    if not scores or set(scores) <= {"keluhan"}:
        for agency in reference.load().agencies:
            hit = next((k for k in agency.keywords if _pattern(normalize(k)).search(normalize(text))), None)
            if hit:
                add("keluhan", 1, hit)
                break
    detail = "; ".join(f"{kind}: {', '.join(found[kind])}" for kind in sorted(found, key=lambda k: -scores[k]))
    if not scores:
        return None, "no words that tell the kind"
    best = max(scores.values())
    leaders = sorted(k for k, v in scores.items() if v == best)
    if len(leaders) > 1:
        return None, f"tie between {' and '.join(leaders)} ({detail})"
    return leaders[0], detail


def infer_kelurahan(text: str) -> tuple[str | None, str]:
    normal = normalize(text)
    named: dict[str, str] = {}
    for alias, kelurahan, pattern in _kelurahan_names():
        match = pattern.search(normal)
        if match is not None:
            named.setdefault(kelurahan, alias)
            normal = pattern.sub(lambda m: "_" * len(m.group(0)), normal)
    if not named:
        return None, "no kelurahan named"
    if len(named) > 1:
        return None, "several kelurahan named: " + ", ".join(sorted(named))
    ((kelurahan, alias),) = named.items()
    return kelurahan, f"named as '{alias}'"


def infer(text: str) -> Inference:
    kind, kind_reason = infer_kind(text)
    kelurahan, kelurahan_reason = infer_kelurahan(text)
    return Inference(kind, kind_reason, kelurahan, kelurahan_reason)


def title_from(text: str, limit: int = 80) -> str:
    """A post has no title: its first sentence, cut at a word within ``limit`` characters."""
    flat = " ".join(re.sub(r"(^|\s)@\w+", " ", text).split()) or " ".join(text.split())
    first = re.split(r"(?<=[.!?])\s", flat, maxsplit=1)[0].strip()
    if len(first) <= limit:
        return first
    cut = first[: limit - 1].rsplit(" ", 1)[0] if " " in first[: limit - 1] else first[: limit - 1]
    return cut.rstrip(" ,;:") + "…"
