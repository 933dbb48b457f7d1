"""What every answer source hands to the analysis: one turn's audio on one clock, and the call around it.

:class:`TurnAudio` is the one turn-audio type. The duplex device stream records it, file mode builds it by placing a
canned answer against the caller's line, and :func:`voice_trainer.analysis.core.analyze_turn` reads it. Times are
seconds from the start of the turn (the start of the caller's line).

This module is pure data: numpy and dataclasses only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import SAMPLE_RATE
from .transcript import Transcript


@dataclass
class TurnAudio:
    """One turn's audio on one clock (seconds from the start of the caller's line).

    Attributes
    ----------
    reference : np.ndarray
        The caller's signal as it was actually played (cut short on a barge-in), float32 at ``sample_rate``.
    mic : np.ndarray
        The trainee's track, same length and clock.
    caller_end_s : float or None
        When the caller's line ended (as played; naturally or faded out after a barge-in).
    barge_in_s : float or None
        When the trainee started talking while the caller was still speaking.
    caller_pushed_on : bool
        The caller kept talking through the barge-in (very angry callers do).
    source : str
        Where the answer came from ("microphone" or a file path).
    answer_start_s : float or None
        When the answer window started (file mode: the answer's placement; live: the caller's end or the barge-in).
    sample_rate : int
        Hz of both tracks (:data:`voice_trainer.config.SAMPLE_RATE`).
    start_s : float
        Start of the turn on the call's timeline (live practice; 0 in file mode).
    caller_start_s : float or None
        When the loudspeaker really started the caller's line (live practice).
    """

    reference: np.ndarray
    mic: np.ndarray
    caller_end_s: float | None = None
    barge_in_s: float | None = None
    caller_pushed_on: bool = False
    source: str = ""
    answer_start_s: float | None = None
    end_reason: str = "file"
    """How the answer ended: ``silence``, ``no_speech``, ``max_length`` (live) or ``file`` (file mode)."""
    speech_end_s: float | None = None
    """When the trainee's last speech ended, where the source knows it (live: from the endpointer)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Source-specific facts kept in the turn record (device alignment, latency of the previous reply...)."""
    caller_line_s: float | None = None
    """Length of the caller's line as rendered, before any barge-in cut it short (s)."""
    partial: tuple[Transcript, int] | None = None
    """A transcript of ``mic[:k]`` already made (live practice transcribes up to each pause while the trainee
    speaks) and ``k`` in samples, cut in a silence: only the audio after it is transcribed again."""
    precomputed: Any = None
    """A :class:`voice_trainer.analysis.core.TurnAnalysis` the source already made of this turn up to the start
    of its final silence (live practice analyses during the end-of-turn silence); used instead of analysing again."""
    sample_rate: int = SAMPLE_RATE
    start_s: float = 0.0
    caller_start_s: float | None = None
    follows_answer: bool = False
    """The recording starts where the trainee's previous answer ended (live practice, after the first turn): a
    trainee who goes on talking just as the caller starts is resuming that answer (``session.resume_grace_s``)."""

    @property
    def duration_s(self) -> float:
        return len(self.mic) / self.sample_rate

    def stereo(self) -> np.ndarray:
        """(frames, 2): caller/reference left, trainee/microphone right — the per-turn WAV layout."""
        return np.stack([self.reference, self.mic], axis=1)

    def timing_dict(self) -> dict:
        """The turn's clock as the device stream saw it (rounded to ms)."""
        return {
            "start_s": round(self.start_s, 3),
            "duration_s": round(self.duration_s, 3),
            "caller_start_s": _r(self.caller_start_s),
            "caller_end_s": _r(self.caller_end_s),
            "barge_in_s": _r(self.barge_in_s),
            "answer_start_s": _r(self.answer_start_s),
            "end_reason": self.end_reason,
            "follows_answer": self.follows_answer,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@dataclass
class CallContext:
    """What the analysis of one turn needs to know about the call around it.

    Attributes
    ----------
    caller_text : str
        The caller's words in this turn (the line the trainee answers); empty when unknown.
    facts : tuple of str
        The scenario's facts, for the paraphrase check.
    closing : bool
        The call is in its closing stage (a summary/next step is expected).
    baseline : object or None
        The trainee's calm voice (:class:`voice_trainer.analysis.tone.Baseline`); None: tone is scored without one.
    index : int
        1-based number of the turn in the call.
    """

    caller_text: str = ""
    facts: tuple[str, ...] = ()
    closing: bool = False
    baseline: Any = None
    index: int = 1
