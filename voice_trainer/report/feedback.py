"""What went well and what to change in one turn, each point with its evidence and the technique it belongs to.

Pure: plain dicts (the analyses' ``to_dict()`` output, via :class:`~voice_trainer.report.record.TurnView`) in,
:class:`Item` lists out. Nothing here reads files or prints.

Sources, in order of how directly they point at a moment:

* listening detections (techniques and red flags) quote the words and their time;
* turn-taking events (interruptions, dead air) give a time and a duration;
* score components (tone against the trainee's own baseline, listening, turn-taking) give the measured number,
  the baseline and the threshold; a component earning less than ``change_share`` of its points is something to
  change, one earning at least ``good_share`` with evidence is something that went well.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..analysis.tone import SELF_BASELINE
from ..config import ReportConfig
from .record import TurnView

TECHNIQUES: dict[int, str] = {
    1: "Let the caller vent",
    2: "Acknowledge and validate",
    3: "Restate the facts",
    4: "Calm, steady voice",
    5: "Stay non-defensive",
    6: "Break the problem down",
    7: "Realistic next step",
    8: "Offer choices, then confirm",
    9: "Thank and follow up",
    10: "Refer or set a boundary",
}
"""Short names of the ten techniques of docs/techniques.md (our own wording)."""

TECHNIQUE_TEXT: dict[int, str] = {
    1: "Let an upset caller finish before you answer; short listening sounds show you are there. Cutting in "
       "makes them start over, louder.",
    2: "Name the feeling and the situation in your own words before any solution, so the caller knows they "
       "were heard.",
    3: "Say the caller's key facts back (what happened, the numbers, the dates) and check you have them right.",
    4: "Keep your own loudness, pitch and pace near your calm voice; the caller tends to match the voice they "
       "hear.",
    5: "Own the problem without blame, excuses, policy walls or telling the caller how to feel.",
    6: "Ask one question at a time to split a big complaint into parts you can act on.",
    7: "Promise only what you can do, with a concrete step and a time: what happens next, and by when.",
    8: "Offer two workable options, let the caller choose, then confirm what was agreed.",
    9: "Thank the caller and say how you will follow up, so the call ends on a plan.",
    10: "When abuse continues or the request is beyond you, set a calm boundary or hand over to someone who can "
        "help.",
}
"""One line on each technique: what it is and why it works (our own wording)."""

# Listening components that only restate red flags (the red flags are listed one by one instead).
_FLAG_COMPONENTS = {"no_defensiveness", "no_dismissal", "no_sarcasm", "realistic_promises"}
# Turn-taking components restating events listed one by one (interruptions, dead air).
_EVENT_COMPONENTS = {"interruptions", "dead_air"}


def technique_name(n: int | None) -> str:
    """``"T2 Acknowledge and validate"``; empty for None."""
    if n is None:
        return ""
    return f"T{n} {TECHNIQUES.get(int(n), '')}".strip()


@dataclass
class Item:
    """One point of feedback.

    Attributes
    ----------
    kind : str
        ``good`` or ``change``.
    what : str
        What happened, in a few words.
    quote : str
        The trainee's words it is about (may be empty for acoustic findings).
    start, end : float or None
        Seconds on the turn's audio clock.
    number : str
        The measurement, formatted with its unit (e.g. ``"+4.2 dB vs your calm voice"``).
    technique : int or None
        Technique number (1-10) in docs/techniques.md.
    tip : str
        What to do (for ``change``) or what to keep doing.
    weight : float
        Points at stake (orders the list).
    key : str
        What the point is about: ``flag:<id>`` (a red flag), ``tech:<id>`` (a technique heard),
        ``interruption``, ``dead_air``, ``calm_voice``, or ``<room>:<component id>`` for a score component.
    missing : bool
        True for "Missing: ..." points (a technique not heard at all in this turn).
    """

    kind: str
    what: str
    quote: str = ""
    start: float | None = None
    end: float | None = None
    number: str = ""
    technique: int | None = None
    tip: str = ""
    weight: float = 0.0
    key: str = ""
    missing: bool = False

    @property
    def technique_label(self) -> str:
        return technique_name(self.technique)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["technique_name"] = TECHNIQUES.get(self.technique) if self.technique else None
        d.pop("weight")
        d.pop("missing")
        return d


def _f(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _first_time(evidence: list[dict]) -> tuple[float | None, float | None]:
    for e in evidence or []:
        if _f(e.get("start")) is not None:
            return _f(e.get("start")), _f(e.get("end"))
    return None, None


def _first_quote(evidence: list[dict]) -> str:
    for e in evidence or []:
        if e.get("text"):
            return str(e["text"])
    return ""


def _signed(x: float, unit: str, nd: int = 1) -> str:
    return f"{x:+.{nd}f} {unit}".strip()


def tone_number(c: dict) -> str:
    """A tone component's measurement against the baseline, e.g. ``"+4.2 dB vs your calm voice (limit +3.0)"``."""
    v, b, t, unit = _f(c.get("value")), _f(c.get("baseline")), _f(c.get("threshold")), c.get("unit") or ""
    if v is None:
        return ""
    if b is None:
        return f"{v:.1f} {unit}".strip()
    if unit == "Hz" and v > 0 and b > 0:
        import math

        d = 12.0 * math.log2(v / b)
        lim = f" (limit {12.0 * math.log2(t / b):+.1f} st)" if t and t > 0 else ""
        return f"{d:+.1f} st vs your calm voice ({v:.0f} Hz vs {b:.0f} Hz){lim}"
    if unit == "wpm":
        lim = f", limit {t:.0f}" if t is not None else ""
        return f"{v:.0f} wpm vs your calm {b:.0f} wpm{lim}"
    lim = f" (limit {_signed(t - b, unit)})" if t is not None else ""
    return f"{_signed(v - b, unit)} vs your calm voice{lim}"


