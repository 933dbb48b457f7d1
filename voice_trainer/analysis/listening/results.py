"""The listening analysis's result types: findings, matched facts, one reply's and one call's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..scoring import Component, Evidence, Score
from ..transcript import Word


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
