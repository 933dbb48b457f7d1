"""Review of a recorded two-party call: per-channel speech and transcript, turn-taking, and scores.

``review_tracks`` works on two decoded tracks (the caller's and the agent's, same clock and rate) and is what
a batch job or the practice session calls; ``review_file`` decodes a stereo recording first. Both return a
:class:`ReviewResult` whose ``to_dict()`` is the JSON users see from ``voice-trainer review --json``.

Stages: echo/crosstalk suppression (each channel against the other, only when a delayed copy is found) ->
VAD per channel -> Whisper per channel (the model is passed in, loaded once) -> turns -> tone of the agent's
turns (baseline: the agent's own first turns) and listening over the call's turns -> turn-taking score.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analysis.echo import EchoEstimate, estimate_echo, subtract_echo, suppress_echo
from .analysis.result import SCHEMA_VERSION
from .analysis.scoring import Score, score_from_components
from .analysis.transcript import Segment, Transcript, Word
from .analysis.turns import AGENT, CALLER, TurnsResult, analyze_turns, turn_components
from .analysis.vad import SpeechSegment, speech_segments
from .audio import files as audio_io
from .config import Config
from .errors import UserError
from .speech.transcribe import Transcriber

CALLER_CHANNELS = ("left", "right")


@dataclass
class ChannelReview:
    """One party's track: which channel, its speech segments, transcript and echo estimate."""

    role: str
    channel: str
    segments: list[SpeechSegment]
    transcript: Transcript
    echo: EchoEstimate | None = None

    def to_dict(self) -> dict:
        return {
            "channel": self.channel,
            "speech_segments": [{"start": round(s.start, 3), "end": round(s.end, 3)} for s in self.segments],
            "speech_s": round(sum(s.duration for s in self.segments), 3),
            "transcript": self.transcript.text,
            "words": [w.to_dict() for w in self.transcript.words],
            "echo_of_other_channel": None if self.echo is None else self.echo.to_dict(),
        }


@dataclass
class ReviewResult:
    """Everything measured about one recorded call (times in seconds from its start)."""

    file: str | None
    duration_s: float
    model: str | None
    caller: ChannelReview
    agent: ChannelReview
    turns: TurnsResult
    score: Score
    tone: Any | None = None
    listening: Any | None = None
    notes: list[str] = field(default_factory=list)
    model_files: list[dict] | None = None
    """The model files that produced it (see :func:`voice_trainer.model_files.used`)."""

    def to_dict(self) -> dict:
        turns = self.turns.to_dict()
        turns.pop("segments", None)  # listed once, per channel
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": "call_review",
            "file": self.file,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "model_files": self.model_files,
            "caller": self.caller.to_dict(),
            "agent": self.agent.to_dict(),
            "turns": turns,
            "turn_taking_score": self.score.to_dict(),
            "tone": None if self.tone is None else self.tone.to_dict(),
            "listening": None if self.listening is None else self.listening.to_dict(),
            "notes": self.notes,
        }
        return out


def transcribe_speech(
    transcriber: Transcriber,
    track: np.ndarray,
    sample_rate: int,
    segments: list[SpeechSegment],
    *,
    pad_s: float = 0.15,
    gap_s: float = 1.0,
    beam_size: int = 0,
) -> Transcript:
    """Transcribe only the speech segments of ``track``, keeping every word inside the segment it came from.

    The segments (each widened by ``pad_s``; those less than ``gap_s`` apart kept as one piece with their
    own pause) are joined with ``gap_s`` seconds of silence between them and
    decoded in one pass (one model, few 30 s windows); each recognised word is then mapped back to the
    segment its middle falls in. Whisper's own VAD is switched off for this pass: the segments already are
    the speech, and the silent gaps keep a word that Whisper times a little late from landing in the next
    segment, seconds away in the call. ``beam_size`` (when > 0) overrides the transcriber's beam width.

    Returns
    -------
    Transcript
        Times in seconds on the track's clock.
    """
    if not segments:
        return Transcript(language=transcriber.config.language or "auto")
    pieces: list[np.ndarray] = []
    spans: list[tuple[float, float, float]] = []  # (start in joined audio, end in joined audio, shift to track)
    gap = np.zeros(int(gap_s * sample_rate), np.float32)
    pos = 0
    # segments closer than a gap are one piece: their own pause already separates them
    groups: list[list[float]] = []
    for seg in segments:
        if groups and seg.start - pad_s <= groups[-1][1] + pad_s + gap_s:
            groups[-1][1] = max(groups[-1][1], seg.end)
        else:
            groups.append([seg.start, seg.end])
    for g_start, g_end in groups:
        a = max(0, int((g_start - pad_s) * sample_rate))
        b = min(len(track), int((g_end + pad_s) * sample_rate))
        if b <= a:
            continue
        pieces += [track[a:b], gap]
        spans.append((pos / sample_rate, (pos + b - a) / sample_rate, a / sample_rate - pos / sample_rate))
        pos += b - a + len(gap)
    joined = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    options = {"vad_filter": False}
    if beam_size:
        options["beam_size"] = beam_size
    flat = Transcriber(dataclasses.replace(transcriber.config, **options))
    flat._model = transcriber.model  # the same loaded model
    raw = flat.transcribe(joined)

    def place(t0: float, t1: float) -> tuple[float, float] | None:
        mid = 0.5 * (t0 + t1)
        best = min(spans, key=lambda s: 0.0 if s[0] <= mid <= s[1] else min(abs(mid - s[0]), abs(mid - s[1])))
        lo, hi, shift = best
        if not (lo - gap_s / 2 <= mid <= hi + gap_s / 2):
            return None
        return min(max(t0, lo), hi) + shift, min(max(t1, lo), hi) + shift

    pairs = [(w, place(w.start, w.end)) for w in raw.words]
    words = [Word(w.word, got[0], got[1], w.probability) for w, got in pairs if got is not None]
    segs = []
    for sg in raw.segments:
        inside = [got for w, got in pairs if got is not None and sg.start <= 0.5 * (w.start + w.end) <= sg.end]
        if inside:
            segs.append(Segment(inside[0][0], inside[-1][1], sg.text, sg.no_speech_prob, sg.avg_logprob))
    return Transcript(text=raw.text, words=words, segments=segs, language=raw.language)


