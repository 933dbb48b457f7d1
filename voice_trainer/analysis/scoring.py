"""Explainable scores: every 0-100 score is a list of components, each with its evidence and a tip.

The analysis rooms (tone, listening, turns) build :class:`Component` lists; :func:`score_from_components` turns
them into a :class:`Score`. A withheld component (too little data to judge) is listed with its reason and left
out of the total, never counted as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Evidence:
    """Where a finding came from: a quote and/or a moment and/or a number.

    Attributes
    ----------
    text : str
        The words quoted (empty when the evidence is acoustic only).
    start, end : float or None
        Seconds from the start of the turn's audio, when known.
    char_start, char_end : int or None
        Character offsets of ``text`` in the transcript, when known.
    value : float or None
        A measured number (its unit is the component's ``unit``).
    """

    text: str = ""
    start: float | None = None
    end: float | None = None
    char_start: int | None = None
    char_end: int | None = None
    value: float | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"text": self.text}
        for k in ("start", "end", "value"):
            v = getattr(self, k)
            d[k] = None if v is None else round(float(v), 3)
        d["char_start"], d["char_end"] = self.char_start, self.char_end
        return d


@dataclass
class Component:
    """One named part of a score.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``raised_voice``.
    label : str
        Human wording, e.g. "Raised voice".
    points : float
        Points earned, 0..``weight``.
    weight : float
        Points this component can earn.
    value, baseline, threshold : float or None
        The measurement, the trainee's own reference and the limit that costs points (in ``unit``).
    unit : str
        Unit of value/baseline/threshold ("dB", "st", "wpm", "s", "count", ...).
    technique : int or None
        Number of the technique in docs (1-10) the tip refers to.
    tip : str
        One line telling the trainee what to do.
    withheld : str or None
        When not None, why the component was not judged (it is left out of the score).
    evidence : list of Evidence
    """

    id: str
    label: str
    points: float
    weight: float
    value: float | None = None
    baseline: float | None = None
    threshold: float | None = None
    unit: str = ""
    technique: int | None = None
    tip: str = ""
    withheld: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 3)

        return {
            "id": self.id,
            "label": self.label,
            "points": r(self.points),
            "weight": r(self.weight),
            "value": r(self.value),
            "baseline": r(self.baseline),
            "threshold": r(self.threshold),
            "unit": self.unit,
            "technique": self.technique,
            "tip": self.tip,
            "withheld": self.withheld,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class Cap:
    """An upper limit put on a score by findings that outweigh the points earned (e.g. many red flags).

    Attributes
    ----------
    limit : float
        The highest the score may be (0-100).
    reason : str
        Why, in a few words.
    uncapped : float
        The score the components alone give.
    evidence : list of Evidence
    """

    limit: float
    reason: str
    uncapped: float
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"limit": round(self.limit, 1), "reason": self.reason, "uncapped": round(self.uncapped, 1),
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass
class Score:
    """A 0-100 score with the components it is made of (``None`` when every component was withheld), and the cap
    that limited it, if any."""

    value: float | None
    components: list[Component] = field(default_factory=list)
    cap: Cap | None = None

    def to_dict(self) -> dict:
        d = {
            "score": None if self.value is None else round(self.value, 1),
            "components": [c.to_dict() for c in self.components],
        }
        if self.cap is not None:
            d["cap"] = self.cap.to_dict()
        return d

    def capped(self, limit: float, reason: str, evidence: list[Evidence] | None = None) -> Score:
        """This score limited to ``limit`` (unchanged when already at or below it, or not measured)."""
        if self.value is None or self.value <= limit:
            return self
        return Score(max(0.0, limit), self.components, Cap(max(0.0, limit), reason, self.value, evidence or []))


def score_from_components(components: list[Component]) -> Score:
    """Sum earned points over judged components and scale to 0-100.

    Withheld components are kept in the list (with their reason) but left out of both sums.
    """
    judged = [c for c in components if c.withheld is None and c.weight > 0]
    if not judged:
        return Score(None, components)
    total = sum(c.weight for c in judged)
    earned = sum(min(max(c.points, 0.0), c.weight) for c in judged)
    return Score(100.0 * earned / total, components)


def outcome_score(outcome: str | None, final_anger: float | None, start_anger: float | None, *,
                  points: dict[str | None, float]) -> Score:
    """How the call went, 0-100: half for how it ended, half for how calm the caller was at the end.

    Parameters
    ----------
    outcome : str or None
        ``resolved``, ``referred``, ``hung_up``, or None when the call stopped before the caller ended it.
    final_anger, start_anger : float or None
        The caller's anger (0 calm - 100 furious) at the end and at the start of the call.
    points : dict
        Outcome points (0-100) per outcome; the None key is an unfinished call (``SessionConfig.outcome_*``).
    """
    label = {"resolved": "The caller accepted a resolution", "referred": "The call was referred",
             "hung_up": "The caller hung up", None: "The call ended before the caller did"}
    got = points.get(outcome, points.get(None, 0.0))
    ended = Component("ending", "How the call ended", 50.0 * got / 100.0, 50.0, value=got, unit="points",
                      technique=7, tip=label.get(outcome, str(outcome)),
                      evidence=[Evidence(text=outcome or "unfinished", value=got)])
    calmer = Component("caller_anger", "The caller's anger at the end", 0.0, 50.0, value=final_anger,
                       baseline=start_anger, unit="anger", technique=2)
    if final_anger is None:
        calmer.withheld = "the caller's anger was not tracked"
    else:
        calmer.points = 50.0 * max(0.0, min(100.0, 100.0 - final_anger)) / 100.0
        change = "" if start_anger is None else f" (from {start_anger:.0f})"
        calmer.tip = f"The caller ended at anger {final_anger:.0f}{change}."
        calmer.evidence = [Evidence(value=final_anger)]
    return score_from_components([ended, calmer])
