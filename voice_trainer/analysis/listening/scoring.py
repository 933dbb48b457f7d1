"""Listening score components: one per technique (with evidence and a tip), red-flag groups, the cap per red
flag, a missed turn, and the order checks over a whole call. Weights and credits: ``data/listening.toml``."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import ListeningConfig
from ..scoring import Component, Evidence, Score
from .lexicon import Lexicon
from .results import Detection, FactMatch


def _tip(lex: Lexicon, cid: str) -> str:
    if cid == "paraphrase":
        return lex.paraphrase_tip
    cat = lex.techniques.get(cid) or lex.red_flags.get(cid)
    return cat.tip if cat else ""


def _best(dets: list[Detection], k: int = 3) -> list[Evidence]:
    return [d.evidence() for d in sorted(dets, key=lambda d: -d.confidence)[:k]]


@dataclass
class _Findings:
    """What one reply (or a whole call) showed, as the component builders below read it."""

    techs: list[Detection]
    flags: list[Detection]
    lex: Lexicon

    def by(self, *ids: str) -> list[Detection]:
        """The techniques with one of these ids."""
        return [d for d in self.techs if d.id in ids]

    def flagged(self, *ids: str) -> list[Detection]:
        """The red flags with one of these ids."""
        return [f for f in self.flags if f.id in ids]


def _components(techs: list[Detection], flags: list[Detection], facts: list[FactMatch], lex: Lexicon, *,
                closing: bool, caller_escalated: bool, caller_given: bool) -> list[Component]:
    """The listening components of one reply or a call, in technique order, then the red-flag groups."""
    f = _Findings(techs, flags, lex)
    return [
        _acknowledge(f),
        _paraphrase(f, facts, caller_given),
        _ownership(f),
        _explore_or_resolve(f),
        _choices_confirm(f, closing),
        _thanks_follow_up(f, closing),
        _referral(f, caller_escalated),
        *_red_flag_groups(f),
    ]


def _acknowledge(f: _Findings) -> Component:
    """Technique 2. A bare stock phrase alone earns ``credit.stock_only_acknowledge`` of the weight."""
    lex = f.lex
    w = lex.weights["acknowledge"]
    acks = f.by("acknowledge")
    stock = f.flagged("stock_phrase")
    if acks:
        pts, ev, tip = w, _best(acks), "Good: you named the caller's situation. Keep it specific."
    elif stock:
        pts, ev, tip = w * lex.credit["stock_only_acknowledge"], _best(stock), lex.stock.tip
    else:
        pts, ev, tip = 0.0, [], _tip(lex, "acknowledge")
    return Component("acknowledge", "Acknowledged the caller's feeling and situation", pts, w,
                     value=float(len(acks)), unit="count", technique=2, tip=tip, evidence=ev)


def _paraphrase(f: _Findings, facts: list[FactMatch], caller_given: bool) -> Component:
    """Technique 3, against the scenario's facts when given; a re-ask keeps ``credit.reasked_paraphrase``."""
    lex = f.lex
    paras = f.by("paraphrase")
    reasks = f.flagged("re_asked")
    w = lex.weights["paraphrase"]
    if facts:
        cov = sum(m.covered for m in facts) / len(facts)
        missing = [m.fact for m in facts if not m.covered]
        tip = (f"Restate the facts you skipped: {'; '.join(missing[:2])}." if missing
               else "Good: you restated the caller's facts.")
        comp = Component("paraphrase", "Restated the caller's facts", w * cov, w, value=cov,
                         threshold=None, unit="fraction of facts", technique=3, tip=tip,
                         evidence=_best(paras) + [Evidence(text=m.fact, value=m.coverage) for m in facts])
    elif not caller_given and not paras:
        comp = Component("paraphrase", "Restated the caller's facts", 0.0, w, technique=3,
                         tip=lex.paraphrase_tip, unit="count",
                         withheld="the caller's words were not given, so restating them cannot be judged")
    else:
        pts = w if paras else 0.0
        comp = Component("paraphrase", "Restated the caller's facts", pts, w, value=float(len(paras)),
                         unit="count", technique=3, evidence=_best(paras),
                         tip="Good: you restated what the caller told you." if paras else lex.paraphrase_tip)
    if reasks and comp.withheld is None:
        comp.points *= lex.credit["reasked_paraphrase"]
        comp.evidence += _best(reasks)
        comp.tip = reasks[0].tip
    return comp


def _ownership(f: _Findings) -> Component:
    """Technique 5."""
    w = f.lex.weights["ownership"]
    own = f.by("ownership")
    return Component("ownership", "Took ownership", w if own else 0.0, w,
                     value=float(len(own)), unit="count", technique=5, evidence=_best(own),
                     tip="Good: you owned the problem." if own else _tip(f.lex, "ownership"))


