"""One normaliser for comparing Whisper transcripts in tests (never assert Whisper's exact words).

Two decodings of the same speech differ in ways that do not change what was said: case, punctuation, how a
hyphenated word is split into word pieces ("ninety-nine" vs "ninety" + "-nine"), and numbers as digits or words
("49.99" vs "forty-nine ninety-nine"). :func:`norm_words` removes all of these; :func:`word_errors` then counts
the words that really differ (Levenshtein distance over normalised words).

Tolerance used across the tests: ``TOLERANCE`` (15 %) of the reference's normalised words may differ between two
decodings of the same audio, and at least one word is always allowed. The largest difference seen here was 2 of
25 words (8 %: tiny.en int8 heard "forty-nine ninety-nine" once as "forty nine nine", and "now" as "how", when the
same speech was cut out of a longer recording); 15 % leaves room for one more such word on another machine, while a
lost or doubled piece of a transcript (what these tests guard against) changes far more than that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

TOLERANCE = 0.15
"""Share of normalised words that may differ between two decodings of the same speech."""

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _spell(rest))
    rest = n % 1000
    return _spell(n // 1000) + " thousand" + ("" if rest == 0 else " " + _spell(rest))


def norm_words(text: str | Iterable) -> list[str]:
    """Lower-case words, punctuation dropped, hyphen pieces split apart, digits spelled out.

    ``text`` is a string, or an iterable of words (strings or objects with a ``word`` attribute, or dicts with a
    ``"word"`` key), which are joined with spaces first.
    """
    if not isinstance(text, str):
        parts = []
        for w in text:
            parts.append(w if isinstance(w, str) else w["word"] if isinstance(w, dict) else w.word)
        text = " ".join(parts)
    text = text.lower().replace("’", "'").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {_spell(int(m.group()))} " if len(m.group()) <= 6 else m.group(), text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def allowed_errors(ref: list[str], tolerance: float = TOLERANCE) -> int:
    """How many word errors ``tolerance`` allows against ``ref`` (at least one)."""
    return max(1, math.floor(tolerance * len(ref)))


def assert_same_speech(hyp, ref, tolerance: float = TOLERANCE) -> None:
    """Assert two transcripts (text or words) say the same within ``tolerance`` after normalisation."""
    r, h = norm_words(ref), norm_words(hyp)
    errors = word_errors(r, h)
    assert errors <= allowed_errors(r, tolerance), (
        f"{errors} of {len(r)} normalised words differ (allowed {allowed_errors(r, tolerance)}):\n"
        f"  ref: {' '.join(r)}\n  hyp: {' '.join(h)}"
    )
