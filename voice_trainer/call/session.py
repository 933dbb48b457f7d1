"""The practice call loop, shared by live practice (microphone) and file mode (canned answers).

One turn is a small pipeline of stages, each with one job::

    caller line (text) -> TTS render -> answer source (play + record, or place a canned answer)
      -> analyze_turn (echo, voice activity, transcription, turn-taking, tone, listening; analysis/core.py)
      -> caller reaction (anger) -> nudges -> store (stereo WAV + JSON, atomically, as the turn ends)

The answer source is the only part that differs between live practice and file mode; both hand back the same
:class:`~voice_trainer.analysis.turn.TurnAudio` (the caller's signal as played and the trainee's track,
sample-aligned on one clock).
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..analysis import ids, tone, turns
from ..analysis.core import TurnAnalysis, analyze_turn, listening_stage, tone_stage
from ..analysis.listening.detect import ListeningResult, analyze_call
from ..analysis.scoring import Component, Evidence, Score, outcome_score, score_from_components
from ..analysis.transcript import Word
from ..analysis.transcript import merge as merge_transcripts
from ..analysis.turn import CallContext, TurnAudio
from ..audio import files as audio_io
from ..config import SAMPLE_RATE, Config, SessionConfig
from ..errors import UserError
from ..speech.transcribe import Transcriber
from .caller import Caller, CallerLine, TurnObservation
from .scenarios import Scenario

SR = SAMPLE_RATE  # short local name


# ---------------------------------------------------------------------------------------------------------------
# What an answer source hands back
# ---------------------------------------------------------------------------------------------------------------


class AnswerSource(Protocol):
    """Plays the caller's line and returns the trainee's answer on the same clock."""

    def remaining(self, index: int) -> bool:
        """Whether an answer for turn ``index`` (1-based) can be taken."""

    def take(self, index: int, caller_audio: np.ndarray, line: CallerLine,
             analyze: Callable[[TurnAudio], TurnAnalysis] | None = None) -> TurnAudio:
        """Play ``caller_audio`` (16 kHz) and capture the answer.

        ``analyze`` runs the turn's analysis on audio so far; a live source may call it early (during the
        end-of-turn silence) and hand the result back in :attr:`TurnAudio.precomputed`.
        """


MAX_ANSWER_START_S = 600.0
"""A canned answer's start (``FILE@START``, a run script's ``start_s``) is at most this many seconds from the
caller's line, either way: ten minutes of silence is no call, and a huge start would lay out a huge track."""


@dataclass(frozen=True)
class AnswerSpec:
    """A canned answer: the file and, optionally, when it starts (seconds from the start of the caller's line;
    negative: that many seconds before the caller's line ends, i.e. talking over the caller)."""

    path: str
    start_s: float | None = None

    @classmethod
    def parse(cls, text: str) -> AnswerSpec:
        """``FILE`` or ``FILE@START`` (``answer.wav@-1.5`` starts 1.5 s before the caller finishes)."""
        if "@" in text and not Path(text).exists():  # a file whose name holds "@" is taken as it is
            path, _, start = text.rpartition("@")
            try:
                value = float(start)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise UserError(f"{text}: the time after '@' must be seconds from the start of the caller's line "
                                f"(e.g. {path}@2.5, or {path}@-1.5 to talk over the caller), not {start!r}")
            if abs(value) > MAX_ANSWER_START_S:
                raise UserError(f"{text}: the time after '@' must be between {-MAX_ANSWER_START_S:g} and "
                                f"{MAX_ANSWER_START_S:g} seconds, not {start}")
            return cls(path, value)
        return cls(text)


def place_answer(
    caller_audio: np.ndarray, answer: np.ndarray, start_s: float | None, anger: float, cfg: Config
) -> TurnAudio:
    """File mode: lay a canned answer against the caller's line, with the same barge-in rule as live practice.

    When the answer starts while the caller still speaks, the caller stops ``barge_in_reaction_s`` later
    (faded out), unless their anger is at least ``push_on_anger``: then they talk on.
    """
    sc = cfg.session
    caller_len = len(caller_audio)
    caller_end = caller_len / SR
    if start_s is None:
        start = caller_end + sc.response_gap_s
    elif start_s < 0:
        start = max(0.0, caller_end + start_s)
    else:
        start = start_s
    s0 = int(round(start * SR))
    reference = caller_audio.astype(np.float32, copy=True)
    barge_in = pushed_on = None
    if s0 < caller_len:
        barge_in = start
        pushed_on = anger >= sc.push_on_anger
        if not pushed_on:
            cut = min(caller_len, s0 + int(sc.barge_in_reaction_s * SR))
            fade = max(min(int(cfg.practice.fade_out_s * SR), caller_len - cut), 0)
            if fade:
                reference[cut: cut + fade] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            reference[cut + fade:] = 0.0
            caller_end = (cut + fade) / SR
    total = max(caller_len, s0 + len(answer)) + int(sc.tail_s * SR)
    ref = np.zeros(total, np.float32)
    ref[: len(reference)] = reference
    mic = np.zeros(total, np.float32)
    mic[s0: s0 + len(answer)] = answer
    return TurnAudio(ref, mic, caller_end, barge_in, bool(pushed_on), answer_start_s=start,
                     caller_line_s=caller_len / SR)


