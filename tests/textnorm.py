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

import importlib.util
import math
from collections.abc import Iterable
from pathlib import Path

TOLERANCE = 0.15
"""Share of normalised words that may differ between two decodings of the same speech."""


def _load_bench_textnorm():
    """``bench/textnorm.py``: the word-error-rate normaliser the benchmarks use; the tests share it."""
    spec = importlib.util.spec_from_file_location("bench_textnorm", Path(__file__).resolve().parent.parent
                                                  / "bench" / "textnorm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_bench = _load_bench_textnorm()
word_errors = _bench.edit_distance
"""Levenshtein distance over normalised words (substitutions + deletions + insertions)."""


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
    return _bench.normalize(text)


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
