"""Active-listening and de-escalation language analysis: what the trainee said, with quotes as evidence.

Text in, dataclasses out. :func:`analyze_listening` looks at one reply of the trainee (optionally with Whisper's
word timings and the caller's preceding line) and finds

* techniques of ``docs/techniques.md``: acknowledgement (2), paraphrase of the caller's facts (3), ownership (5),
  questions and breaking the problem down (6), a next step with a timeline (7), choices and confirmation (8),
  thanks and follow-up (9), referral and boundaries (10), an invitation to go on (1);
* red flags: blame, "calm down", hiding behind policy, "not my department", dismissing, sarcasm or retaliation,
  over-promising, refusing a referral, re-asking what the caller already said, and a bare stock phrase
  ("I understand" with nothing specific after it).

Every finding carries the quoted words, their character offsets and, when word timings are given, their start and
end in seconds. Negation is handled ("I'm not going to tell you to calm down" is no red flag) and a policy
mentioned together with an alternative is no wall. Paraphrase is found by matching the caller's content words by
stem (and a small synonym table), numbers by value and named things by spelling, not by keyword lists.

:func:`analyze_call` adds order checks over a whole call (acknowledgement before the solution, choices before
confirmation, thanks at the close). Scores are :class:`~voice_trainer.scoring.Score` objects made of components,
each with evidence and a tip tied to a technique. Phrase lexicons and weights are in ``data/listening.toml``.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import snowballstemmer

from ...config import ListeningConfig
from ...errors import UserError
from ..scoring import Component, Evidence, Score, score_from_components
from ..transcript import Word

__all__ = [
    "CallListening",
    "CallTurn",
    "Detection",
    "Lexicon",
    "ListeningResult",
    "analyze_call",
    "analyze_listening",
    "load_lexicon",
]

# ---------------------------------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Detection:
    """One technique or red flag found in the reply.

    Attributes
    ----------
    id : str
        ``acknowledge``, ``paraphrase``, ``question``, ... or a red-flag id (``blame``, ``calm_down``, ...).
    technique : int
        Number of the technique in ``docs/techniques.md`` (1-10).
    label : str
        Human wording.
    text : str
        The quoted words.
    char_start, char_end : int
        Offsets of ``text`` in the analysed reply.
    start, end : float or None
        Seconds, from the word timings, when they were given.
    confidence : float
        0-1.
    detail : dict
        Extra facts, e.g. the caller's words a paraphrase restates, the kind of question, the turn index.
    tip : str
        For red flags: what to do instead.
    """

    id: str
    technique: int
    label: str
    text: str
    char_start: int
    char_end: int
    start: float | None = None
    end: float | None = None
    confidence: float = 1.0
    detail: dict[str, Any] = field(default_factory=dict)
    tip: str = ""

    def evidence(self) -> Evidence:
        return Evidence(text=self.text, start=self.start, end=self.end, char_start=self.char_start,
                        char_end=self.char_end, value=self.confidence)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "id": self.id,
            "technique": self.technique,
            "label": self.label,
            "text": self.text,
            "start": None if self.start is None else round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "char_start": self.char_start,
            "char_end": self.char_end,
            "confidence": round(self.confidence, 3),
        }
        if self.tip:
            d["tip"] = self.tip
        d.update(self.detail)
        return d


@dataclass
class FactMatch:
    """A scenario fact and how much of it the reply restated (coverage 0-1)."""

    fact: str
    coverage: float
    covered: bool
    matched: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"fact": self.fact, "coverage": round(self.coverage, 3), "covered": self.covered,
                "matched": self.matched}


@dataclass
class ListeningResult:
    """The listening analysis of one reply: findings and a 0-100 score made of components."""

    text: str
    caller_text: str
    techniques: list[Detection]
    red_flags: list[Detection]
    facts: list[FactMatch]
    score: Score

    def found(self, technique_id: str) -> list[Detection]:
        """The detections with this id (techniques and red flags)."""
        return [d for d in self.techniques + self.red_flags if d.id == technique_id]

    def to_dict(self) -> dict:
        d = self.score.to_dict()
        return {
            "score": d["score"],
            "techniques": [t.to_dict() for t in self.techniques],
            "red_flags": [f.to_dict() for f in self.red_flags],
            "facts": [f.to_dict() for f in self.facts],
            "caller_text_given": bool(self.caller_text.strip()),
            "components": d["components"],
        }


@dataclass
class CallTurn:
    """One turn of a call: who spoke (``agent`` or ``caller``), the words and, optionally, word timings."""

    speaker: str
    text: str = ""
    words: list[Word] | None = None


@dataclass
class CallListening:
    """The listening analysis of a whole call: each agent turn, the order checks and one call score."""

    turns: list[ListeningResult]
    turn_index: list[int]
    order: list[Component]
    score: Score

    def to_dict(self) -> dict:
        d = self.score.to_dict()
        return {
            "score": d["score"],
            "turns": [dict(turn=i, **t.to_dict()) for i, t in zip(self.turn_index, self.turns, strict=True)],
            "order": [c.to_dict() for c in self.order],
            "components": d["components"],
        }


# ---------------------------------------------------------------------------------------------------------------
# Lexicon
# ---------------------------------------------------------------------------------------------------------------

_STEMMER = snowballstemmer.stemmer("english")
_WORD_RE = re.compile(r"[A-Za-z0-9$£€]+(?:[.,:'\-][A-Za-z0-9]+)*%?")
_SENT_RE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"')\]]*|\n|$)")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_SENT_END = re.compile(r"\s*[.!?\n]")
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
            with open(user_file, "rb") as f:
                data = _merge(data, tomllib.load(f))
        except OSError as exc:
            raise UserError(f"{user_file}: cannot read the listening lexicon ({exc.strerror})") from None
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


# ---------------------------------------------------------------------------------------------------------------
# Tokens and sentences
# ---------------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------------------------------------------

_INTERROGATIVE = re.compile(
    r"^(?:(?:hi|hello|hey|good (?:morning|afternoon|evening)|so|and|but|okay|ok|well|alright|oh|great|cool|"
    r"thanks|thank you|sure|yes|yeah|i see)[,!.]* )*"
    r"(what|how|why|when|where|which|who|whose|whom|can|could|would|will|do|does|did|is|are|was|were|have|has|had|"
    r"should|shall|may|might|tell me|walk me)\b",
    re.IGNORECASE,
)
_OPEN_Q = re.compile(
    r"\b(what|how|why|when|where|which|who|tell me|walk me|describe|explain|help me understand)\b", re.IGNORECASE
)
_SOCIAL_Q = re.compile(
    r"^(?:hi|hello|hey)?[ ,!]*(how are you|how('s| is) (it going|your day)|how can i help|how may i help|"
    r"what can i do for you|is there anything else)", re.IGNORECASE)
_YOU = re.compile(r"\b(you|your|you're|you've|you'd|you'll|yourself)\b", re.IGNORECASE)
_ADVICE = re.compile(
    r"\b(maybe|perhaps|try|if you|you (could|can|should|might|may|need to|have to|will|'ll|would|'d|ought)|"
    r"i (hope|wish|think you should|suggest|recommend))\b", re.IGNORECASE)
_SELF_START = re.compile(r"^\W*(?:(?:well|and|oh|yes|yeah|honestly|personally)\W+)?(?:i|i'm|i've|i'd|my|me|we|our)\b(?!"
                         r"'?m hearing| hear| can see| can tell| see| understand| get| gather| notice| imagine)",
                         re.IGNORECASE)
_YOU_FEEL = re.compile(r"\b(you|you're|you've|your)\b(?:\W+\w+){0,4}?\W+(?:are|were|feel|felt|sound|seem|must|"
                       r"might|may|'re|'ve been|have been|being|feeling)\b", re.IGNORECASE)
_SUGGEST_Q = re.compile(
    r"\b(have you (thought|considered|tried)|what about|how about|maybe you could|could you try|would it (help|be "
    r"possible)|can i suggest|i wonder if|why not|why don'?t you|is there a way you)\b", re.IGNORECASE)
_REASK = re.compile(r"\b(what|which)('s| is| was|'re| are)? (your|the) ((?:\w+ ){0,2}\w+)", re.IGNORECASE)


@dataclass
class _Ctx:
    text: str
    norm: str
    lex: Lexicon
    cfg: ListeningConfig
    sents: list[tuple[int, int]]
    word_spans: list[tuple[int, int, Word]]
    kinds: list[str] = field(default_factory=list)

    def sent_index(self, pos: int) -> int:
        for i, (s, e) in enumerate(self.sents):
            if (pos < e or i == len(self.sents) - 1) and (pos >= s or i == 0):
                return i
        return len(self.sents) - 1

    def times(self, cs: int, ce: int) -> tuple[float | None, float | None]:
        hit = [w for s, e, w in self.word_spans if s < ce and e > cs]
        if not hit:
            return None, None
        return min(w.start for w in hit), max(w.end for w in hit)

    def detection(self, cat_id: str, technique: int, label: str, cs: int, ce: int, conf: float,
                  tip: str = "", **detail: Any) -> Detection:
        while cs < ce and self.text[cs].isspace():
            cs += 1
        start, end = self.times(cs, ce)
        return Detection(cat_id, technique, label, self.text[cs:ce], cs, ce, start, end, round(conf, 3),
                         detail, tip)


def _align_words(text: str, words: Sequence[Word]) -> list[tuple[int, int, Word]]:
    """Character span of each timed word in ``text`` (words that cannot be found are skipped)."""
    low = text.lower()
    out = []
    pos = 0
    for w in words:
        token = w.word.strip().lower()
        core = token.strip(".,!?;:\"'()")
        if not core:
            continue
        i = low.find(core, pos)
        if i < 0 or i - pos > 40 + len(core):
            continue
        out.append((i, i + len(core), w))
        pos = i + len(core)
    return out


def _negated(ctx: _Ctx, pos: int) -> bool:
    """A negation cue within ``negation_window_words`` before ``pos`` in the same clause."""
    s, _ = ctx.sents[ctx.sent_index(pos)]
    prefix = ctx.norm[s:pos]
    cut = max((m.end() for m in ctx.lex.clause_breaks.finditer(prefix)), default=0)
    cut = max(cut, prefix.rfind(",") + 1, prefix.rfind(";") + 1)
    words = re.findall(r"[a-z']+", prefix[cut:].lower())[-ctx.cfg.negation_window_words:]
    cues = ctx.lex.negation_cues
    return any(w in cues or w.endswith("n't") for w in words)


def _find(ctx: _Ctx, cat: Category) -> list[Detection]:
    if cat.regex is None:
        return []
    out: list[Detection] = []
    last_end = -1
    for m in cat.regex.finditer(ctx.norm):
        if m.start() < last_end:
            continue
        negated = cat.negatable and _negated(ctx, m.start())
        if negated:
            if cat.id == "referral":
                rf = ctx.lex.red_flags.get("refused_referral")
                if rf is not None:
                    out.append(ctx.detection(rf.id, rf.technique, rf.label, *_clause_span(ctx, m), rf.confidence,
                                             rf.tip, negated_referral=True))
            continue
        tip = cat.tip if cat.id in ctx.lex.red_flags else ""
        out.append(ctx.detection(cat.id, cat.technique, cat.label, m.start(), m.end(), cat.confidence, tip))
        last_end = m.end()
    return out


def _clause_span(ctx: _Ctx, m: re.Match) -> tuple[int, int]:
    s, _ = ctx.sents[ctx.sent_index(m.start())]
    return s, m.end()


def _content(tokens: Iterable[Token], lo: int = 0, hi: int = 1 << 60) -> list[Token]:
    return [t for t in tokens if t.kind != "stop" and lo <= t.start and t.end <= hi]


def _overlap(agent: list[Token], caller: list[Token], named_weight: float) -> tuple[float, list[str]]:
    """Weighted count of caller content tokens whose concepts the agent's tokens share (each caller concept once)."""
    agent_concepts: set[str] = set()
    for t in agent:
        agent_concepts |= t.concepts
    seen: set[str] = set()
    score = 0.0
    matched: list[str] = []
    for t in caller:
        shared = t.concepts & agent_concepts
        if not shared or shared <= seen:
            continue
        seen |= t.concepts
        score += named_weight if t.kind in ("number", "named") else 1.0
        matched.append(t.text)
    return score, matched


