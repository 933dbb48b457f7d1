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
class Score:
    """A 0-100 score with the components it is made of (``None`` when every component was withheld)."""

    value: float | None
    components: list[Component] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "score": None if self.value is None else round(self.value, 1),
            "components": [c.to_dict() for c in self.components],
        }


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
