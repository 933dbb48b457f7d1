"""Paraphrase (technique 3): sentences that restate the caller's content words (by stem, synonym group, number
value or spelling of a named thing), reflections of feeling, and coverage of the scenario's facts."""

from __future__ import annotations

from collections.abc import Sequence

from ...config import ListeningConfig
from .lexicon import Lexicon
from .results import Detection, FactMatch
from .rules import _ADVICE, _SELF_START, _YOU, _YOU_FEEL, _Ctx
from .text import Token, _content, tokenize


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