def _sentence_kind(sent: str, lex: Lexicon) -> str:
    """``wh`` / ``yesno`` (a real question), ``declarative_q`` ("So you were charged twice?"), ``checkback``
    (only "is that right?"), or ``statement``."""
    body = sent.strip()
    if lex.checkback.fullmatch(body.rstrip("?!. ")) or lex.checkback.fullmatch(body):
        return "checkback"
    question = body.endswith("?")
    m = _INTERROGATIVE.match(body)
    if m:
        if question or body[-1:] not in ".!":
            return "wh" if _OPEN_Q.match(m.group(1)) else "yesno"
        return "statement"
    if question:
        # "I'm sorry, do you have family nearby?" - an interrogative after a comma still makes a real question
        tail = body.rsplit(",", 1)[-1].strip()
        m2 = _INTERROGATIVE.match(tail)
        if m2 and tail != body:
            return "wh" if _OPEN_Q.match(m2.group(1)) else "yesno"
        return "declarative_q"
    return "statement"


def _questions(ctx: _Ctx, cat: Category, skip: list[Detection]) -> list[Detection]:
    out = []
    for i, (s, e) in enumerate(ctx.sents):
        sent = ctx.norm[s:e].strip()
        kind = ctx.kinds[i]
        if kind not in ("wh", "yesno"):
            continue  # restating questions and "is that right?" belong to the paraphrase
        if any(d.char_start >= s and d.char_end <= e and d.id in ("confirm", "choices") for d in skip):
            continue
        if _SOCIAL_Q.match(sent):
            qkind = "social"
        elif _SUGGEST_Q.search(sent):
            qkind = "suggestion"
        elif kind == "wh" or _OPEN_Q.search(sent):
            qkind = "open"
        else:
            qkind = "closed"
        k = ctx.lex.confidence
        conf = cat.confidence if sent.endswith("?") else cat.confidence - k["question_without_mark_less"]
        if qkind == "suggestion":  # advice phrased as a question, reported below min_confidence
            conf = min(conf, cat.confidence - k["suggestion_question_less"])
        out.append(ctx.detection("question", cat.technique, cat.label, s, e, conf, kind=qkind))
    return out