class FileAnswers:
    """Canned answers instead of the microphone (tests, demos, trainers replaying a recorded trainee)."""

    places_cut_ins = True
    """The caller's cut-in line is laid on the turn's audio afterwards (:func:`voice_cut_in`): nothing was played."""

    def __init__(self, answers: Sequence[AnswerSpec | str], cfg: Config) -> None:
        self.answers = [a if isinstance(a, AnswerSpec) else AnswerSpec.parse(a) for a in answers]
        self.cfg = cfg
        self.anger = 0.0
        for a in self.answers:  # fail before the call starts, not in the middle
            info = audio_io.probe(a.path)
            if info.duration_s == info.duration_s and info.duration_s < cfg.audio.min_duration_s:  # nan: unknown
                raise UserError(f"{a.path}: only {info.duration_s:.2f} s of audio; an answer needs at least "
                                f"{cfg.audio.min_duration_s:g} s")

    def remaining(self, index: int) -> bool:
        return index <= len(self.answers)

    def take(self, index: int, caller_audio: np.ndarray, line: CallerLine, analyze=None) -> TurnAudio:
        spec = self.answers[index - 1]
        answer = audio_io.load(spec.path, sample_rate=SR, min_duration_s=self.cfg.audio.min_duration_s)
        ta = place_answer(caller_audio, answer, spec.start_s, line.anger, self.cfg)
        ta.source = spec.path
        return ta


