"""The phrase lexicon: ``data/listening.toml`` (plus an optional user file) compiled into patterns, synonym
groups, weights, credits and confidences.

Patterns are matched on lower-cased text; ``{name}`` in a pattern is the alternation of the word set ``[sets].name``.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import snowballstemmer

from ...errors import UserError
from ...inputs import NestingError, loads_toml, read_input_text

_STEMMER = snowballstemmer.stemmer("english")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_UPPER_LITERAL = re.compile(r"(?<!\\)[A-Z]")


@dataclass
class Category:
    """One lexicon table: a technique or a red flag and its compiled patterns."""

    id: str
    technique: int
    label: str
    confidence: float
    regex: re.Pattern | None
    negatable: bool
    tip: str
    rescued_by: tuple[str, ...] = ()
    extra: re.Pattern | None = None  # e.g. timelines of a resolution


@dataclass
class Lexicon:
    """The compiled phrase lexicon, synonym groups and weights (built from ``data/listening.toml``)."""

    techniques: dict[str, Category]
    red_flags: dict[str, Category]
    stock: Category
    paraphrase_frame: re.Pattern
    paraphrase_weak_frame: re.Pattern
    checkback: re.Pattern
    feeling: re.Pattern
    caller_abuse: re.Pattern
    caller_authority: re.Pattern
    negation_cues: frozenset[str]
    clause_breaks: re.Pattern
    stopwords: frozenset[str]
    lemmas: dict[str, str]
    numbers: dict[str, int]
    concepts: dict[str, frozenset[str]]
    """stem -> the concept ids (its own stem plus synonym groups) it belongs to."""
    phrase_regex: re.Pattern
    """All multi-word synonyms ("money back") as one pattern; ``phrase_concepts`` maps each to its group ids."""
    phrase_concepts: dict[str, frozenset[str]]
    paraphrase_tip: str
    paraphrase_label: str
    weights: dict[str, float]
    credit: dict[str, float]
    confidence: dict[str, float]
    """Confidences of findings that are not plain lexical matches (``[confidence]`` in the data file)."""
    word_cache: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict, repr=False)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + v
        else:
            out[k] = v
    return out


def _alternation(patterns: Iterable[str], sets: dict[str, list[str]], where: str) -> re.Pattern | None:
    pats = []
    for p in patterns:
        def sub(m: re.Match, p: str = p) -> str:
            name = m.group(1)
            if name not in sets:
                raise UserError(f"listening lexicon {where}: pattern {p!r} names unknown set {{{name}}}")
            return "(?:" + "|".join(sets[name]) + ")"

        # patterns run on lower-cased text without IGNORECASE (4x faster): lower-case literal letters
        pats.append(_UPPER_LITERAL.sub(lambda m: m.group(0).lower(), _PLACEHOLDER.sub(sub, p)))
    if not pats:
        return None
    body = "|".join(f"(?:{p})" for p in pats)
    try:
        return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")
    except re.error as exc:
        raise UserError(f"listening lexicon {where}: bad regular expression ({exc}); fix the pattern") from None


def _category(cid: str, t: dict, sets: dict, where: str) -> Category:
    try:
        rescued = t.get("rescued_by", ())
        return Category(
            id=cid,
            technique=int(t["technique"]),
            label=str(t.get("label", cid)),
            confidence=float(t.get("confidence", 0.8)),
            regex=_alternation(t.get("patterns", []), sets, f"{where}.{cid}"),
            negatable=bool(t.get("negatable", False)),
            tip=str(t.get("tip", "")),
            rescued_by=tuple([rescued] if isinstance(rescued, str) else rescued),
            extra=_alternation(t.get("timeline", []), sets, f"{where}.{cid}.timeline"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"listening lexicon {where}.{cid}: missing or wrong key ({exc})") from None


def _stem(word: str, lemmas: dict[str, str]) -> str:
    w = word.lower().strip("'")
    w = lemmas.get(w, w)
    return _STEMMER.stemWord(w)


def _expand_sets(raw: dict) -> dict[str, list[str]]:
    """Word sets with ``{other}`` references inside them replaced (sets may build on each other)."""
    sets = {k: [str(x) for x in v] for k, v in raw.items()}
    for _ in range(4):
        changed = False
        for k, items in sets.items():
            new = []
            for it in items:
                m = _PLACEHOLDER.search(it)
                if m and m.group(1) in sets and m.group(1) != k:
                    it = _PLACEHOLDER.sub(lambda mm: "(?:" + "|".join(sets.get(mm.group(1), [mm.group(0)])) + ")", it)
                    changed = True
                new.append(it)
            sets[k] = new
        if not changed:
            break
    return sets


def _build_lexicon(data: dict) -> Lexicon:
    sets = _expand_sets(data.get("sets", {}))
    techniques = {k: _category(k, v, sets, "techniques") for k, v in data.get("techniques", {}).items()}
    red_flags = {k: _category(k, v, sets, "red_flags") for k, v in data.get("red_flags", {}).items()}
    stock = _category("stock_phrase", data["stock"], sets, "stock")
    para = data["paraphrase"]
    lemmas = {str(k).lower(): str(v).lower() for k, v in para.get("lemmas", {}).items()}
    concepts: dict[str, set[str]] = {}
    phrase_concepts: dict[str, set[str]] = {}
    for gi, group in enumerate(para.get("synonyms", [])):
        gid = f"#syn{gi}"
        for w in group:
            w = str(w).lower()
            if " " in w or "-" in w or "'" in w:
                phrase_concepts.setdefault(w, set()).add(gid)
            else:
                concepts.setdefault(_stem(w, lemmas), set()).add(gid)
    phrases = sorted(phrase_concepts, key=len, reverse=True)
    phrase_regex = re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w'])"
                              ) if phrases else re.compile(r"(?!x)x")
    neg = data.get("negation", {})
    caller = data.get("caller", {})
    empty = re.compile(r"(?!x)x")
    return Lexicon(
        techniques=techniques,
        red_flags=red_flags,
        stock=stock,
        paraphrase_frame=_alternation(para.get("frames", []), sets, "paraphrase.frames") or empty,
        paraphrase_weak_frame=_alternation(para.get("weak_frames", []), sets, "paraphrase.weak_frames") or empty,
        checkback=_alternation(sets.get("checkback", []), sets, "sets.checkback") or empty,
        feeling=_alternation(sets.get("feeling", []), sets, "sets.feeling") or empty,
        caller_abuse=_alternation(caller.get("abuse", []), sets, "caller.abuse") or empty,
        caller_authority=_alternation(caller.get("authority", []), sets, "caller.authority") or empty,
        negation_cues=frozenset(str(c).lower() for c in neg.get("cues", [])),
        clause_breaks=_alternation(neg.get("clause_breaks", []), sets, "negation.clause_breaks") or empty,
        stopwords=frozenset(str(para.get("stopwords", "")).lower().split()),
        lemmas=lemmas,
        numbers={str(k).lower(): int(v) for k, v in para.get("numbers", {}).items()},
        concepts={k: frozenset(v) for k, v in concepts.items()},
        phrase_regex=phrase_regex,
        phrase_concepts={k: frozenset(v) for k, v in phrase_concepts.items()},
        paraphrase_tip=str(para.get("tip", "")),
        paraphrase_label=str(para.get("label", "Restated the caller's facts")),
        weights={k: float(v) for k, v in data.get("weights", {}).items()},
        credit=_fractions(data, "credit"),
        confidence=_fractions(data, "confidence"),
    )


def _fractions(data: dict, table: str) -> dict[str, float]:
    """The numbers of ``[table]``, each checked to lie in 0-1."""
    out = {}
    for k, v in data.get(table, {}).items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= float(v) <= 1.0:
            raise UserError(f"listening lexicon [{table}] {k} = {v!r}: must be a number from 0 to 1")
        out[k] = float(v)
    return out


@functools.lru_cache(maxsize=8)
def _cached_lexicon(user_file: str, mtime: float) -> Lexicon:
    data = tomllib.loads(resources.files("voice_trainer").joinpath("data/listening.toml").read_text("utf-8"))
    if user_file:
        try:
            data = _merge(data, loads_toml(read_input_text(user_file)))
        except NestingError as exc:
            raise UserError(f"{user_file}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise UserError(f"{user_file}: cannot read the listening lexicon ({why})") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{user_file}: not valid TOML ({exc})") from None
    return _build_lexicon(data)


def load_lexicon(user_file: str | os.PathLike | None = None) -> Lexicon:
    """The built-in lexicon, with ``user_file`` (a TOML file of the same shape) merged over it when given.

    Compiled once per file and modification time.

    Raises
    ------
    UserError
        The user file is missing, is not TOML, or holds a bad pattern.
    """
    path = os.fspath(user_file) if user_file else ""
    if path and not os.path.exists(path):
        raise UserError(f"{path}: listening lexicon file not found; fix listening.lexicon_file in the config")
    mtime = os.path.getmtime(path) if path else 0.0
    return _cached_lexicon(path, mtime)