def _component_number(c: dict) -> str:
    v, unit = _f(c.get("value")), c.get("unit") or ""
    if v is None:
        return ""
    if unit == "s":
        return f"{v:.1f} s"
    if unit == "count":
        return f"{v:.0f} found"
    if unit.startswith("fraction"):
        return f"{100 * v:.0f}% of the facts"
    return f"{v:.1f} {unit}".strip()


def turn_feedback(turn: TurnView, config: ReportConfig | None = None, *,
                  limit: int | None = None) -> tuple[list[Item], list[Item]]:
    """Split one turn's findings into (went well, to change), each sorted by points at stake, at most
    ``limit`` long (default ``config.max_items``). These are the candidates; what a trainee sees is chosen
    from them by :func:`voice_trainer.report.composer.compose`.

    Parameters
    ----------
    turn : TurnView
    config : ReportConfig, optional
        ``good_share``, ``change_share`` and ``max_items``.
    limit : int, optional
        Longest list returned (None: ``config.max_items``).
    """
    cfg = config or ReportConfig()
    good: list[Item] = []
    change: list[Item] = []
    lis = turn.listening or {}
    # --- listening detections: quotes with times -------------------------------------------------------------
    for f in lis.get("red_flags") or []:
        change.append(Item("change", f"Avoid: {f.get('label', f.get('id', ''))}", str(f.get("text") or ""),
                           _f(f.get("start")), _f(f.get("end")), "", f.get("technique"), str(f.get("tip") or ""),
                           weight=30.0, key=f"flag:{f.get('id', '')}"))
    seen_good: set[str] = set()
    for d in sorted(lis.get("techniques") or [], key=lambda d: -float(d.get("confidence") or 0)):
        if d.get("id") in seen_good:
            continue
        seen_good.add(str(d.get("id")))
        good.append(Item("good", str(d.get("label") or d.get("id") or ""), str(d.get("text") or ""),
                         _f(d.get("start")), _f(d.get("end")), "", d.get("technique"), "", weight=20.0,
                         key=f"tech:{d.get('id', '')}"))
    # --- turn-taking events ----------------------------------------------------------------------------------
    tt = turn.turns or {}
    for i in tt.get("interruptions") or []:
        ov = _f(i.get("overlap_s")) or 0.0
        heard = f' during "{i["interrupted_text"]}"' if i.get("interrupted_text") else ""
        change.append(Item("change", f"Talked over the caller{heard}", str(i.get("text") or ""), _f(i.get("start")),
                           _f(i.get("end")), f"{ov:.1f} s of overlap", 1,
                           "Let the caller finish; keep to a short 'mm-hm' while they talk.", weight=25.0,
                           key="interruption"))
    for d in tt.get("dead_air") or []:
        if d.get("after") not in (None, "caller"):
            continue
        dur = _f(d.get("duration_s")) or 0.0
        change.append(Item("change", "Dead air while the caller waited", "", _f(d.get("start")), _f(d.get("end")),
                           f"{dur:.1f} s of silence", 7,
                           "Answer sooner, even with a holding line ('let me check that for you').", weight=20.0,
                           key="dead_air"))
    # --- score components ----------------------------------------------------------------------------------
    tone = turn.tone or {}
    comps: list[tuple[str, dict]] = [("tone", c) for c in tone.get("components") or []]
    comps += [("listening", c) for c in lis.get("components") or [] if c.get("id") not in _FLAG_COMPONENTS]
    comps += [("turns", c) for c in (turn.turn_taking or {}).get("components") or []
              if c.get("id") not in _EVENT_COMPONENTS]
    tone_ok: list[dict] = []
    for room, c in comps:
        w = _f(c.get("weight")) or 0.0
        p = _f(c.get("points")) or 0.0
        if c.get("withheld") or w <= 0:
            continue
        share = p / w
        ev = c.get("evidence") or []
        start, end = _first_time(ev)
        number = tone_number(c) if room == "tone" else _component_number(c)
        label = str(c.get("label") or c.get("id"))
        if share < cfg.change_share:
            # tone evidence is acoustic; turn-taking evidence quotes the caller, not the trainee
            quote = "" if room != "listening" else _first_quote([e for e in ev if e.get("start") is not None])
            missing = room == "listening" and p <= 0 and c.get("unit") == "count"
            if missing:
                label, number = f"Missing: {label[:1].lower()}{label[1:]}", ""
            change.append(Item("change", label, quote, start, end, number, c.get("technique"),
                               str(c.get("tip") or ""), weight=w - p, key=f"{room}:{c.get('id', '')}",
                               missing=missing))
        elif share >= cfg.good_share:
            if room == "tone":
                tone_ok.append(c)
            elif room == "turns" and number and not tt.get("interruptions") and (_f(c.get("value")) or 0) >= 0:
                good.append(Item("good", label, "", start, end, number, c.get("technique"), "", weight=p * 0.5,
                                 key=f"{room}:{c.get('id', '')}"))
    judged = [c for c in tone.get("components") or [] if not c.get("withheld")]
    set_baseline = not judged and tone.get("calmness_withheld") == SELF_BASELINE
    calm = tone_ok and len(tone_ok) == len(judged) and not tone.get("calmness_withheld")  # no praise w/o baseline
    if calm or set_baseline:
        good.append(_calm_item(tone, turn.index))
    good.sort(key=lambda i: -i.weight)
    change.sort(key=lambda i: -i.weight)
    n = cfg.max_items if limit is None else limit
    return good[:n], change[:n]


