"""The feedback composer: a few right points per turn, and the three things to work on first.

Pure: a loaded :class:`~voice_trainer.report.record.ReportRecord` in, a :class:`CallFeedback` out. The candidate
points of each turn come from :func:`~voice_trainer.report.feedback.turn_feedback`; this module chooses among
them the way a coach would:

1. **Impact first.** Red flags and talking over the caller come before anything else; then the technique this
   moment of the call needs (:data:`STAGE_NEEDS`: the opening asks for acknowledging and restating, the details
   for questions, the negotiation for choices with a timeline and a confirmation, the close for thanks); then
   the rest by points at stake.
2. **Aware of the call so far.** A technique the trainee already showed in an earlier turn is not asked for
   again, unless the caller raised something new (``ReportConfig.new_topic_share`` of the caller's content
   words are new: restate and ask again) or got angrier (``ReportConfig.reacknowledge_anger_rise``:
   acknowledge again).
3. **Never both.** One technique never appears under both "went well" and "to change" in one turn: a red flag
   or an interruption outranks a good point of the same technique; otherwise the good point stays.
4. **Few.** At most ``ReportConfig.max_items`` (2) points in each list.
5. **In the scenario's own words.** Tips for missing techniques end with an example built from the scenario
   (its ``examples`` table when it has one, else its facts and resolutions).

The session focus (:func:`session_focus`) ranks the techniques behind every turn's "to change" points over the
whole call and gives the first ``ReportConfig.focus_points`` (3), each with its evidence (turn, time, quote)
and an example of better wording for this situation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..config import ReportConfig
from .feedback import TECHNIQUES, Item, technique_name, turn_feedback
from .record import ReportRecord, TurnView

STAGE_NEEDS: dict[str, tuple[int, ...]] = {
    "opening": (2, 3),
    "vent": (2, 3),
    "details": (6, 3),
    "negotiate": (8, 7),
    "closing": (9, 8),
    "abusive": (10, 2),
}
"""Techniques (numbers of docs/techniques.md) each moment of the call needs most, in order."""

_TIER_URGENT, _TIER_STAGE, _TIER_OTHER = 0, 1, 2
_EXAMPLE_KEYS = {2: "acknowledge", 3: "restate", 5: "ownership", 6: "ask", 7: "next_step", 8: "choices",
                 9: "thank", 10: "boundary", 1: "let_finish", 4: "steady_voice"}
_STOP = frozenset(
    "the a an and or but to of in on at for with from by is are was were be been am i you my your me we our it "
    "this that these those what who why how when where there here have has had do does did not no just so then "
    "than can could would will should as if about up down out over again still really very all any some".split())


@dataclass
class TurnPoints:
    """What a trainee reads about one turn: at most two points each way."""

    index: int
    stage: str
    went_well: list[Item] = field(default_factory=list)
    to_change: list[Item] = field(default_factory=list)


@dataclass
class FocusPoint:
    """One of the things to work on first.

    Attributes
    ----------
    technique : int
        Number of the technique (docs/techniques.md).
    what : str
        What kept happening, in a few words.
    evidence : list of dict
        Where: ``turn``, ``start`` (seconds on that turn's recording), ``quote``.
    example : str
        Better wording for this situation.
    turns : int
        In how many turns it came up.
    """

    technique: int
    what: str
    evidence: list[dict] = field(default_factory=list)
    example: str = ""
    turns: int = 0

    def to_dict(self) -> dict:
        return {"technique": technique_name(self.technique), "technique_id": self.technique, "what": self.what,
                "evidence": self.evidence, "example": self.example, "turns": self.turns}


@dataclass
class CallFeedback:
    """The composed feedback of a call: per turn points and the session focus."""

    turns: list[TurnPoints] = field(default_factory=list)
    focus: list[FocusPoint] = field(default_factory=list)

    def for_turn(self, index: int) -> TurnPoints | None:
        return next((t for t in self.turns if t.index == index), None)


# ---------------------------------------------------------------------------------------------------------------
# wording from the scenario
# ---------------------------------------------------------------------------------------------------------------


def _you(text: str) -> str:
    """Third-person scenario wording turned towards the caller ("the caller's bank" -> "your bank")."""
    text = re.sub(r"\bthe caller's\b", "your", text)
    text = re.sub(r"\bthe caller\b", "you", text)
    return text.strip().rstrip(".")


def example_for(technique: int, scenario: dict[str, Any] | None) -> str:
    """Better wording for ``technique`` in this scenario: its ``examples`` table, else built from its facts and
    resolutions, else a general line."""
    sc = scenario or {}
    key = _EXAMPLE_KEYS.get(technique, "")
    given = sc.get("examples") if isinstance(sc.get("examples"), dict) else {}
    if key and isinstance(given.get(key), str) and given[key].strip():
        return given[key].strip()
    facts = [str(f) for f in sc.get("facts") or [] if isinstance(f, str)]
    res = [_you(str(r)) for r in sc.get("resolutions") or [] if isinstance(r, str)]
    if technique == 3 and len(facts) >= 2:
        return f"So, to be sure I have it right: {_you(facts[0])}, and {_you(facts[1])}. Is that right?"
    if technique == 8 and len(res) >= 2:
        return f"I can {res[0]}, or {res[1]}. Which would suit you better?"
    if technique == 7 and res:
        return f"Here is what I will do: {res[0]}, and I will confirm it to you in writing."
    if technique == 5 and res:
        return f"That should not have happened, and I will put it right: {res[0]}."
    return {
        1: "(Let them finish.) Mm-hm... I hear you. Go on.",
        2: "I'm sorry, that sounds really stressful, and I want to sort it out with you now.",
        4: "(Slower and lower than the caller:) I understand. Let me look at this with you.",
        6: "Can you tell me when you first noticed this, so I look at the right thing?",
        9: "Thank you for bearing with me while we sorted this out.",
        10: "I do want to help you, and I can do that if we keep this respectful. Let me bring in my supervisor.",
    }.get(technique, "")


# ---------------------------------------------------------------------------------------------------------------
# the moment of the call and what came before
# ---------------------------------------------------------------------------------------------------------------


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOP and len(w) > 2}


def turn_stage(turn: TurnView, position: int, n_turns: int, outcome: str | None) -> str:
    """The moment of the call a turn answers: the caller line's stage when recorded, else its position."""
    stage = turn.caller_stage or ""
    if stage in ("resolved", "referred", "hung_up"):
        return "closing"
    if stage in STAGE_NEEDS:
        return stage
    if position == 0:
        return "opening"
    if position == n_turns - 1 and outcome == "resolved":
        return "closing"
    return "details" if position < max(2, n_turns // 2) else "negotiate"


def _shown(items: list[Item]) -> set[int]:
    """Techniques a turn showed: heard techniques (not score-component praise)."""
    return {int(i.technique) for i in items if i.technique and i.key.startswith(("tech:", "calm_voice"))}


def _asked_again(technique: int, turn: TurnView, prev: TurnView | None, earlier_caller: set[str],
                 cfg: ReportConfig) -> bool:
    """Whether a technique shown earlier is needed again in this turn (something new came up)."""
    if technique == 2 and prev is not None and turn.anger_before is not None and prev.anger_before is not None:
        return turn.anger_before - prev.anger_before >= cfg.reacknowledge_anger_rise
    if technique in (3, 6):
        words = _content(turn.caller_text)
        return bool(words) and len(words - earlier_caller) / len(words) >= cfg.new_topic_share
    return False


# ---------------------------------------------------------------------------------------------------------------
# choosing
# ---------------------------------------------------------------------------------------------------------------


def _urgent(i: Item) -> bool:
    return i.key.startswith("flag:") or i.key == "interruption"


def _tier(i: Item, needs: tuple[int, ...]) -> int:
    if _urgent(i):
        return _TIER_URGENT
    if i.technique in needs:
        return _TIER_STAGE
    return _TIER_OTHER


def _heard(i: Item) -> bool:
    """A good point about something the trainee did (a technique heard, a calm voice), not score praise."""
    return i.key.startswith("tech:") or i.key == "calm_voice"


def _choose(good: list[Item], change: list[Item], needs: tuple[int, ...], n: int) -> tuple[list[Item], list[Item]]:
    # one technique never in both lists: a red flag or an interruption beats anything good of its technique; a
    # technique heard beats a missing/partial point of the same technique; score praise (e.g. time to answer)
    # gives way to any point to change of its technique
    urgent_tech = {i.technique for i in change if _urgent(i)}
    heard_tech = {g.technique for g in good if _heard(g) and g.technique not in urgent_tech}
    change = [c for c in change if _urgent(c) or c.technique not in heard_tech]
    change_tech = {c.technique for c in change}
    good = [g for g in good if g.technique not in urgent_tech and (_heard(g) or g.technique not in change_tech)]

    def rank_change(i: Item) -> tuple:
        pos = needs.index(i.technique) if i.technique in needs else len(needs)
        return (_tier(i, needs), pos, -i.weight)

    def rank_good(i: Item) -> tuple:
        heard = i.key.startswith("tech:")
        return (0 if heard and i.technique in needs else 1 if heard else 2, -i.weight)

    picked_change: list[Item] = []
    for c in sorted(change, key=rank_change):  # one point per technique, except separate red flags
        if len(picked_change) >= n:
            break
        if not _urgent(c) and any(p.technique == c.technique for p in picked_change):
            continue
        picked_change.append(c)
    picked_good: list[Item] = []
    for g in sorted(good, key=rank_good):
        if len(picked_good) >= n:
            break
        if any(p.technique == g.technique for p in picked_good):
            continue
        picked_good.append(g)
    return picked_good, picked_change


def _with_example(i: Item, scenario: dict | None) -> Item:
    if not i.missing or not i.technique:
        return i
    ex = example_for(int(i.technique), scenario)
    if not ex:
        return i
    tip = re.sub(r'\s*\([^)]*"[^"]*"[^)]*\)|\s*\("[^"]*"\)', "", i.tip).rstrip(" .")  # drop generic examples
    return Item(i.kind, i.what, i.quote, i.start, i.end, i.number, i.technique,
                f'{tip}. For example: "{ex}"' if tip else f'For example: "{ex}"', i.weight, i.key, i.missing)


def compose(rec: ReportRecord, cfg: ReportConfig | None = None) -> CallFeedback:
    """Choose each turn's points and the session focus (see the module docstring for the rules)."""
    cfg = cfg or ReportConfig()
    out = CallFeedback()
    shown_before: set[int] = set()
    earlier_caller: set[str] = set()
    prev: TurnView | None = None
    all_change: list[tuple[TurnView, Item]] = []
    for pos, t in enumerate(rec.turns):
        stage = turn_stage(t, pos, len(rec.turns), rec.outcome)
        if _abusive(rec):
            stage = "abusive" if stage not in ("closing",) else stage
        needs = STAGE_NEEDS.get(stage, ())
        good, change = turn_feedback(t, cfg, limit=1000)
        change = [c for c in change if not (c.missing and c.technique in shown_before
                                            and not _asked_again(int(c.technique), t, prev, earlier_caller, cfg))]
        change = [_with_example(c, rec.scenario) for c in change]
        g, c = _choose(good, change, needs, cfg.max_items)
        out.turns.append(TurnPoints(t.index, stage, g, c))
        all_change.extend((t, i) for i in change if _urgent(i) or i.technique not in {x.technique for x in g})
        shown_before |= _shown(good)
        earlier_caller |= _content(t.caller_text)
        prev = t
    out.focus = session_focus(all_change, rec.scenario, cfg)
    return out


def _abusive(rec: ReportRecord) -> bool:
    return str((rec.scenario or {}).get("id", "")).startswith("abusive")


def session_focus(points: list[tuple[TurnView, Item]], scenario: dict | None,
                  cfg: ReportConfig | None = None) -> list[FocusPoint]:
    """The techniques to work on first: ranked by red flags and interruptions, then the points at stake summed
    over the turns where they came up; at most ``cfg.focus_points``."""
    cfg = cfg or ReportConfig()
    by_tech: dict[int, list[tuple[TurnView, Item]]] = {}
    for t, i in points:
        if i.technique:
            by_tech.setdefault(int(i.technique), []).append((t, i))

    def rank(tech: int) -> tuple:
        items = by_tech[tech]
        return (-sum(1 for _, i in items if _urgent(i)), -sum(i.weight for _, i in items))

    out = []
    for tech in sorted(by_tech, key=rank)[: cfg.focus_points]:
        items = sorted(by_tech[tech], key=lambda ti: (not _urgent(ti[1]), -ti[1].weight))
        turns = sorted({t.index for t, _ in items})
        urgent = [i for _, i in items if _urgent(i)]
        labels = list(dict.fromkeys(_short(i.what) for i in (urgent or [items[0][1]])))
        what = ", ".join([labels[0]] + [lab[:1].lower() + lab[1:] for lab in labels[1:3]])
        what += f" (in {len(turns)} turns)" if len(turns) > 1 else ""
        evidence = [{"turn": t.index, "start": None if i.start is None else round(i.start, 2),
                     "quote": i.quote or None, "what": i.what} for t, i in items[:3]]
        out.append(FocusPoint(tech, what, evidence, example_for(tech, scenario), len(turns)))
    return out


def _short(what: str) -> str:
    """An item's wording without its quote of the caller ("Talked over the caller over '...'")."""
    what = re.sub(r'^Avoid: ', "", re.sub(r'\s+(over|during)\s+"[^"]*"$', "", what))
    return what[:1].upper() + what[1:]


def techniques_text() -> dict[str, str]:
    """The techniques' short names by number (for JSON)."""
    return {str(n): name for n, name in TECHNIQUES.items()}