def _paraphrases(ctx: _Ctx, agent_tokens: list[Token], caller_tokens: list[Token], caller_given: bool,
                 embed_sims: list[float] | None) -> list[Detection]:
    cfg, lex = ctx.cfg, ctx.lex
    out = []
    for i, (s, e) in enumerate(ctx.sents):
        sent = ctx.norm[s:e]
        kind = ctx.kinds[i]
        if kind in ("wh", "yesno", "checkback"):
            continue
        toks = _content(agent_tokens, s, e)
        score, matched = _overlap(toks, caller_tokens, cfg.paraphrase_named_weight) if caller_given else (0.0, [])
        you = _YOU.search(sent)
        strong = bool(lex.paraphrase_frame.search(sent))
        advice = bool(_ADVICE.search(sent))
        weak = bool(lex.paraphrase_weak_frame.search(sent)) and not advice
        checked = kind == "declarative_q" or (i + 1 < len(ctx.kinds) and ctx.kinds[i + 1] == "checkback") or bool(
            lex.checkback.search(sent))
        feeling = lex.feeling.search(sent)
        self_led = bool(_SELF_START.match(sent))
        reason = ""
        if you and feeling and (strong or ((weak or checked or _YOU_FEEL.search(sent)) and not advice)):
            reason = "reflection"  # "it sounds like you're worried about ..."
        elif ((strong or checked or weak) and you and not self_led and not (advice and not strong)
              and score >= cfg.paraphrase_frame_min_overlap):
            reason = "restatement"  # "so you were charged twice"
        elif ((strong or checked) and not self_led and not advice
              and score >= max(cfg.paraphrase_named_weight, 2 * cfg.paraphrase_frame_min_overlap)):
            reason = "restatement"  # "so the Zenbook switches off when unplugged?" (the caller's thing, no "you")
        elif you and not self_led and not advice and score >= cfg.paraphrase_min_overlap:
            reason = "overlap"
        elif (strong or checked) and you and not self_led and not advice:
            reason = "frame"  # restating in form; the caller's words it restates are not known
        elif (embed_sims is not None and embed_sims[i] >= cfg.embedding_min_similarity and you
              and not self_led):
            reason = "embedding"
        if not reason:
            continue
        k = lex.confidence
        conf = (k["paraphrase_base"] + min(k["paraphrase_per_word"] * score, k["paraphrase_words_max"])
                + (k["paraphrase_strong_frame"] if strong or checked else k["paraphrase_weak_frame"] if weak else 0.0))
        if reason == "reflection":
            conf = max(conf, k["reflection_min"])
        elif reason == "frame":
            conf = k["frame_only"]
        det = ctx.detection("paraphrase", 3, lex.paraphrase_label, s, e, min(conf, k["paraphrase_max"]), "",
                            kind=reason, caller_words=matched)
        if embed_sims is not None:
            det.detail["similarity"] = round(embed_sims[i], 3)
        out.append(det)
    return out