# ---------------------------------------------------------------------------------------------------------------
# One turn's analysis
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TurnResult:
    """Everything measured in one trainee turn (times in seconds from the start of the caller's line)."""

    index: int
    caller_line: CallerLine
    audio: TurnAudio
    analysis: TurnAnalysis
    observation: TurnObservation
    anger_before: float = 0.0
    anger_after: float = 0.0
    anger_changes: list[dict] = field(default_factory=list)
    nudges: list[str] = field(default_factory=list)
    reply: CallerLine | None = None
    cut_in: dict | None = None
    """The caller cut in on this answer: ``{"at_s": when, "limit_s": their patience}`` (turn clock, s)."""
    reaction_basis: dict | None = None
    """Which analysis the caller reacted to: ``{"analysis": "complete"}`` (this turn's analysis), or live, when
    the caller answered before the complete analysis was ready, ``{"analysis": "early", ...}`` with what that
    analysis covered and the observation it gave (see :func:`reaction_analysis`)."""

    # the measures of the turn are those of its analysis
    transcript = property(lambda self: self.analysis.transcript)
    turns = property(lambda self: self.analysis.turns)
    tone = property(lambda self: self.analysis.tone)
    tone_frames = property(lambda self: self.analysis.tone_frames)
    listening = property(lambda self: self.analysis.listening)
    turn_taking = property(lambda self: self.analysis.turn_taking)
    timings = property(lambda self: self.analysis.timings)

    @property
    def echo(self) -> dict:
        return self.analysis.echo.to_dict() if self.analysis.echo is not None else {}

    def to_dict(self) -> dict:
        """The turn's facts in the turn schema (``store.TURN_SCHEMA``): each fact once, scores inside their
        analyses (``tone.calmness``, ``listening.score``, ``turn_taking.score``)."""
        def line(cl: CallerLine | None) -> dict | None:
            if cl is None:
                return None
            return {"text": cl.text, "stage": cl.stage, "band": cl.band, "anger": cl.anger, "final": cl.final,
                    "outcome": cl.outcome, "kind": cl.kind}

        a = self.audio
        return {
            "index": self.index,
            "caller": {
                "line": line(self.caller_line),
                "start_s": _r3(a.caller_start_s if a.caller_start_s is not None else 0.0),
                "end_s": _r3(a.caller_end_s),
                "pushed_on": a.caller_pushed_on,
            },
            "answer": {
                "source": a.source or "microphone",
                "start_s": _r3(a.answer_start_s),
                "barge_in_s": _r3(a.barge_in_s),
                "speech_end_s": _r3(a.speech_end_s),
                "end_reason": a.end_reason,
                "extra": a.extra,
            },
            "transcript": {"text": self.transcript.text, "words": [w.to_dict() for w in self.transcript.words],
                           "decoding": dict(self.transcript.decoding),
                           "word_timing": dict(self.transcript.word_timing)},
            "tone": None if self.tone is None else self.tone.to_dict(),
            "listening": self.listening.to_dict(),
            "turns": self.turns.to_dict(),
            "turn_taking": self.turn_taking.to_dict(),
            "echo": self.echo,
            "observation": {
                "interrupted": self.observation.interrupted,
                "red_flags": list(self.observation.red_flags),
                "techniques": list(self.observation.techniques),
                "calmness": self.observation.calmness,
                "raised_voice": self.observation.raised_voice,
                "raised_pitch": self.observation.raised_pitch,
                "rushed_pace": self.observation.rushed_pace,
                "dead_air_s": round(self.observation.dead_air_s, 3),
                "paraphrased_facts": self.observation.paraphrased_facts,
            },
            "reaction": {
                "anger_before": round(self.anger_before, 3),
                "anger_after": round(self.anger_after, 3),
                "changes": self.anger_changes,
                "reply": line(self.reply),
                "caller_cut_in": self.cut_in,
                "basis": self.reaction_basis,
            },
            "nudges": self.nudges,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _voice_heard(result: tone.ToneResult | None, component: str, cfg: Config) -> bool:
    """The caller hears this tone component: measured, and at least ``session.raised_voice_points_lost`` of its
    weight lost (it lost points only past its threshold against the trainee's calm voice)."""
    if result is None:
        return False
    for c in result.calmness.components:
        if c.id == component and c.withheld is None and c.weight > 0:
            lost = (c.weight - c.points) / c.weight
            return lost > 0 and lost >= cfg.session.raised_voice_points_lost
    return False


def _raised_voice(result: tone.ToneResult | None, cfg: Config) -> bool:
    return _voice_heard(result, cfg.session.raised_voice_component, cfg)


def _words(analysis: TurnAnalysis) -> str:
    """The agent's words in the turn (empty when nothing was transcribed)."""
    tx = getattr(analysis, "transcript", None)
    return (getattr(tx, "text", "") or "").strip()


def observe(
    turn_result: turns.TurnsResult, tone_result: tone.ToneResult | None, listening: ListeningResult, cfg: Config,
    text: str = "",
) -> TurnObservation:
    """What the caller reacts to, from the three analyses and the agent's words (``text``, the transcript: the
    caller answers questions and accepts offers from them)."""
    # every id the listening analysis reports is known to ids.py (a test checks it); TurnObservation rejects
    # unknown ones, so a renamed lexicon category fails loudly instead of being ignored
    techniques = tuple(sorted({ids.canonical(d.id) for d in listening.techniques}))
    flags = tuple(sorted({ids.canonical(d.id) for d in listening.red_flags}))
    waits = [d.duration_s for d in turn_result.dead_air if d.after == "caller"]
    calm = None
    if tone_result is not None and tone_result.calmness.value is not None:
        calm = round(min(max(tone_result.calmness.value / 100.0, 0.0), 1.0), 4)
    return TurnObservation(
        interrupted=bool(turn_result.interruptions),
        red_flags=flags,
        techniques=techniques,
        calmness=calm,
        raised_voice=_raised_voice(tone_result, cfg),
        raised_pitch=_voice_heard(tone_result, "raised_pitch", cfg),
        rushed_pace=_voice_heard(tone_result, "rushed_pace", cfg),
        dead_air_s=max(waits, default=0.0),
        paraphrased_facts=sum(1 for f in listening.facts if f.covered),
        text=text or "",
    )


ACKNOWLEDGING = (ids.ACKNOWLEDGE, ids.PARAPHRASE)
"""Techniques that count as acknowledging the caller (they do not cut in on an agent who used one in time)."""


def caller_cut_in(ta: TurnAudio, tr: TurnResult, line: CallerLine) -> dict | None:
    """Whether the caller cut in on this answer (``{"at_s", "limit_s"}`` on the turn's clock) or None.

    From the analysis (file mode and live alike): the agent's talk from their first word in the answer window
    past the caller's patience (``line.cut_in_after_s``) without an acknowledgement before that moment
    (:func:`caller.cut_in_at`). Live, the answer source already stopped the answer there (end reason
    ``caller_cut_in``): the cut is then where the recording stopped, unless the full transcript shows an
    acknowledgement in time.
    """
    from .caller import cut_in_at

    limit = line.cut_in_after_s
    if limit is None:
        return None
    words = [w for w in tr.transcript.words if w.end > ta.answer_start_s]
    if not words:
        return None
    acks = [d.start for d in tr.listening.techniques if ids.canonical(d.id) in ACKNOWLEDGING and d.start is not None]
    ack = min(acks) if acks else None
    if ta.end_reason == "caller_cut_in":
        at = len(ta.mic) / SR
        if ack is not None and ack <= words[0].start + limit:
            return None
    else:
        at = cut_in_at(words[0].start, words[-1].end, ack, limit)
    return None if at is None else {"at_s": round(at, 3), "limit_s": limit}


def voice_cut_in(ta: TurnAudio, cut_in: dict, line: CallerLine, audio: np.ndarray) -> dict:
    """Lay the caller's cut-in line on the turn's caller channel at the cut-in time (file mode and ``run``).

    A real barge-in, as a canned answer allows: the caller's line (16 kHz, ``audio``) starts at
    ``cut_in["at_s"]`` on the reference track; the trainee's answer is left as it was and continues under it
    (a recorded answer cannot stop; cutting it would also drop words the analysis scored). Both tracks are
    lengthened with silence when the line runs past the turn's end. Returns ``cut_in`` with the line added
    (``{"text", "start_s", "end_s"}``), which the record, the HTML report and the WebVTT/SRT export show.

    Live practice does not come here: there the answer source stopped the recording at the cut and the line
    opens the next turn, as it was really played.
    """
    at = float(cut_in["at_s"])
    s0 = max(0, int(round(at * SR)))
    clip = np.asarray(audio, np.float32)
    total = max(len(ta.reference), len(ta.mic), s0 + len(clip))
    ref = np.zeros(total, np.float32)
    ref[: len(ta.reference)] = ta.reference
    mic = np.zeros(total, np.float32)
    mic[: len(ta.mic)] = ta.mic
    ref[s0: s0 + len(clip)] = np.clip(ref[s0: s0 + len(clip)] + clip, -1.0, 1.0)
    ta.reference, ta.mic = ref, mic
    return {**cut_in, "line": {"text": line.text, "start_s": round(s0 / SR, 3),
                               "end_s": round((s0 + len(clip)) / SR, 3)}}


def nudges_for(tr: TurnResult, limit: int, weak_share: float = 0.6) -> list[str]:
    """Short on-screen feedback for one turn: problems first, then one thing done well."""
    out: list[str] = []
    if tr.cut_in is not None:
        out.append(f"The caller cut in at {tr.cut_in['at_s']:.1f} s: you talked for {tr.cut_in['limit_s']:.0f} s "
                   "without acknowledging them. Acknowledge first, then explain.")
    for i in tr.turns.interruptions:
        out.append(f"You talked over the caller at {i.start:.1f} s ({i.overlap_s:.1f} s of overlap): let them finish.")
    for f in tr.listening.red_flags:
        tip = f" {f.tip}" if f.tip else ""
        out.append(f"Avoid: \"{f.text}\" ({f.label.lower()}).{tip}")
    for d in tr.turns.dead_air:
        if d.after == "caller":
            out.append(f"{d.duration_s:.1f} s of dead air at {d.start:.1f} s: answer sooner, even with a holding line.")
    if tr.tone is not None:
        worst = [c for c in tr.tone.calmness.components if c.withheld is None and c.weight > 0
                 and c.points < weak_share * c.weight]
        worst.sort(key=lambda c: c.points / c.weight)
        for c in worst[:1]:
            out.append(f"{c.label}: {c.tip}" if c.tip else c.label)
    good = [d for d in tr.listening.techniques if d.id in (ids.PARAPHRASE, ids.ACKNOWLEDGE, ids.CHOICES,
                                                           ids.RESOLUTION_TIMELINE, ids.QUESTION)]
    if good:
        d = max(good, key=lambda d: d.confidence)
        out.append(f"Good: {d.label.lower()} - \"{d.text}\"")
    return out[:limit]


def _observation_dict(o: TurnObservation) -> dict:
    return {"interrupted": o.interrupted, "red_flags": list(o.red_flags), "techniques": list(o.techniques),
            "calmness": o.calmness, "raised_voice": o.raised_voice, "raised_pitch": o.raised_pitch,
            "rushed_pace": o.rushed_pace, "dead_air_s": round(o.dead_air_s, 3),
            "paraphrased_facts": o.paraphrased_facts}


@dataclass
class EarlyAnalyses:
    """What a live answer source analysed during the trainee's final silence (:attr:`TurnAudio.precomputed`).

    ``reaction`` is what the caller reacts to; ``full`` the complete analysis still running (None when
    ``reaction`` is the complete analysis); ``basis`` says what ``reaction`` covered (kept in the turn record).
    """

    reaction: TurnAnalysis
    full: Future | None = None
    basis: dict = field(default_factory=dict)


def reaction_analysis(audio: TurnAudio, before: TurnAnalysis | None, context: CallContext, cfg: Config,
                      transcriber: Transcriber) -> TurnAnalysis:
    """The analysis the caller's reply is decided from when the answer has just ended (live practice).

    The words of the whole answer (only what follows the transcript already made at an earlier pause,
    ``audio.partial``, is decoded now) with their listening analysis; tone and turn-taking as measured up to that
    earlier pause (``before``, a complete analysis of the turn so far; None: words and listening only, no tone
    or turn-taking). The complete analysis of the whole answer follows while the caller already speaks, and it
    is what the turn record and the scores hold.
    """
    t0 = time.perf_counter()
    mic = audio.mic
    if audio.partial is not None and 0 < audio.partial[1] <= len(mic):
        head, k = audio.partial
        tx = merge_transcripts([head, transcriber.transcribe(mic[k:], offset_s=k / SR)])
    else:
        tx = transcriber.transcribe(mic)
    t1 = time.perf_counter()
    listening = listening_stage(tx, context, cfg)
    t2 = time.perf_counter()
    tone_result = None if before is None else tone_stage(before.tone_frames, tx.words, context.baseline, cfg)
    if before is None:
        before = TurnAnalysis(transcript=tx, turns=None, turn_taking=Score(None), tone=None, tone_frames=None,
                              listening=listening)
    return TurnAnalysis(transcript=tx, turns=before.turns, turn_taking=before.turn_taking, tone=tone_result,
                        tone_frames=before.tone_frames, listening=listening, echo=before.echo,
                        timings={"transcribe": t1 - t0, "listening": t2 - t1,
                                 "tone": time.perf_counter() - t2})


def turn_context(index: int, line: CallerLine, scenario: Scenario, baseline: tone.Baseline | None,
                 closing: bool = False) -> CallContext:
    """What :func:`analyze_turn` needs to know of the call around turn ``index``."""
    return CallContext(caller_text=line.text, facts=tuple(scenario.facts), closing=closing, baseline=baseline,
                       index=index)


def turn_result(index: int, line: CallerLine, ta: TurnAudio, analysis: TurnAnalysis, cfg: Config) -> TurnResult:
    """The turn as the call loop keeps it: the analysis, and what the caller will react to."""
    obs = observe(analysis.turns, analysis.tone, analysis.listening, cfg, _words(analysis))
    return TurnResult(index=index, caller_line=line, audio=ta, analysis=analysis, observation=obs)


# ---------------------------------------------------------------------------------------------------------------
# The whole call
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Scorecard:
    """The end-of-call scores, each decomposed into components with evidence (0-100, None = not measured)."""

    overall: float | None
    calmness: Score
    listening: Score
    turn_taking: Score
    listening_call: dict = field(default_factory=dict)
    contagion: dict | None = None
    baseline: dict | None = None
    outcome: str | None = None
    outcome_score: Score | None = None

    def to_dict(self) -> dict:
        def v(s: Score | None) -> float | None:
            return None if s is None or s.value is None else round(s.value, 1)

        return {
            "overall": None if self.overall is None else round(self.overall, 1),
            "calmness": v(self.calmness),
            "listening": v(self.listening),
            "turn_taking": v(self.turn_taking),
            "outcome_score": v(self.outcome_score),
            "components": {
                "calmness": self.calmness.to_dict()["components"],
                "listening": self.listening.to_dict()["components"],
                "turn_taking": self.turn_taking.to_dict()["components"],
                "outcome": [] if self.outcome_score is None else self.outcome_score.to_dict()["components"],
            },
            "caps": {k: s.cap.to_dict() for k, s in (("listening", self.listening), ("calmness", self.calmness))
                     if s.cap is not None},
            "listening_call": self.listening_call,
            "contagion": self.contagion,
            "baseline": self.baseline,
            "outcome": self.outcome,
        }


def scorecard(
    results: Sequence[TurnResult], scenario: Scenario, caller: Caller, baseline: tone.Baseline | None, cfg: Config
) -> Scorecard:
    """Combine the turns into the call's scores."""
    calm_parts = []
    for r in results:
        val = None if r.tone is None else r.tone.calmness.value
        calm_parts.append(Component(
            f"turn_{r.index}", f"Turn {r.index} calmness", 0.0 if val is None else val / 100.0, 1.0,
            value=val, unit="score", technique=4,
            withheld=None if val is not None else "no measurable speech in this turn",
            evidence=[Evidence(text=r.transcript.text[:120], start=r.transcript.words[0].start
                               if r.transcript.words else None)],
            tip="Keep your voice near your own calm baseline: same loudness, pitch and pace.",
        ))
    calmness = score_from_components(calm_parts)
    dialogue: list[tuple[str, str]] = []
    for r in results:
        dialogue.append(("caller", r.caller_line.text))
        dialogue.append(("agent", r.transcript.text))
    call = analyze_call(dialogue, scenario.facts, cfg.listening) if results else None
    listening = call.score if call else Score(None)
    taking_parts: list[Component] = []
    for r in results:
        for c in r.turn_taking.components:
            c2 = Component(**{**c.__dict__, "id": f"turn_{r.index}.{c.id}", "label": f"Turn {r.index}: {c.label}"})
            taking_parts.append(c2)
    turn_taking = score_from_components(taking_parts)
    contagion = None
    measured = [r for r in results if r.tone is not None]
    if measured:
        cont = tone.contagion([r.tone.measures for r in measured], [r.anger_before for r in measured], cfg.tone)
        contagion = cont.to_dict()
    sc = cfg.session
    start_anger = results[0].anger_before if results else None
    final_anger = caller.anger if results else None
    ended = outcome_score(caller.outcome, final_anger, start_anger, points={
        "resolved": sc.outcome_resolved, "referred": sc.outcome_referred, "hung_up": sc.outcome_hung_up,
        None: sc.outcome_unfinished}) if results else None
    overall = overall_score(calmness, listening, turn_taking, ended, sc)
    return Scorecard(overall, calmness, listening, turn_taking, call.to_dict() if call else {}, contagion,
                     baseline.to_dict() if baseline else None, caller.outcome, ended)


def overall_score(calmness: Score, listening: Score, turn_taking: Score, outcome: Score | None,
                  sc: SessionConfig) -> float | None:
    """The weighted mean of the measured skills and the call's outcome (weights ``SessionConfig.weight_*``);
    a skill that was not measured is left out, never counted as zero."""
    parts = [(calmness.value, sc.weight_calmness), (listening.value, sc.weight_listening),
             (turn_taking.value, sc.weight_turn_taking), (None if outcome is None else outcome.value,
                                                          sc.weight_outcome)]
    parts = [(s, wt) for s, wt in parts if s is not None and wt > 0]
    return sum(s * wt for s, wt in parts) / sum(wt for _, wt in parts) if parts else None


Renderer = Callable[[str, float], np.ndarray]
"""Turns a caller line and the anger into 16 kHz audio."""


def tts_renderer(scenario: Scenario, cfg: Config) -> Renderer:
    """Render caller lines with ``[caller] engine`` (pyttsx3 or piper; cached on disk) in the persona's voice at
    the current anger."""
    from . import tts

    engine = tts.resolve_engine(cfg.caller.engine)  # piper without its extra: pyttsx3, with a one-line notice
    tts.set_piper_threads(cfg.tts.piper_threads)

    def render(text: str, anger: float) -> np.ndarray:
        path = tts.render_line(text, tts.voice_for(scenario.persona, anger, cfg.tts, engine))
        return tts.load_rendered(path, SR)

    return render


class SessionWriter(Protocol):
    """Where a session is kept (see :class:`SessionFolder`)."""

    def write_turn(self, result: TurnResult, card: Scorecard, caller_state: dict, outcome: str | None) -> None:
        ...


@dataclass
class SessionResult:
    """A finished (or stopped) call."""

    scenario: Scenario
    turns: list[TurnResult]
    caller: Caller
    scorecard: Scorecard
    status: str
    baseline: tone.Baseline | None

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario.id,
            "status": self.status,
            "outcome": self.caller.outcome,
            "caller": self.caller.to_dict(),
            "scorecard": self.scorecard.to_dict(),
            "turns": [t.to_dict() for t in self.turns],
        }