def _explore_or_resolve(f: _Findings) -> Component:
    """Techniques 6/7: a targeted open question, or a next step with a timeline (partial credit without)."""
    lex, C = f.lex, f.lex.credit
    qs = [d for d in f.by("question") if d.detail.get("kind") != "social"] + f.by("break_down")
    open_q = [d for d in qs if d.detail.get("kind") in ("open", None)]
    res = f.by("resolution")
    timed = [d for d in res if d.detail.get("timeline")]
    w = lex.weights["explore_or_resolve"]
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
    return Component("explore_or_resolve", "Explored the problem or gave a next step with a timeline", pts, w,
                     value=float(len(timed) + len(open_q)), unit="count", technique=tech, tip=tip, evidence=ev)


def _choices_confirm(f: _Findings, closing: bool) -> Component:
    """Technique 8, judged once a solution is on the table (or at the close)."""
    lex, C = f.lex, f.lex.credit
    ch, cf = f.by("choices"), f.by("confirm")
    w = lex.weights["choices_confirm"]
    if not (ch or cf or f.by("resolution") or closing):
        return Component("choices_confirm", "Offered choices and confirmed", 0.0, w, technique=8,
                         tip=_tip(lex, "choices"), withheld="no solution was offered in this reply yet")
    if ch and cf:
        pts, tip = w, "Good: you offered options and checked the caller agreed."
    elif ch:
        pts, tip = w * C["choices_only"], "You offered options; now check the caller agrees before acting."
    elif cf:
        pts, tip = w * C["confirm_only"], _tip(lex, "choices")
    else:
        pts, tip = 0.0, _tip(lex, "choices")
    return Component("choices_confirm", "Offered choices and confirmed", pts, w,
                     value=float(len(ch) + len(cf)), unit="count", technique=8, tip=tip, evidence=_best(ch + cf))


def _thanks_follow_up(f: _Findings, closing: bool) -> Component:
    """Technique 9, judged at the close or when present."""
    lex, C = f.lex, f.lex.credit
    th, fu = f.by("thanks"), f.by("follow_up")
    w = lex.weights["thanks_follow_up"]
    if not (th or fu or closing):
        return Component("thanks_follow_up", "Thanked the caller and offered follow-up", 0.0, w, technique=9,
                         tip=_tip(lex, "thanks"), withheld="not the closing turn")
    if th and fu:
        pts, tip = w, "Good: you thanked the caller and said how you will follow up."
    elif th:
        pts, tip = w * C["thanks_only"], _tip(lex, "follow_up")
    elif fu:
        pts, tip = w * C["follow_up_only"], _tip(lex, "thanks")
    else:
        pts, tip = 0.0, _tip(lex, "thanks")
    return Component("thanks_follow_up", "Thanked the caller and offered follow-up", pts, w,
                     value=float(len(th) + len(fu)), unit="count", technique=9, tip=tip, evidence=_best(th + fu))


def _referral(f: _Findings, caller_escalated: bool) -> Component:
    """Technique 10, judged when the caller is abusive or asks for more than the agent can give."""
    lex = f.lex
    ref = f.by("referral", "boundary")
    refused = f.flagged("refused_referral")
    w = lex.weights["referral"]
    if not (caller_escalated or ref or refused):
        return Component("referral", "Offered a referral or set a calm boundary", 0.0, w, technique=10,
                         tip=_tip(lex, "referral"),
                         withheld="the caller was not abusive and asked for nothing beyond the agent")
    pts = w if ref and not refused else 0.0
    return Component("referral", "Offered a referral or set a calm boundary", pts, w,
                     value=float(len(ref)), unit="count", technique=10, evidence=_best(ref + refused),
                     tip=("Good: you offered a way up or set a calm limit." if pts
                          else _tip(lex, "refused_referral" if refused else "referral")))


_RED_FLAG_GROUPS = (
    ("no_defensiveness", "No blame, \"calm down\", policy wall or \"not my department\"", 5,
     ("blame", "calm_down", "policy_wall", "not_my_department", "defensive")),
    ("no_dismissal", "Did not dismiss the problem or hide behind a stock phrase", 2,
     ("dismissive", "stock_phrase", "minimising")),
    ("no_sarcasm", "No sarcasm, talking down or retaliation", 4, ("sarcasm", "patronising", "retaliation")),
    ("realistic_promises", "Promised only what can be kept", 7, ("guarantee",)),
)
"""(component id, label, technique, red-flag ids): each flag costs ``credit.red_flag_penalty`` of the weight (a
stock phrase ``credit.stock_phrase_penalty_share`` of that)."""


def _red_flag_groups(f: _Findings) -> list[Component]:
    C = f.lex.credit
    comps = []
    for cid, label, tech, ids in _RED_FLAG_GROUPS:
        w = f.lex.weights[cid]
        hits = f.flagged(*ids)
        lost = sum(C["red_flag_penalty"] * (C["stock_phrase_penalty_share"] if h.id == "stock_phrase" else 1.0)
                   for h in hits)
        pts = max(0.0, w * (1.0 - lost))
        tip = hits[0].tip if hits else f"Good: none found ({', '.join(ids)})."
        comps.append(Component(cid, label, pts, w, value=float(len(hits)), threshold=0.0, unit="count",
                               technique=tech, tip=tip, evidence=_best(hits, 5)))
    return comps


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
