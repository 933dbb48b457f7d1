"""The practice call loop, shared by live practice (microphone) and file mode (canned answers).

One turn is a small pipeline of stages, each with one job::

    caller line (text) -> TTS render -> answer source (play + record, or place a canned answer)
      -> echo suppression -> voice activity -> transcription -> turn-taking -> tone -> listening
      -> caller reaction (anger) -> nudges -> store (stereo WAV + JSON, atomically, as the turn ends)

The answer source is the only part that differs between live practice and file mode; both hand back the same
:class:`TurnAudio` (the caller's signal as played and the trainee's track, sample-aligned on one clock).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import audio as audio_io
from . import ids, tone, turns
from .caller import Caller, CallerLine, TurnObservation
from .config import Config
from .echo import subtract_echo, suppress_echo
from .errors import UserError
from .listening import ListeningResult, analyze_call, analyze_listening
from .scenarios import Scenario
from .scoring import Component, Evidence, Score, score_from_components
from .transcribe import Transcriber
from .transcribe import merge as merge_transcripts
from .transcript import Transcript, Word
from .vad import speech_segments

SR = 16_000


# ---------------------------------------------------------------------------------------------------------------
# What an answer source hands back
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class TurnAudio:
    """One turn's audio on one clock (seconds from the start of the caller's line).

    Attributes
    ----------
    reference : np.ndarray
        The caller's signal as it was actually played (cut short on a barge-in), 16 kHz float32.
    mic : np.ndarray
        The trainee's track, same length and clock.
    caller_end_s : float
        When the caller's line ended (as played).
    barge_in_s : float or None
        When the trainee started talking while the caller was still speaking.
    caller_pushed_on : bool
        The caller kept talking through the barge-in (very angry callers do).
    source : str
        Where the answer came from ("microphone" or a file path).
    answer_start_s : float or None
        When the answer started, where the source knows it (file mode).
    """

    reference: np.ndarray
    mic: np.ndarray
    caller_end_s: float
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
    """A :class:`TurnResult` the source already computed on this turn up to the start of its final silence
    (live practice analyses during the end-of-turn silence); used instead of analysing again."""


class AnswerSource(Protocol):
    """Plays the caller's line and returns the trainee's answer on the same clock."""

    def remaining(self, index: int) -> bool:
        """Whether an answer for turn ``index`` (1-based) can be taken."""

    def take(self, index: int, caller_audio: np.ndarray, line: CallerLine,
             analyze: Callable[[TurnAudio], TurnResult] | None = None) -> TurnAudio:
        """Play ``caller_audio`` (16 kHz) and capture the answer.

        ``analyze`` runs the turn's analysis on audio so far; a live source may call it early (during the
        end-of-turn silence) and hand the result back in :attr:`TurnAudio.precomputed`.
        """


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
    transcript: Transcript
    turns: turns.TurnsResult
    tone: tone.ToneResult | None
    tone_frames: tone.ToneFrames | None
    listening: ListeningResult
    turn_taking: Score
    observation: TurnObservation
    echo: dict[str, Any] = field(default_factory=dict)
    anger_before: float = 0.0
    anger_after: float = 0.0
    anger_changes: list[dict] = field(default_factory=list)
    nudges: list[str] = field(default_factory=list)
    reply: CallerLine | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        def line(cl: CallerLine | None) -> dict | None:
            if cl is None:
                return None
            return {"text": cl.text, "stage": cl.stage, "band": cl.band, "anger": cl.anger, "final": cl.final,
                    "outcome": cl.outcome}

        a = self.audio
        return {
            "index": self.index,
            "caller_line": line(self.caller_line),
            "caller_end_s": round(a.caller_end_s, 3),
            "barge_in_s": None if a.barge_in_s is None else round(a.barge_in_s, 3),
            "caller_pushed_on": a.caller_pushed_on,
            "answer_source": a.source,
            "answer_start_s": None if a.answer_start_s is None else round(a.answer_start_s, 3),
            "speech_end_s": None if a.speech_end_s is None else round(a.speech_end_s, 3),
            "end_reason": a.end_reason,
            "source_extra": a.extra,
            "transcript": self.transcript.text,
            "words": [w.to_dict() for w in self.transcript.words],
            "scores": {
                "calmness": None if self.tone is None or self.tone.calmness.value is None
                else round(self.tone.calmness.value, 1),
                "listening": None if self.listening.score.value is None else round(self.listening.score.value, 1),
                "turn_taking": None if self.turn_taking.value is None else round(self.turn_taking.value, 1),
            },
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
                "dead_air_s": round(self.observation.dead_air_s, 3),
                "paraphrased_facts": self.observation.paraphrased_facts,
            },
            "anger_before": round(self.anger_before, 2),
            "anger_after": round(self.anger_after, 2),
            "anger_changes": self.anger_changes,
            "nudges": self.nudges,
            "reply": line(self.reply),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
        }


def _raised_voice(result: tone.ToneResult | None, cfg: Config) -> bool:
    if result is None:
        return False
    for c in result.calmness.components:
        if c.id == cfg.session.raised_voice_component and c.withheld is None and c.weight > 0:
            return (c.weight - c.points) / c.weight >= cfg.session.raised_voice_points_lost
    return False


def observe(
    turn_result: turns.TurnsResult, tone_result: tone.ToneResult | None, listening: ListeningResult, cfg: Config
) -> TurnObservation:
    """What the caller reacts to, from the three analyses."""
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
        dead_air_s=max(waits, default=0.0),
        paraphrased_facts=sum(1 for f in listening.facts if f.covered),
    )


def nudges_for(tr: TurnResult, limit: int) -> list[str]:
    """Short on-screen feedback for one turn: problems first, then one thing done well."""
    out: list[str] = []
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
                 and c.points < 0.6 * c.weight]
        worst.sort(key=lambda c: c.points / c.weight)
        for c in worst[:1]:
            out.append(f"{c.label}: {c.tip}" if c.tip else c.label)
    good = [d for d in tr.listening.techniques if d.id in (ids.PARAPHRASE, ids.ACKNOWLEDGE, ids.CHOICES,
                                                           ids.RESOLUTION_TIMELINE, ids.QUESTION)]
    if good:
        d = max(good, key=lambda d: d.confidence)
        out.append(f"Good: {d.label.lower()} - \"{d.text}\"")
    return out[:limit]


def analyze_turn(
    index: int,
    ta: TurnAudio,
    line: CallerLine,
    scenario: Scenario,
    cfg: Config,
    transcriber: Transcriber,
    baseline: tone.Baseline | None,
    *,
    closing: bool = False,
) -> TurnResult:
    """Run the analysis stages on one turn's audio (no devices, no files)."""
    t = {}
    t0 = time.perf_counter()
    # voice activity on the echo-gated track (the caller's echo never counts as the trainee talking);
    # Whisper and tone on the echo-subtracted, ungated track (gating would cut quiet double-talk words)
    gated, est = suppress_echo(ta.mic, ta.reference, SR, cfg.turns)
    mic = subtract_echo(ta.mic, ta.reference, SR, est) if est is not None and est.detected else ta.mic
    t["echo"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the reference is the clean signal we played: frame energy finds its speech exactly, at a fraction of
    # the cost of the neural VAD that the microphone needs
    caller_segs = speech_segments(ta.reference, SR, _energy(cfg)) if np.any(ta.reference) else []
    agent_segs = speech_segments(gated, SR, cfg.turns)
    t["vad"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tx = _transcribe(transcriber, mic, ta.partial, agent_segs)
    t["transcribe"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    caller_words = _spread_words(line.text, caller_segs, ta.caller_line_s)
    tr = turns.analyze_turns(caller_segs, agent_segs, tx.words, caller_words, cfg.turns, duration_s=len(mic) / SR,
                             awaiting_answer=True)
    taking = score_from_components(turns.turn_components(tr, cfg.turns))
    t["turns"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = None
    if tx.words:  # tone over the trainee's speech only (from just before their first word to the end)
        lo = max(0.0, min(tx.words[0].start, agent_segs[0][0] if agent_segs else tx.words[0].start) - 0.2)
        frames = tone.measure_frames(mic[int(lo * SR):], SR, cfg.tone, offset_s=lo)
    tone_result = None
    if frames is not None:
        tone_result = tone.score_calmness(tone.summarize(frames, tx.words, cfg.tone), baseline, cfg.tone)
    t["tone"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    listening = analyze_listening(tx.text, tx.words, caller_text=line.text, facts=scenario.facts,
                                  config=cfg.listening, closing=closing)
    t["listening"] = time.perf_counter() - t0
    obs = observe(tr, tone_result, listening, cfg)
    return TurnResult(
        index=index, caller_line=line, audio=ta, transcript=tx, turns=tr, tone=tone_result, tone_frames=frames,
        listening=listening, turn_taking=taking, observation=obs, echo=est.to_dict() if est else {}, timings=t,
    )


def _transcribe(transcriber: Transcriber, mic: np.ndarray, partial: tuple[Transcript, int] | None,
                agent_segs: Sequence[Any]) -> Transcript:
    """Whisper on the trainee's track, reusing a transcript of its beginning when one was made already."""
    if not agent_segs:
        return Transcript()
    if partial is None or not 0 < partial[1] <= len(mic):
        return transcriber.transcribe(mic)
    head, k = partial
    if not any(end > k / SR for _start, end in agent_segs):  # no speech after the cut
        return head
    return merge_transcripts([head, transcriber.transcribe(mic[k:], offset_s=k / SR)])


def _energy(cfg: Config):
    """A copy of the turns config whose VAD backend is frame energy (for the clean reference track)."""
    import dataclasses

    return dataclasses.replace(cfg.turns, vad_backend="energy")


def _spread_words(text: str, segments: Sequence[Any], line_s: float | None = None) -> list[Word]:
    """The caller's known words spread evenly over their speech (TTS timing is not recorded word by word).

    When the line was cut short by a barge-in, the words are spread over the whole line as rendered
    (``line_s`` seconds) and only those that had started before the caller stopped are kept.
    """
    tokens = text.split()
    if not tokens or not segments:
        return []
    start, heard_end = float(segments[0][0]), float(segments[-1][1])
    end = max(heard_end, start + line_s - 0.1) if line_s else heard_end
    step = (end - start) / len(tokens)
    words = [Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(tokens)]
    return [w for w in words if w.start < heard_end]


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

    def to_dict(self) -> dict:
        def v(s: Score) -> float | None:
            return None if s.value is None else round(s.value, 1)

        return {
            "overall": None if self.overall is None else round(self.overall, 1),
            "calmness": v(self.calmness),
            "listening": v(self.listening),
            "turn_taking": v(self.turn_taking),
            "components": {
                "calmness": self.calmness.to_dict()["components"],
                "listening": self.listening.to_dict()["components"],
                "turn_taking": self.turn_taking.to_dict()["components"],
            },
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
    parts = [(calmness.value, sc.weight_calmness), (listening.value, sc.weight_listening),
             (turn_taking.value, sc.weight_turn_taking)]
    parts = [(s, wt) for s, wt in parts if s is not None and wt > 0]
    overall = sum(s * wt for s, wt in parts) / sum(wt for _, wt in parts) if parts else None
    return Scorecard(overall, calmness, listening, turn_taking, call.to_dict() if call else {}, contagion,
                     baseline.to_dict() if baseline else None, caller.outcome)


Renderer = Callable[[str, float], np.ndarray]
"""Turns a caller line and the anger into 16 kHz audio."""


def tts_renderer(scenario: Scenario, cfg: Config) -> Renderer:
    """Render caller lines with pyttsx3 (cached on disk) in the persona's voice at the current anger."""
    from . import tts

    def render(text: str, anger: float) -> np.ndarray:
        path = tts.render_line(text, tts.voice_for(scenario.persona, anger, cfg.tts))
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

    ``on_event(name, data)`` is told ``caller_line``, ``turn`` (a finished TurnResult) and ``end``; the live UI
    and the demo print from it. Each finished turn goes to ``writer`` before the next starts.
    """
    render = render or tts_renderer(scenario, cfg)
    emit = on_event or (lambda name, data: None)
    caller = Caller(scenario, cfg.caller, seed=seed)
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
            caller_audio = render(line.text, line.anger)
            closing = line.stage in ("negotiate",) and caller.anger <= scenario.reactions.accept_below

            def analyze(turn_audio: TurnAudio, index=index, line=line, closing=closing,
                        baseline=used_baseline) -> TurnResult:
                return analyze_turn(index, turn_audio, line, scenario, cfg, transcriber, baseline, closing=closing)

            ta = answers.take(index, caller_audio, line, analyze)
            if isinstance(ta.precomputed, TurnResult):
                tr = ta.precomputed
                tr.audio = ta
                tr.timings["analysed_during_silence"] = 1.0
            else:
                tr = analyze(ta)
            if baseline is None and tr.tone_frames is not None:
                session_frames.append(tr.tone_frames)
                session_words.append(list(tr.transcript.words))
                if used_baseline is None:  # the first measurable turn becomes the baseline
                    used_baseline = tone.session_baseline(session_frames, session_words, cfg.tone)
                    if used_baseline is not None:
                        tr.tone = tone.score_calmness(tr.tone.measures, used_baseline, cfg.tone)
                        tr.tone.notes.append("this turn is the session's baseline (no voice profile was given)")
            tr.anger_before = caller.anger
            reply = caller.respond(tr.observation)
            tr.anger_after = caller.anger
            step = caller.trajectory[-1]
            tr.anger_changes = [{"reason": c.reason, "delta": round(c.delta, 2), "detail": c.detail}
                                for c in step.changes]
            tr.reply = reply
            tr.nudges = nudges_for(tr, cfg.session.nudges_per_turn)
            results.append(tr)
            if writer is not None:
                # the turn goes to disk while the caller's next line already plays (fsyncs cost tens of ms);
                # the previous write is always complete first, and the last one before this function returns
                card = scorecard(results, scenario, caller, used_baseline, cfg)
                _finish(pending)
                pending = disk.submit(writer.write_turn, tr, card, caller.to_dict(), caller.outcome)
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


def _finish(job: Future | None) -> None:
    """Wait for a background turn write; its error (disk full, folder gone) surfaces here."""
    if job is not None:
        job.result()


class SessionFolder:
    """Keeps a practice call in a session folder (``store.py``), atomically, as each turn ends.

    Each turn's ``turn_NN.json`` holds a :class:`store.TurnRecord` whose ``analysis`` is
    :meth:`TurnResult.to_dict`; ``session.json`` carries the running scorecard (``scores``), the anger
    trajectory and, in ``settings["caller"]``, the caller's state with the reason for every anger change.
    """

    def __init__(self, directory: str | Path, scenario: Scenario, cfg: Config, *, mode: str, model: str | None,
                 seed: int, settings: dict | None = None) -> None:
        from . import store
        from .config import to_dict

        self._store = store
        record = store.SessionRecord(
            mode=mode, scenario=scenario.to_dict(), model=model, anger_trajectory=[float(scenario.persona.anger)],
            settings={"seed": seed, **(settings or {}), "config": to_dict(cfg)},
        )
        self.writer = store.SessionWriter(directory, record)
        self.dir = self.writer.dir

    def write_turn(self, tr: TurnResult, card: Scorecard, caller_state: dict, outcome: str | None) -> None:
        a = tr.audio
        rec = self._store.TurnRecord(
            index=tr.index, caller_text=tr.caller_line.text, trainee_text=tr.transcript.text,
            caller_start_s=0.0, caller_end_s=round(a.caller_end_s, 3),
            barge_in_s=None if a.barge_in_s is None else round(a.barge_in_s, 3),
            answer_start_s=None if a.answer_start_s is None else round(a.answer_start_s, 3),
            end_reason=a.end_reason, anger_before=round(tr.anger_before, 3), anger_after=round(tr.anger_after, 3),
            source=a.source or "microphone", words=[w.to_dict() for w in tr.transcript.words],
            analysis=tr.to_dict(), nudges=list(tr.nudges),
        )
        self.writer.write_turn(rec, a.reference, a.mic, SR)
        settings = dict(self.writer.record.settings)
        settings["caller"] = caller_state
        self.writer.update(scores=card.to_dict(), outcome=outcome, settings=settings)

    def finish(self, status: str, result: SessionResult | None = None, error: str | None = None) -> None:
        changes: dict[str, Any] = {"error": error}
        if result is not None:
            settings = dict(self.writer.record.settings)
            settings["caller"] = result.caller.to_dict()
            changes.update(scores=result.scorecard.to_dict(), outcome=result.caller.outcome, settings=settings)
        self.writer.finish(status, **changes)