Event = Callable[[str, dict], None]


def run_session(
    scenario: Scenario,
    cfg: Config,
    transcriber: Transcriber,
    answers: AnswerSource,
    *,
    render: Renderer | None = None,
    baseline: tone.Baseline | None = None,
    seed: int = 0,
    max_turns: int | None = None,
    writer: SessionWriter | None = None,
    on_event: Event | None = None,
) -> SessionResult:
    """Run one practice call until the caller ends it, the answers run out or ``max_turns`` is reached.

    ``on_event(name, data)`` is told ``caller_line``, ``final_line`` (the caller's closing line, as soon as it is
    known), ``turn`` (a finished TurnResult) and ``end``; the live UI and the demo print from it. Each finished
    turn goes to ``writer`` before the next starts.
    """
    render = memo_renderer(render or tts_renderer(scenario, cfg))
    whole_transcriber = transcriber
    if getattr(transcriber, "live", None) is not None:  # the short live window only where the reply waits
        whole_transcriber = copy.copy(transcriber)
        whole_transcriber.live = None
    emit = on_event or (lambda name, data: None)
    caller = Caller(scenario, cfg.caller, seed=seed)
    prepare = bool(getattr(answers, "prepares_replies", False))
    limit = max_turns or cfg.session.max_turns
    line = caller.opening()
    results: list[TurnResult] = []
    session_frames: list[tone.ToneFrames] = []
    session_words: list[list[Word]] = []
    used_baseline = baseline
    status = "completed"
    index = 0
    disk = ThreadPoolExecutor(1, thread_name_prefix="session-writer")
    pending: Future | None = None
    try:
        while not line.final and index < limit and answers.remaining(index + 1):
            index += 1
            emit("caller_line", {"index": index, "line": line})
            t_render = time.perf_counter()
            caller_audio = render(line.text, line.anger)
            render_s = time.perf_counter() - t_render
            closing = line.stage in ("negotiate",) and caller.anger <= scenario.reactions.accept_below

            context = turn_context(index, line, scenario, used_baseline, closing)

            def analyze(turn_audio: TurnAudio, context=context, *, reaction: bool = False,
                        before: TurnAnalysis | None = None, prepare_reply: bool = True,
                        whole: bool = False) -> TurnAnalysis:
                if reaction:
                    result = reaction_analysis(turn_audio, before, context, cfg, transcriber)
                    prepare_reply = prepare_reply and before is not None
                else:  # ``whole``: off the reply's path, decoded as file mode does (Whisper's 30 s window)
                    result = analyze_turn(turn_audio, context, cfg, whole_transcriber if whole else transcriber)
                if prepare and prepare_reply:  # render the caller's likely reply now, off its critical path
                    _prepare_reply(caller, result, cfg, render)
                return result

            ta = answers.take(index, caller_audio, line, analyze)
            ta.extra = {**(ta.extra or {}), "caller_render_s": round(render_s, 3)}
            early = ta.precomputed
            reply = None
            basis: dict = {"analysis": "complete"}
            if isinstance(early, EarlyAnalyses) and early.full is not None and (
                    used_baseline is not None or early.reaction.tone_frames is not None):
                # the caller reacts to the analysis made for the reply and starts speaking; the complete
                # analysis (the turn's record and scores) finishes meanwhile. Without a baseline yet, only a
                # reply analysis that measured tone will do (its tone is scored as the record's would be: the
                # record's own becomes the session's baseline only after the caller reacted)
                quick = turn_result(index, line, ta, early.reaction, cfg)
                anger_before = caller.anger
                cut_in = caller_cut_in(ta, quick, line)
                reply = caller.respond(quick.observation, cut_in=cut_in is not None)
                if reply.final:
                    emit("final_line", {"index": index, "line": reply})
                elif hasattr(answers, "start_line") and index < limit and answers.remaining(index + 1):
                    answers.start_line(render(reply.text, reply.anger))
                basis = {"analysis": "early", **early.basis, "observation": _observation_dict(quick.observation)}
            if isinstance(early, EarlyAnalyses):  # the complete analysis (if the caller did not react yet, it waits)
                try:
                    analysis = early.full.result() if early.full is not None else early.reaction
                    analysis.timings["analysed_during_silence"] = 1.0
                except Exception:  # analysed again here, where a real error is reported
                    analysis = analyze(ta, prepare_reply=False)
            elif early is not None:  # the source analysed the turn during its final silence
                analysis = early
                analysis.timings["analysed_during_silence"] = 1.0
            else:
                analysis = analyze(ta)
            tr = turn_result(index, line, ta, analysis, cfg)
            tr.reaction_basis = basis
            if baseline is None and tr.tone_frames is not None:
                session_frames.append(tr.tone_frames)
                session_words.append(list(tr.transcript.words))
                if used_baseline is None:  # the first measurable turn becomes the baseline
                    used_baseline = tone.session_baseline(session_frames, session_words, cfg.tone)
                    if used_baseline is not None:
                        tr.analysis.rescore_tone(used_baseline, cfg)
                        if tr.analysis.tone is not None:
                            tr.analysis.tone = tone.withhold_as_baseline(tr.analysis.tone)
            if reply is None:
                tr.anger_before = caller.anger
                tr.cut_in = caller_cut_in(ta, tr, line)
                reply = caller.respond(tr.observation, cut_in=tr.cut_in is not None)
            else:
                tr.anger_before = anger_before
                tr.cut_in = cut_in
            if tr.cut_in is not None and getattr(answers, "places_cut_ins", False) \
                    and ta.end_reason != "caller_cut_in":
                tr.cut_in = voice_cut_in(ta, tr.cut_in, reply, render(reply.text, reply.anger))
            tr.anger_after = caller.anger
            step = caller.trajectory[-1]
            tr.anger_changes = [{"reason": c.reason, "delta": round(c.delta, 2), "detail": c.detail}
                                for c in step.changes]
            tr.reply = reply
            tr.nudges = nudges_for(tr, cfg.session.nudges_per_turn, cfg.session.nudge_weak_share)
            results.append(tr)
            if writer is not None:
                # the turn goes to disk while the caller's next line already plays (fsyncs cost tens of ms);
                # the previous write is always complete first, and the last one before this function returns
                # the running scorecard is computed on the writer's thread too, from snapshots of this moment
                _finish(pending)
                pending = disk.submit(_write_turn, writer, tr, list(results), scenario, _snapshot(caller),
                                      used_baseline, cfg)
            if reply.final and basis["analysis"] != "early":  # a live caller says the closing line now, while
                emit("final_line", {"index": index, "line": reply})  # the turn is scored and written
            emit("turn", {"result": tr})
            line = reply
    finally:  # also on Ctrl-C or a lost device: the finished turn is on disk before anyone else writes
        disk.shutdown(wait=True)
    _finish(pending)
    if not line.final:
        status = "completed" if index >= limit or not answers.remaining(index + 1) else status
    card = scorecard(results, scenario, caller, used_baseline, cfg)
    result = SessionResult(scenario, results, caller, card, status, used_baseline)
    emit("end", {"result": result, "final_line": line})
    return result


