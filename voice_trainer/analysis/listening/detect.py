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

This module runs the stages in order; each stage lives in its own module of this package:

* ``lexicon.py`` - the phrase lexicon compiled from ``data/listening.toml``;
* ``text.py`` - tokens, sentences and offset-preserving normalising;
* ``rules.py`` - lexical matches, negation, rescue, questions, stock phrases, re-asks, timelines;
* ``paraphrase.py`` - restating the caller's words and the scenario's facts;
* ``scoring.py`` - the score components, the red-flag cap and the order checks of a call;
* ``results.py`` - the result types.

Everything that used to be defined here is still importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...config import ListeningConfig
from ...errors import UserError
from ..scoring import score_from_components
from ..transcript import Word
from .lexicon import Category, Lexicon, load_lexicon
from .paraphrase import _fact_matches, _paraphrases
from .results import CallListening, CallTurn, Detection, FactMatch, ListeningResult
from .rules import (
    _align_words,
    _apply_timeline,
    _Ctx,
    _dedupe,
    _find,
    _questions,
    _reasks,
    _rescued,
    _sentence_kind,
    _stock_phrases,
)
from .scoring import _cap_for_red_flags, _components, _missed, _order_checks
from .text import Token, _content, _has_words, _lower, _normalise, _sentences, tokenize

__all__ = [
    "CallListening",
    "CallTurn",
    "Category",
    "Detection",
    "FactMatch",
    "Lexicon",
    "ListeningResult",
    "Token",
    "analyze_call",
    "analyze_listening",
    "load_lexicon",
    "tokenize",
]


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
        ``embedder(list_of_str) -> (n, d) array`` of unit vectors (e.g. ``sentence_encoder.get_encoder()``
        in this package), a raw-similarity paraphrase rule used only when
        ``config.use_embeddings`` is on (off by default: it did not improve paraphrase F1). The learned detectors
        (``config.learned_model``, ``listening_model.py``) are the shipped use of sentence vectors.

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
    if cfg.learned_model and _has_words(text):  # learned detectors (issue 15): one hook, see listening_model.py
        from .listening_model import ListeningModelConfig, merge_learned

        flags = merge_learned(ctx, found, flags, caller_norm, ListeningModelConfig())
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