def _clean(
    track: np.ndarray, other: np.ndarray, sr: int, cfg: Config
) -> tuple[np.ndarray, np.ndarray, EchoEstimate]:
    """(gated track for VAD, subtracted track for Whisper, estimate) of ``track`` against ``other``'s echo."""
    est = estimate_echo(track, other, sr, cfg.turns)
    gated, est = suppress_echo(track, other, sr, cfg.turns, estimate=est)
    return gated, subtract_echo(track, other, sr, est), est


@dataclass
class AgentTone:
    """Tone of each agent turn against the agent's own first turns (a recorded call has no calibration)."""

    baseline: Any | None
    turns: list[tuple[float, float, Any]]
    contagion: Any | None

    def to_dict(self) -> dict:
        return {
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "turns": [{"start": round(a, 3), "end": round(b, 3), **t.to_dict()} for a, b, t in self.turns],
            "contagion": None if self.contagion is None else self.contagion.to_dict(),
        }


def _words_between(words: list[Word], a: float, b: float) -> list[Word]:
    return [w for w in words if a <= 0.5 * (w.start + w.end) <= b]


def agent_tone(
    agent: np.ndarray, caller: np.ndarray, sample_rate: int, turns: TurnsResult, agent_words: list[Word],
    cfg: Config,
) -> AgentTone:
    """Tone of every agent turn (:mod:`voice_trainer.tone`), baseline from the agent's own first turns, and
    whether the agent's voice rose with the caller's loudness (tone contagion)."""
    from .analysis import tone
    from .analysis.core import tone_stage

    tc = cfg.tone
    agent_turns = [t for t in turns.turns if t.speaker == AGENT]
    frames, words, prev_caller_level = [], [], []
    last_caller = None
    for t in turns.turns:
        if t.speaker == CALLER:
            last_caller = t
            continue
        a, b = int(t.start * sample_rate), int(t.end * sample_rate)
        frames.append(tone.measure_frames(agent[a:b], sample_rate, tc, offset_s=t.start))
        words.append(_words_between(agent_words, t.start, t.end))
        level = None
        if last_caller is not None:
            ca, cb = int(last_caller.start * sample_rate), int(last_caller.end * sample_rate)
            level = tone.summarize(tone.measure_frames(caller[ca:cb], sample_rate, tc), (), tc).level_dbfs
        prev_caller_level.append(level)
    baseline = tone.session_baseline(frames, words, tc) if frames else None
    in_baseline = set(baseline.turns) if baseline is not None else set()  # picked once by session_baseline
    results = []  # the tone stage of the one turn analysis (analysis/core.py), turn by turn
    for i, (t, f, w) in enumerate(zip(agent_turns, frames, words, strict=True)):
        r = tone_stage(f, w, baseline, cfg)
        results.append((t.start, t.end, tone.withhold_as_baseline(r) if i in in_baseline else r))
    measures = [r.measures for _, _, r in results]
    cont = tone.contagion(measures, prev_caller_level, tc) if measures else None
    return AgentTone(baseline, results, cont)


def agent_listening(turns: TurnsResult, caller_words: list[Word], agent_words: list[Word], cfg: Config):
    """Active-listening analysis (:func:`voice_trainer.listening.analyze_call`) of the call's turns."""
    from .analysis.listening.detect import CallTurn, analyze_call

    call = []
    for t in turns.turns:
        ws = _words_between(agent_words if t.speaker == AGENT else caller_words, t.start, t.end)
        text = " ".join(w.word for w in ws) or t.text
        if text:
            call.append(CallTurn(t.speaker, text, ws or None))
    return analyze_call(call, config=cfg.listening)