def _write_turn(writer: SessionWriter, tr: TurnResult, results: list[TurnResult], scenario: Scenario,
                caller: Caller, baseline: tone.Baseline | None, cfg: Config) -> None:
    """Score the call so far and write the turn (on the writer's thread)."""
    card = scorecard(results, scenario, caller, baseline, cfg)
    writer.write_turn(tr, card, caller.to_dict(), caller.outcome)


def _snapshot(caller: Caller) -> Caller:
    """An independent copy of the caller's state (the scenario and config are shared, not copied)."""
    c = copy.copy(caller)
    c.state = copy.deepcopy(caller.state)
    c.trajectory = list(caller.trajectory)
    c._rng = random.Random()
    c._rng.setstate(caller._rng.getstate())
    return c


def _prepare_reply(caller: Caller, analysis: TurnAnalysis, cfg: Config, render: Renderer) -> None:
    """Render the line a copy of the caller would answer this analysis with, so the real reply is ready.

    Same observation, same caller state and random state: the same line at the same anger, which the
    memoised renderer then hands out at once. Never fails the turn (a guess that does not come true costs
    only the render).
    """
    try:
        obs = observe(analysis.turns, analysis.tone, analysis.listening, cfg, _words(analysis))
        spec = _snapshot(caller)
        nxt = spec.respond(obs)
        render(nxt.text, nxt.anger)
    except Exception:  # noqa: BLE001 - speculation only; the real reply is rendered on the main path
        return