def _stock_phrases(ctx: _Ctx, agent_tokens: list[Token], caller_tokens: list[Token],
                   paraphrases: list[Detection]) -> tuple[list[Detection], list[Detection]]:
    """Stock phrases: (bare ones as red flags, specific ones as acknowledgements)."""
    cat = ctx.lex.stock
    bare, specific = [], []
    if cat.regex is None:
        return bare, specific
    caller_concepts: set[str] = set()
    for t in caller_tokens:
        caller_concepts |= t.concepts
    for m in cat.regex.finditer(ctx.norm):
        if _negated(ctx, m.start()):
            continue
        si = ctx.sent_index(m.start())
        own_end = ctx.sents[si][1]
        tail_end = ctx.sents[min(si + 1, len(ctx.sents) - 1)][1]
        own = _content(agent_tokens, m.end(), own_end)  # the rest of its sentence
        tail = _content(agent_tokens, m.end(), tail_end)  # ... and the next sentence
        own_sentence_tail = ctx.norm[m.end():own_end]
        tail_text = ctx.text[m.end():tail_end]
        is_specific = (
            len(own) >= ctx.cfg.stock_tail_min_content
            or any(t.kind in ("number", "named") or t.concepts & caller_concepts for t in tail)
            or bool(ctx.lex.feeling.search(own_sentence_tail) and _YOU.search(own_sentence_tail))
            or any(p.char_start >= m.end() and p.char_start < tail_end for p in paraphrases)
        )
        if is_specific:
            specific.append(ctx.detection("acknowledge", 2, ctx.lex.techniques["acknowledge"].label
                                          if "acknowledge" in ctx.lex.techniques else "Acknowledged",
                                          m.start(), ctx.sents[si][1], ctx.lex.confidence["specific_stock_phrase"],
                                          specific_after_stock=True))
        else:
            bare.append(ctx.detection(cat.id, cat.technique, cat.label, m.start(), m.end(), cat.confidence, cat.tip,
                                      tail=tail_text.strip()[:80]))
    return bare, specific


def _reasks(ctx: _Ctx, caller_text: str, caller_tokens: list[Token], questions: list[Detection]) -> list[Detection]:
    """Questions asking for something the caller already gave (a number or a name next to the same noun)."""
    out = []
    anchors = [t for t in caller_tokens if t.kind in ("number", "named")]
    if not anchors:
        return out
    for q in questions:
        m = _REASK.search(q.text)
        if not m:
            continue
        nouns = [w for w in m.group(4).lower().split() if w not in ctx.lex.stopwords]
        if not nouns:
            continue
        stems = {_stem(w, ctx.lex.lemmas) for w in nouns}
        q_concepts: set[str] = set()
        for t in tokenize(q.text, ctx.lex):
            q_concepts |= t.concepts
        for a in anchors:
            if a.concepts & q_concepts:
                break  # the question quotes the number: a check, not a re-ask
            near = caller_text[max(0, a.start - 40): a.end + 10].lower()
            near_stems = {_stem(w, ctx.lex.lemmas) for w in re.findall(r"[a-z']+", near)}
            if stems & near_stems:
                out.append(ctx.detection("re_asked", 3, "Asked for something the caller already said",
                                         q.char_start, q.char_end, ctx.lex.confidence["re_asked"],
                                         "Use what the caller already told you; re-asking says you were not "
                                         "listening.", given=a.text))
                break
    return out


def _dedupe(dets: list[Detection]) -> list[Detection]:
    dets = sorted(dets, key=lambda d: (d.char_start, -(d.char_end - d.char_start)))
    out: list[Detection] = []
    for d in dets:
        if any(o.id == d.id and o.char_start <= d.char_start and d.char_end <= o.char_end for o in out):
            continue
        out.append(d)
    return out


def _apply_timeline(ctx: _Ctx, resolutions: list[Detection], cat: Category) -> None:
    if cat.extra is None:
        return
    for d in resolutions:
        si = ctx.sent_index(d.char_start)
        lo = ctx.sents[si][0]
        hi = ctx.sents[min(si + ctx.cfg.rescue_window_sentences, len(ctx.sents) - 1)][1]
        m = cat.extra.search(ctx.norm, lo, hi)
        d.detail["timeline"] = None if m is None else ctx.text[m.start():m.end()]
        if m is not None:
            k = ctx.lex.confidence
            d.confidence = min(k["timeline_max"], d.confidence + k["timeline_bonus"])


def _rescued(ctx: _Ctx, flag: Detection, rescuers: list[Detection]) -> Detection | None:
    si = ctx.sent_index(flag.char_start)
    lo = ctx.sents[si][0]
    hi = ctx.sents[min(si + ctx.cfg.rescue_window_sentences, len(ctx.sents) - 1)][1]
    for r in rescuers:
        overlaps = r.char_start < flag.char_end and r.char_end > flag.char_start
        if not overlaps and lo <= r.char_start < hi:
            return r
    return None


