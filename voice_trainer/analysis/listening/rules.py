"""Detection rules: lexical matches with negation and rescue, questions by sentence kind, stock phrases
(bare = red flag, specific = acknowledgement), re-asking what the caller already said, timelines of next steps.

Confidences that are not a lexicon table's own are in the lexicon's ``[confidence]`` table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...config import ListeningConfig
from ..transcript import Word
from .lexicon import Category, Lexicon, _stem
from .results import Detection
from .text import Token, _content, tokenize

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