def review_tracks(
    caller: np.ndarray,
    agent: np.ndarray,
    sample_rate: int,
    cfg: Config,
    transcriber: Transcriber,
    *,
    file: str | None = None,
    caller_channel: str = "left",
    on_stage: Callable[[int, int, str], None] | None = None,
) -> ReviewResult:
    """Review a call given as two tracks.

    Parameters
    ----------
    caller, agent : np.ndarray
        float32 mono tracks in [-1, 1] at ``sample_rate`` Hz, sample-aligned (same clock).
    sample_rate : int
        Hz; 16000 for the default Silero VAD and Whisper.
    cfg : Config
        The configuration tree (``turns`` and ``transcribe`` sections are used).
    transcriber : Transcriber
        Loaded once by the caller and reused across calls.
    file : str, optional
        Name to report.
    caller_channel : {"left", "right"}
        Which channel the caller was on (reported only).
    on_stage : callable, optional
        ``on_stage(done, total, name)`` after each stage (for a progress bar).
    """
    stages = ("echo", "voice activity", "caller transcript", "agent transcript", "turns, tone and listening")

    def stage(i: int) -> None:
        if on_stage is not None:
            on_stage(i, len(stages), stages[min(i, len(stages) - 1)])

    n = min(len(caller), len(agent))
    caller, agent = np.asarray(caller[:n], np.float32), np.asarray(agent[:n], np.float32)
    duration = n / sample_rate
    # the agent channel may carry the caller (speaker echo, crosstalk) and vice versa: remove before VAD
    agent_gated, agent_sub, agent_echo = _clean(agent, caller, sample_rate, cfg)
    caller_gated, caller_sub, caller_echo = _clean(caller, agent, sample_rate, cfg)
    stage(1)
    tc = cfg.turns
    caller_segs = speech_segments(caller_gated, sample_rate, tc)
    agent_segs = speech_segments(agent_gated, sample_rate, tc)
    stage(2)
    beam = tc.review_beam_size
    caller_tx = transcribe_speech(transcriber, caller_sub, sample_rate, caller_segs, beam_size=beam)
    stage(3)
    agent_tx = transcribe_speech(transcriber, agent_sub, sample_rate, agent_segs, beam_size=beam)
    stage(4)
    turns = analyze_turns(caller_segs, agent_segs, agent_tx.words, caller_tx.words, tc, duration_s=duration)
    other = "right" if caller_channel == "left" else "left"
    notes = []
    tone = agent_tone(agent_sub, caller_sub, sample_rate, turns, agent_tx.words, cfg) if agent_segs else None
    listening = agent_listening(turns, caller_tx.words, agent_tx.words, cfg) if agent_tx.words else None
    if tone is not None and tone.baseline is None:
        notes.append("no agent turn had enough voiced speech for a tone baseline; calmness is withheld")
    if listening is None:
        notes.append("no agent words were recognised; listening is not judged")
    stage(5)
    return ReviewResult(
        file=file,
        duration_s=duration,
        model=transcriber.model_name,
        caller=ChannelReview(CALLER, caller_channel, caller_segs, caller_tx, caller_echo),
        agent=ChannelReview(AGENT, other, agent_segs, agent_tx, agent_echo),
        turns=turns,
        score=score_from_components(turn_components(turns, tc)),
        tone=tone,
        listening=listening,
        notes=notes,
        model_files=transcriber.model_files,
    )


def review_file(
    path: str | os.PathLike, cfg: Config, transcriber: Transcriber, *, caller_channel: str = "left",
    on_stage: Callable[[int, int, str], None] | None = None,
) -> ReviewResult:
    """Decode a stereo call recording (caller on ``caller_channel``) and review it.

    Raises
    ------
    UserError
        Missing/undecodable file, a mono file, an unknown channel name, or a recording that is too short.
    """
    if caller_channel not in CALLER_CHANNELS:
        raise UserError(f"unknown caller channel {caller_channel!r}; choose left or right")
    info = audio_io.probe(path)
    if info.channels < 2:
        raise UserError(
            f"{path}: the file is mono; review needs a stereo call recording with the caller on one channel "
            "and the agent on the other (use 'voice-trainer analyze' for a single speaker)"
        )
    sr = audio_io.ANALYSIS_RATE
    left, right = audio_io.load_tracks(path, sample_rate=sr, channels=("left", "right"))
    audio_io.check_duration(left, sr, cfg.audio.min_duration_s, str(path))
    caller, agent = (left, right) if caller_channel == "left" else (right, left)
    return review_tracks(caller, agent, sr, cfg, transcriber, file=str(path), caller_channel=caller_channel,
                         on_stage=on_stage)


review_call = review_file
"""The public name (``voice_trainer.review_call``): review a recorded stereo call."""
