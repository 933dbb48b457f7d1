"""Words and sentences of a reply: tokens with offsets, kinds and concept ids; sentence spans; normalising
that keeps character offsets valid."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .lexicon import Lexicon, _stem

_WORD_RE = re.compile(r"[A-Za-z0-9$£€]+(?:[.,:'\-][A-Za-z0-9]+)*%?")
_SENT_RE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*|\n|$)")
_SENT_END = re.compile(r"\s*[.!?\n]")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    kind: str  # "word" | "number" | "named" | "stop"
    concepts: frozenset[str]


def _number_value(tok: str, numbers: dict[str, int]) -> str | None:
    t = tok.lower().lstrip("$£€").rstrip("%")
    if t in numbers:
        return str(numbers[t])
    m = re.fullmatch(r"(\d+)(?:[.,]0+)?(?:st|nd|rd|th|s|pm|am)?", t.replace(",", ""))
    if m:
        return str(int(m.group(1)))
    return None


def _word_concepts(low: str, lex: Lexicon) -> tuple[str, frozenset[str]]:
    hit = lex.word_cache.get(low)
    if hit is None:
        hit = lex.word_cache[low] = _word_concepts_uncached(low, lex)
    return hit


def _word_concepts_uncached(low: str, lex: Lexicon) -> tuple[str, frozenset[str]]:
    if low in lex.stopwords or len(low) < 2:
        return "stop", frozenset()
    num = _number_value(low, lex.numbers)
    if num is not None:
        return "number", frozenset({"#n" + num}) | lex.concepts.get(_stem(low, lex.lemmas), frozenset())
    if any(c.isdigit() for c in low):
        return "named", frozenset({"#x" + low})
    stem = _stem(low, lex.lemmas)
    if stem in lex.stopwords:
        return "stop", frozenset()
    return "word", frozenset({stem}) | lex.concepts.get(stem, frozenset())


def tokenize(text: str, lex: Lexicon, *, named: bool = True) -> list[Token]:
    """Words of ``text`` with offsets, kinds and concept ids (stems and synonym groups).

    Capitalised words that do not open a sentence are "named" things (product or place names) when ``named``.
    """
    out: list[Token] = []
    at_start = True  # the next word opens a sentence
    for m in _WORD_RE.finditer(text):
        raw = m.group(0)
        low = raw.lower().rstrip(".,:'-")
        kind, concepts = _word_concepts(low, lex)
        if named and kind == "word" and raw[:1].isupper() and not at_start and low != "i" and not raw.isupper():
            kind = "named"
            concepts = concepts | {"#x" + low}
        out.append(Token(raw, m.start(), m.end(), kind, concepts))
        gap = text[m.end(): m.end() + 3]
        at_start = bool(_SENT_END.match(gap)) or raw.endswith(".")
    for m in lex.phrase_regex.finditer(_lower(text)):
        out.append(Token(text[m.start():m.end()], m.start(), m.end(), "word", lex.phrase_concepts[m.group(0)]))
    return out


def _sentences(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _SENT_RE.finditer(text):
        s, e = m.start(), m.end()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans or [(0, len(text))]


def _content(tokens: Iterable[Token], lo: int = 0, hi: int = 1 << 60) -> list[Token]:
    return [t for t in tokens if t.kind != "stop" and lo <= t.start and t.end <= hi]


def _lower(text: str) -> str:
    """Lower-cased, same length as ``text`` (so offsets stay valid)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _normalise(text: str) -> str:
    """Same length as ``text`` (offsets stay valid): curly quotes straightened."""
    return text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}))


def _has_words(text: str) -> bool:
    return bool(_WORD_RE.search(text or ""))