def _calm_item(tone: dict, index: int) -> Item:
    """The "voice stayed calm" item, with the deltas from the baseline (or the absolute measures when this turn
    is the baseline)."""
    m = tone.get("measures") or {}
    if tone.get("calmness_withheld") == SELF_BASELINE:
        parts = []
        if _f(m.get("pitch_median_hz")) is not None:
            parts.append(f"pitch {m['pitch_median_hz']:.0f} Hz")
        if _f(m.get("level_dbfs")) is not None:
            parts.append(f"level {m['level_dbfs']:.1f} dBFS")
        if _f(m.get("pace_wpm")) is not None:
            parts.append(f"pace {m['pace_wpm']:.0f} wpm")
        return Item("good", f"Turn {index} set your calm baseline", "", None, None, ", ".join(parts), 4,
                    "Later turns are judged against this voice.", weight=15.0, key="calm_voice")
    d = tone.get("deltas") or {}
    parts = []
    if _f(d.get("level_db")) is not None:
        parts.append(f"level {d['level_db']:+.1f} dB")
    if _f(d.get("pitch_st")) is not None:
        parts.append(f"pitch {d['pitch_st']:+.1f} st")
    if _f(d.get("tilt_db")) is not None:
        parts.append(f"effort {d['tilt_db']:+.1f} dB")
    if _f(d.get("pace_ratio")) is not None:
        parts.append(f"pace x{d['pace_ratio']:.2f}")
    return Item("good", "Voice stayed near your calm baseline", "", None, None,
                ", ".join(parts) + (" vs your calm voice" if parts else ""), 4,
                "Keep the same level, pitch and pace when the caller gets louder.", weight=15.0, key="calm_voice")