def _fact_matches(facts: Sequence[str], agent_tokens: list[Token], lex: Lexicon, cfg: ListeningConfig
                  ) -> list[FactMatch]:
    agent_concepts: set[str] = set()
    for t in agent_tokens:
        agent_concepts |= t.concepts
    out = []
    for fact in facts:
        toks = _content(tokenize(fact, lex, named=True))
        if not toks:
            continue
        hit = [t for t in toks if t.concepts & agent_concepts]
        wsum = sum(cfg.paraphrase_named_weight if t.kind in ("number", "named") else 1.0 for t in toks)
        whit = sum(cfg.paraphrase_named_weight if t.kind in ("number", "named") else 1.0 for t in hit)
        cov = whit / wsum
        out.append(FactMatch(fact, cov, cov >= cfg.fact_min_coverage, [t.text for t in hit]))
    return out


def _lower(text: str) -> str:
    """Lower-cased, same length as ``text`` (so offsets stay valid)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _normalise(text: str) -> str:
    """Same length as ``text`` (offsets stay valid): curly quotes straightened."""
    return text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}))


def analyze_listening(
    agent_text: str,
    words: Sequence[Word] | None = None,
    caller_text: str = "",
    facts: Sequence[str] = (),
    config: ListeningConfig | None = None,
    *,
    closing: bool = False,
    embedder: Any = None,
) -> ListeningResult:
    """Find listening techniques and red flags in one reply and score it.

    Parameters
    ----------
    agent_text : str
        The trainee's words. When empty and ``words`` are given, the words joined by spaces are used.
    words : sequence of Word, optional
        Whisper's word timings (seconds) for ``agent_text``; evidence then carries start/end seconds.
    caller_text : str
        The caller's preceding line(s); needed to judge paraphrase and re-asking (otherwise only restating frames
        and reflections of feeling are found).
    facts : sequence of str
        The scenario's facts ("order 4471 is two weeks late"); each is checked for restatement.
    config : ListeningConfig, optional
        Thresholds; defaults when None.
    closing : bool
        This is the closing turn of a call: thanks / follow-up are then expected and judged.
    embedder : callable, optional
        ``embedder(list_of_str) -> (n, d) array`` of unit vectors (e.g. all-MiniLM-L6-v2, see
        ``bench/_minilm.py``), used for paraphrase only when ``config.use_embeddings`` is on. Not shipped: it did
        not improve paraphrase F1 on the development data (``bench/eval_listening.py --embeddings``).

    Returns
    -------
    ListeningResult
    """
    cfg = config or ListeningConfig()
    lex = load_lexicon(cfg.lexicon_file or None)
    if not agent_text and words:
        agent_text = " ".join(w.word.strip() for w in words)
    text = agent_text or ""
    norm = _normalise(text)
    caller_norm = _normalise(caller_text or "")
    ctx = _Ctx(text, _lower(norm), lex, cfg, _sentences(norm), _align_words(norm, words) if words else [])
    ctx.kinds = [_sentence_kind(ctx.norm[a:b], lex) for a, b in ctx.sents]
    agent_tokens = tokenize(norm, lex)
    caller_tokens = _content(tokenize(caller_norm, lex)) if caller_norm.strip() else []
    caller_given = bool(caller_tokens)

    found: dict[str, list[Detection]] = {}
    for cid, cat in lex.techniques.items():
        if cid != "question":
            found[cid] = _find(ctx, cat)
    refused = [d for dets in found.values() for d in dets if d.id == "refused_referral"]
    for cid in found:
        found[cid] = [d for d in found[cid] if d.id == cid]
    if "resolution" in found and "resolution" in lex.techniques:
        _apply_timeline(ctx, found["resolution"], lex.techniques["resolution"])
    if "question" in lex.techniques:
        found["question"] = _questions(ctx, lex.techniques["question"],
                                       found.get("confirm", []) + found.get("choices", []))

    sims = None
    if cfg.use_embeddings and embedder is not None and caller_given:
        import numpy as np

        vecs = embedder([norm[s:e] for s, e in ctx.sents] + [caller_norm])
        sims = [float(v) for v in np.asarray(vecs[:-1]) @ np.asarray(vecs[-1])]
    found["paraphrase"] = _paraphrases(ctx, agent_tokens, caller_tokens, caller_given, sims)
    bare, specific = _stock_phrases(ctx, agent_tokens, caller_tokens, found["paraphrase"])
    acks = [a for a in found.get("acknowledge", [])
            if not any(b.char_start <= a.char_start < b.char_end + 1 for b in bare)]
    found["acknowledge"] = _dedupe(acks + specific)

    flags: list[Detection] = list(bare) + refused
    for _fid, cat in lex.red_flags.items():
        for f in _find(ctx, cat):
            rescuers = [d for r in cat.rescued_by for d in found.get(r, [])]
            r = _rescued(ctx, f, rescuers) if rescuers else None
            if r is not None:
                continue
            flags.append(f)
    flags += _reasks(ctx, caller_norm, caller_tokens, found.get("question", []))
    # A guarantee is not also a resolution's timeline evidence; a blame quote is not an acknowledgement.
    flags = _dedupe(flags)

    # a quote is not both a technique and a red flag ("you should have" is blame, not a next step)
    flag_spans = [(f.char_start, f.char_end) for f in flags if f.id not in ("stock_phrase", "re_asked")]
    techniques = [d for dets in found.values() for d in dets if d.confidence >= cfg.min_confidence
                  and (d.id in ("paraphrase", "question")
                       or not any(a < d.char_end and d.char_start < b for a, b in flag_spans))]
    techniques.sort(key=lambda d: (d.char_start, d.technique))
    flags = [f for f in flags if f.confidence >= cfg.min_confidence]
    flags.sort(key=lambda d: d.char_start)
    fact_matches = _fact_matches(facts, agent_tokens, lex, cfg)
    caller_low = _lower(caller_norm)
    abusive = bool(lex.caller_abuse.search(caller_low)) or bool(lex.caller_authority.search(caller_low))
    components = _components(techniques, flags, fact_matches, lex, closing=closing, caller_escalated=abusive,
                             caller_given=caller_given)
    if not _has_words(text):  # nothing said: a missed turn, not a score earned by saying nothing wrong
        _missed(components, "the trainee said nothing in this turn")
    score = _cap_for_red_flags(score_from_components(components), flags, cfg)
    return ListeningResult(text, caller_text, techniques, flags, fact_matches, score)


# ---------------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------------


def _tip(lex: Lexicon, cid: str) -> str:
    if cid == "paraphrase":
        return lex.paraphrase_tip
    cat = lex.techniques.get(cid) or lex.red_flags.get(cid)
    return cat.tip if cat else ""


def _best(dets: list[Detection], k: int = 3) -> list[Evidence]:
    return [d.evidence() for d in sorted(dets, key=lambda d: -d.confidence)[:k]]


def _components(techs: list[Detection], flags: list[Detection], facts: list[FactMatch], lex: Lexicon, *,
                closing: bool, caller_escalated: bool, caller_given: bool) -> list[Component]:
    W, C = lex.weights, lex.credit

    def by(*ids: str) -> list[Detection]:
        return [d for d in techs if d.id in ids]

    comps: list[Component] = []

    # 2: acknowledgement
    acks = by("acknowledge")
    stock = [f for f in flags if f.id == "stock_phrase"]
    if acks:
        pts, ev, tip = W["acknowledge"], _best(acks), "Good: you named the caller's situation. Keep it specific."
    elif stock:
        pts, ev, tip = W["acknowledge"] * C["stock_only_acknowledge"], _best(stock), lex.stock.tip
    else:
        pts, ev, tip = 0.0, [], _tip(lex, "acknowledge")
    comps.append(Component("acknowledge", "Acknowledged the caller's feeling and situation", pts,
                           W["acknowledge"], value=float(len(acks)), unit="count", technique=2, tip=tip, evidence=ev))

    # 3: paraphrase (against the scenario's facts when given)
    paras = by("paraphrase")
    reasks = [f for f in flags if f.id == "re_asked"]
    w = W["paraphrase"]
    if facts:
        cov = sum(f.covered for f in facts) / len(facts)
        missing = [f.fact for f in facts if not f.covered]
        tip = (f"Restate the facts you skipped: {'; '.join(missing[:2])}." if missing
               else "Good: you restated the caller's facts.")
        comps.append(Component("paraphrase", "Restated the caller's facts", w * cov, w, value=cov,
                               threshold=None, unit="fraction of facts", technique=3, tip=tip,
                               evidence=_best(paras) + [Evidence(text=f.fact, value=f.coverage) for f in facts]))
    elif not caller_given and not paras:
        comps.append(Component("paraphrase", "Restated the caller's facts", 0.0, w, technique=3,
                               tip=lex.paraphrase_tip, unit="count",
                               withheld="the caller's words were not given, so restating them cannot be judged"))
    else:
        pts = w if paras else 0.0
        comps.append(Component("paraphrase", "Restated the caller's facts", pts, w, value=float(len(paras)),
                               unit="count", technique=3, evidence=_best(paras),
                               tip="Good: you restated what the caller told you." if paras else lex.paraphrase_tip))
    if reasks and comps[-1].withheld is None:
        comps[-1].points *= C["reasked_paraphrase"]
        comps[-1].evidence += _best(reasks)
        comps[-1].tip = reasks[0].tip

    # 5: ownership
    own = by("ownership")
    comps.append(Component("ownership", "Took ownership", W["ownership"] if own else 0.0, W["ownership"],
                           value=float(len(own)), unit="count", technique=5, evidence=_best(own),
                           tip="Good: you owned the problem." if own else _tip(lex, "ownership")))

    # 6/7: explore (targeted question) or resolve (next step with a timeline)
    qs = [d for d in by("question") if d.detail.get("kind") != "social"] + by("break_down")
    open_q = [d for d in qs if d.detail.get("kind") in ("open", None)]
    res = by("resolution")
    timed = [d for d in res if d.detail.get("timeline")]
    w = W["explore_or_resolve"]
    if timed or open_q:
        pts, ev = w, _best(timed + open_q)
        tip = ("Good: you said what happens next and when." if timed
               else "Good: your open question helps break the problem down.")
        tech = 7 if timed else 6
    elif res or qs:
        frac = max(C["resolution_without_timeline"] if res else 0.0, C["closed_question"] if qs else 0.0)
        pts, ev = w * frac, _best(res + qs)
        tip, tech = (_tip(lex, "resolution"), 7) if res else (_tip(lex, "question"), 6)
    else:
        pts, ev, tip, tech = 0.0, [], "Move the call on: ask one open question or say what you will do and by when.", 6
    comps.append(Component("explore_or_resolve", "Explored the problem or gave a next step with a timeline", pts, w,
                           value=float(len(timed) + len(open_q)), unit="count", technique=tech, tip=tip, evidence=ev))

    # 8: choices and confirmation (judged once a solution is on the table)
    ch, cf = by("choices"), by("confirm")
    w = W["choices_confirm"]
    if ch or cf or res or closing:
        if ch and cf:
            pts, tip = w, "Good: you offered options and checked the caller agreed."
        elif ch:
            pts, tip = w * C["choices_only"], "You offered options; now check the caller agrees before acting."
        elif cf:
            pts, tip = w * C["confirm_only"], _tip(lex, "choices")
        else:
            pts, tip = 0.0, _tip(lex, "choices")
        comps.append(Component("choices_confirm", "Offered choices and confirmed", pts, w,
                               value=float(len(ch) + len(cf)), unit="count", technique=8, tip=tip,
                               evidence=_best(ch + cf)))
    else:
        comps.append(Component("choices_confirm", "Offered choices and confirmed", 0.0, w, technique=8,
                               tip=_tip(lex, "choices"), withheld="no solution was offered in this reply yet"))

    # 9: thanks and follow-up (judged at the close, or when present)
    th, fu = by("thanks"), by("follow_up")
    w = W["thanks_follow_up"]
    if th or fu or closing:
        if th and fu:
            pts, tip = w, "Good: you thanked the caller and said how you will follow up."
        elif th:
            pts, tip = w * C["thanks_only"], _tip(lex, "follow_up")
        elif fu:
            pts, tip = w * C["follow_up_only"], _tip(lex, "thanks")
        else:
            pts, tip = 0.0, _tip(lex, "thanks")
        comps.append(Component("thanks_follow_up", "Thanked the caller and offered follow-up", pts, w,
                               value=float(len(th) + len(fu)), unit="count", technique=9, tip=tip,
                               evidence=_best(th + fu)))
    else:
        comps.append(Component("thanks_follow_up", "Thanked the caller and offered follow-up", 0.0, w, technique=9,
                               tip=_tip(lex, "thanks"), withheld="not the closing turn"))

    # 10: referral / boundary (judged when the caller is abusive or asks for more than the agent can give)
    ref = by("referral", "boundary")
    refused = [f for f in flags if f.id == "refused_referral"]
    w = W["referral"]
    if caller_escalated or ref or refused:
        pts = w if ref and not refused else 0.0
        comps.append(Component("referral", "Offered a referral or set a calm boundary", pts, w,
                               value=float(len(ref)), unit="count", technique=10, evidence=_best(ref + refused),
                               tip=("Good: you offered a way up or set a calm limit." if pts
                                    else _tip(lex, "refused_referral" if refused else "referral"))))
    else:
        comps.append(Component("referral", "Offered a referral or set a calm boundary", 0.0, w, technique=10,
                               tip=_tip(lex, "referral"),
                               withheld="the caller was not abusive and asked for nothing beyond the agent"))

    # Red flags: each costs a share of its component.
    groups = [
        ("no_defensiveness", "No blame, \"calm down\", policy wall or \"not my department\"", 5,
         ("blame", "calm_down", "policy_wall", "not_my_department")),
        ("no_dismissal", "Did not dismiss the problem or hide behind a stock phrase", 2,
         ("dismissive", "stock_phrase")),
        ("no_sarcasm", "No sarcasm or retaliation", 4, ("sarcasm",)),
        ("realistic_promises", "Promised only what can be kept", 7, ("guarantee",)),
    ]
    for cid, label, tech, ids in groups:
        w = W[cid]
        hits = [f for f in flags if f.id in ids]
        lost = sum(C["red_flag_penalty"] * (C["stock_phrase_penalty_share"] if f.id == "stock_phrase" else 1.0)
                   for f in hits)
        pts = max(0.0, w * (1.0 - lost))
        tip = hits[0].tip if hits else f"Good: none found ({', '.join(ids)})."
        comps.append(Component(cid, label, pts, w, value=float(len(hits)), threshold=0.0, unit="count",
                               technique=tech, tip=tip, evidence=_best(hits, 5)))
    return comps


# ---------------------------------------------------------------------------------------------------------------
# A whole call
# ---------------------------------------------------------------------------------------------------------------


def _as_turn(t: Any) -> CallTurn:
    if isinstance(t, CallTurn):
        return t
    if isinstance(t, dict):
        return CallTurn(str(t.get("speaker", "")), str(t.get("text", "")), t.get("words"))
    speaker, text = t
    return CallTurn(str(speaker), str(text))


def analyze_call(
    turns: Sequence[CallTurn | tuple[str, str] | dict],
    facts: Sequence[str] = (),
    config: ListeningConfig | None = None,
) -> CallListening:
    """Analyse every agent turn of a call (with the caller's lines before it) and check the order of techniques.

    Parameters
    ----------
    turns : sequence of CallTurn, (speaker, text) or {"speaker", "text"}
        In call order; ``speaker`` is ``"agent"`` (the trainee) or ``"caller"``.
    facts : sequence of str
        The scenario's facts, checked against everything the agent said.
    config : ListeningConfig, optional

    Returns
    -------
    CallListening
        Per-turn results, order checks (acknowledgement before the solution, choices before confirmation, thanks
        at the close) and a call score whose components take the best evidence over the call.
    """
    cfg = config or ListeningConfig()
    lex = load_lexicon(cfg.lexicon_file or None)
    ts = [_as_turn(t) for t in turns]
    for t in ts:
        if t.speaker not in ("agent", "caller"):
            raise UserError(f"call turn speaker must be 'agent' or 'caller', got {t.speaker!r}")
    agent_idx = [i for i, t in enumerate(ts) if t.speaker == "agent"]
    results: list[ListeningResult] = []
    pending: list[str] = []
    caller_all: list[str] = []
    for i, t in enumerate(ts):
        if t.speaker == "caller":
            pending.append(t.text)
            caller_all.append(t.text)
            continue
        r = analyze_listening(t.text, t.words, " ".join(pending), (), cfg, closing=(i == agent_idx[-1]))
        results.append(r)
        pending = []

    techs: list[Detection] = []
    flags: list[Detection] = []
    for ti, r in zip(agent_idx, results, strict=True):
        for d in r.techniques:
            d.detail.setdefault("turn", ti)
            techs.append(d)
        for f in r.red_flags:
            f.detail.setdefault("turn", ti)
            flags.append(f)
    all_agent = " ".join(ts[i].text for i in agent_idx)
    fact_matches = _fact_matches(facts, tokenize(_normalise(all_agent), lex), lex, cfg)
    caller_text = _lower(_normalise(" ".join(caller_all)))
    escalated = bool(lex.caller_abuse.search(caller_text) or lex.caller_authority.search(caller_text))
    comps = _components(techs, flags, fact_matches, lex, closing=bool(agent_idx), caller_escalated=escalated,
                        caller_given=bool(caller_text.strip()))
    order = _order_checks(techs, agent_idx, lex)
    all_comps = comps + order
    if not _has_words(all_agent):
        all_comps = _missed(all_comps, "the trainee said nothing in this call")
    score = _cap_for_red_flags(score_from_components(all_comps), flags, cfg)
    return CallListening(results, agent_idx, order, score)


def _has_words(text: str) -> bool:
    return bool(_WORD_RE.search(text or ""))


def _withhold(components: list[Component], reason: str) -> None:
    for c in components:
        if c.withheld is None:
            c.withheld = reason


def _missed(components: list[Component], reason: str) -> list[Component]:
    """A reply with no words: every technique component is withheld (nothing to judge) and one ``answered``
    component earns 0 of its points, so the listening score is 0 rather than missing."""
    _withhold(components, reason)
    components.append(Component("answered", "Answered the caller", 0.0, 1.0, value=0.0, unit="count", technique=2,
                                tip="Say something as soon as the caller stops: even a short acknowledgement "
                                    "tells them you are there and listening."))
    return components


def _cap_for_red_flags(score: Score, flags: list[Detection], cfg: ListeningConfig) -> Score:
    """Limit the score by ``cfg.red_flag_cap_per_flag`` points per red flag (see :class:`ListeningConfig`)."""
    if not flags:
        return score
    n = len(flags)
    return score.capped(100.0 - cfg.red_flag_cap_per_flag * n,
                        f"{n} red flag{'s' if n != 1 else ''}: each lowers the highest listening score "
                        f"by {cfg.red_flag_cap_per_flag:.0f} points", [f.evidence() for f in flags[:5]])


def _pos(d: Detection) -> tuple[int, int]:
    return (int(d.detail.get("turn", 0)), d.char_start)


def _order_checks(techs: list[Detection], agent_idx: list[int], lex: Lexicon) -> list[Component]:
    W = lex.weights
    out = []

    def first(*ids: str) -> Detection | None:
        c = [d for d in techs if d.id in ids]
        return min(c, key=_pos) if c else None

    def ev(d: Detection | None) -> list[Evidence]:
        return [d.evidence()] if d else []

    # acknowledgement / understanding before the solution
    w = W["order_ack_before_solution"]
    sol = first("resolution", "choices")
    ack = first("acknowledge", "paraphrase")
    if sol is None:
        out.append(Component("order_ack_before_solution", "Acknowledged before offering a solution", 0.0, w,
                             technique=2, tip=_tip(lex, "acknowledge"), withheld="no solution was offered"))
    else:
        ok = ack is not None and _pos(ack) < _pos(sol)
        out.append(Component("order_ack_before_solution", "Acknowledged before offering a solution",
                             w if ok else 0.0, w, technique=2, evidence=ev(ack) + ev(sol),
                             tip="Good: you acknowledged before solving." if ok else
                             "Acknowledge the caller's feeling and restate the problem before you offer a fix."))

    # choices before confirmation
    w = W["order_choices_before_confirm"]
    ch, cf = first("choices"), first("confirm")
    confirms = [d for d in techs if d.id == "confirm"]
    if ch is None and cf is None:
        out.append(Component("order_choices_before_confirm", "Offered choices, then confirmed", 0.0, w, technique=8,
                             tip=_tip(lex, "choices"), withheld="no choices or confirmation in the call"))
    else:
        later = [c for c in confirms if ch is not None and _pos(c) > _pos(ch)]
        ok = ch is not None and bool(later)
        if ok:
            tip = "Good: options first, then the caller's agreement."
        elif ch is None:
            tip = "Offer the caller a choice before asking them to agree to one plan."
        else:
            tip = "After offering options, check which one the caller wants before you act."
        out.append(Component("order_choices_before_confirm", "Offered choices, then confirmed", w if ok else 0.0, w,
                             technique=8, tip=tip, evidence=ev(ch) + (ev(later[0]) if later else ev(cf))))

    # thanks at the close
    w = W["order_thanks_at_close"]
    last = agent_idx[-1] if agent_idx else None
    closing_thanks = [d for d in techs if d.id == "thanks" and d.detail.get("turn") == last]
    if last is None:
        out.append(Component("order_thanks_at_close", "Thanked the caller at the close", 0.0, w, technique=9,
                             tip=_tip(lex, "thanks"), withheld="the agent did not speak"))
    else:
        ok = bool(closing_thanks)
        out.append(Component("order_thanks_at_close", "Thanked the caller at the close", w if ok else 0.0, w,
                             technique=9, evidence=ev(closing_thanks[0] if ok else None),
                             tip="Good: you closed with thanks." if ok else _tip(lex, "thanks")))
    return out