def memo_renderer(render: Renderer, keep: int = 8) -> Renderer:
    """``render`` with the last ``keep`` lines kept in memory (thread-safe: one lock per call)."""
    import threading

    lock = threading.Lock()
    cache: dict[tuple[str, float], np.ndarray] = {}

    def memo(text: str, anger: float) -> np.ndarray:
        key = (text, round(float(anger), 6))
        with lock:
            hit = cache.get(key)
        if hit is not None:
            return hit
        audio = render(text, anger)
        with lock:
            cache[key] = audio
            while len(cache) > keep:
                cache.pop(next(iter(cache)))
        return audio

    return memo


def _finish(job: Future | None) -> None:
    """Wait for a background turn write; its error (disk full, folder gone) surfaces here."""
    if job is not None:
        job.result()


class SessionFolder:
    """Keeps a practice call in a session folder (``store.py``), atomically, as each turn ends.

    Each turn's ``turn_NN.json`` holds a :class:`store.TurnRecord` whose facts are :meth:`TurnResult.to_dict`
    (the turn schema documented in ``store.py``); ``session.json`` carries the running scorecard (``scores``), the
    anger trajectory and, in ``settings["caller"]``, the caller's state with the reason for every anger change.
    """

    def __init__(self, directory: str | Path, scenario: Scenario, cfg: Config, *, mode: str, model: str | None,
                 seed: int, settings: dict | None = None) -> None:
        from .. import store
        from ..config import to_dict

        self._store = store
        record = store.SessionRecord(
            mode=mode, scenario=scenario.to_dict(), model=model, anger_trajectory=[float(scenario.persona.anger)],
            settings={"seed": seed, **(settings or {}), "config": to_dict(cfg)},
        )
        self.writer = store.SessionWriter(directory, record)
        self.dir = self.writer.dir

    def write_turn(self, tr: TurnResult, card: Scorecard, caller_state: dict, outcome: str | None) -> None:
        a = tr.audio
        facts = tr.to_dict()
        from ..model_files import used

        facts["model_files"] = used()  # the models this process verified and ran (Whisper, VAD, pitch)
        rec = self._store.TurnRecord(index=tr.index, facts=facts)
        self.writer.write_turn(rec, a.reference, a.mic, SR)
        settings = dict(self.writer.record.settings)
        settings["caller"] = caller_state
        self.writer.update(scores=card.to_dict(), outcome=outcome, settings=settings, model_files=rec.model_files)

    def update_turn(self, tr: TurnResult) -> None:
        """Rewrite a written turn's record with its facts as they are now (e.g. a latency measured later)."""
        from ..model_files import used

        facts = tr.to_dict()
        facts["model_files"] = used()
        self.writer.update_turn_facts(tr.index, facts)

    def finish(self, status: str, result: SessionResult | None = None, error: str | None = None) -> None:
        changes: dict[str, Any] = {"error": error}
        if result is not None:
            settings = dict(self.writer.record.settings)
            settings["caller"] = result.caller.to_dict()
            changes.update(scores=result.scorecard.to_dict(), outcome=result.caller.outcome, settings=settings)
        self.writer.finish(status, **changes)


@dataclass
class Session:
    """One practice call, the public entry point: ``Session("double-charge", FileAnswers([...], cfg)).run()``.

    ``answers`` is any answer source (:class:`FileAnswers`, the live microphone's ``practice.LiveAnswers``);
    ``folder``, when given, keeps the call there as each turn ends (``store.py``).
    """

    scenario: Scenario | str
    answers: AnswerSource
    cfg: Config = field(default_factory=Config)
    transcriber: Transcriber | None = None
    baseline: tone.Baseline | None = None
    seed: int = 0
    max_turns: int | None = None
    folder: str | Path | None = None

    def run(self, on_event: Event | None = None) -> SessionResult:
        from .scenarios import get_scenario

        scenario = get_scenario(self.scenario) if isinstance(self.scenario, str) else self.scenario
        transcriber = self.transcriber or Transcriber(self.cfg.transcribe)
        folder = None
        if self.folder is not None:
            mode = "file" if isinstance(self.answers, FileAnswers) else "live"
            folder = SessionFolder(self.folder, scenario, self.cfg, mode=mode, model=transcriber.model_name,
                                   seed=self.seed)
        try:
            result = run_session(scenario, self.cfg, transcriber, self.answers, baseline=self.baseline,
                                 seed=self.seed, max_turns=self.max_turns, writer=folder, on_event=on_event)
        except BaseException as exc:
            if folder is not None:
                folder.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                              error=f"{type(exc).__name__}: {exc}")
            raise
        if folder is not None:
            folder.finish(result.status, result)
        return result
