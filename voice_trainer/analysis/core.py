"""The one analysis of a trainee's turn: :func:`analyze_turn`.

Live practice, file mode (``run``, ``demo``) and ``analyze`` (one answer) all come here; only their answer source
differs. A turn runs through small stages, each with one job, in this order::

    echo (estimated once) -> voice activity -> transcription -> turn-taking -> tone -> listening

and the result is one :class:`TurnAnalysis`. The stages are pure; speech recognition is passed in (anything with
``transcribe(audio, offset_s=...) -> Transcript`` and ``model_name``), so this module never loads a model itself.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..config import Config
from . import tone as tone_analysis
from . import turns as turns_analysis
from .echo import EchoEstimate, subtract_echo, suppress_echo
from .listening.detect import ListeningResult, analyze_listening
from .scoring import Score, score_from_components
from .transcript import Transcript, Word, merge
from .turn import CallContext, TurnAudio
from .vad import speech_segments
from .word_timing import clamp_to_speech

__all__ = ["CallContext", "TurnAnalysis", "TurnAudio", "Transcribes", "analyze_turn", "listening_stage",
           "tone_stage"]


class Transcribes(Protocol):
    """What the transcription stage needs (``voice_trainer.speech.transcribe.Transcriber`` is one)."""

    model_name: str

    def transcribe(self, audio: np.ndarray, *, offset_s: float = 0.0) -> Transcript: ...


@dataclass
class TurnAnalysis:
    """Everything measured in one trainee turn (times in seconds from the start of the turn).

    Attributes
    ----------
    transcript : Transcript
        The trainee's words with word timings.
    turns : TurnsResult or None
        Turn-taking facts (interruptions, latency, dead air, talk share); None without a caller track.
    turn_taking : Score
        The turn-taking score with its components and evidence.
    tone : ToneResult or None
        Calmness with components and evidence; None when no speech was measured.
    tone_frames : ToneFrames or None
        The frame measures the tone came from (a session without a voice profile builds its baseline from them).
    listening : ListeningResult
        Active-listening techniques, red flags, paraphrased facts and their score.
    echo : EchoEstimate or None
        The caller's echo in the trainee's track, estimated once for the turn.
    timings : dict
        Seconds spent in each stage.
    """

    transcript: Transcript
    turns: turns_analysis.TurnsResult | None
    turn_taking: Score
    tone: tone_analysis.ToneResult | None
    tone_frames: tone_analysis.ToneFrames | None
    listening: ListeningResult
    echo: EchoEstimate | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def rescore_tone(self, baseline: Any, cfg: Config) -> None:
        """Score the tone again against ``baseline`` (a session that builds its baseline from this turn)."""
        if self.tone is not None:
            self.tone = tone_analysis.score_calmness(self.tone.measures, baseline, cfg.tone)


def analyze_turn(
    audio: TurnAudio | None,
    context: CallContext,
    cfg: Config,
    transcriber: Transcribes | None = None,
    *,
    echo: EchoEstimate | None = None,
    transcript: Transcript | None = None,
    tone_frames: tone_analysis.ToneFrames | None = None,
) -> TurnAnalysis:
    """Analyse one trainee turn.

    Parameters
    ----------
    audio : TurnAudio or None
        The caller's reference track and the trainee's track on one clock, with the sample rate (Hz). None when
        the signal stages were already run on a stream (``transcript`` and ``tone_frames`` given): then there is
        no caller track and turn-taking is not measured.
    context : CallContext
        The caller's words, the scenario's facts, the call stage and the trainee's calm baseline.
    cfg : Config
        Thresholds and weights.
    transcriber : Transcribes, optional
        Speech recognition (loaded once by the caller and reused); needed when ``audio`` is given.
    echo : EchoEstimate, optional
        An echo estimate already made for this turn; else it is estimated here, once.
    transcript, tone_frames : optional
        The trainee's words and tone frames, already measured (``analyze`` decodes long files in chunks to bound
        memory and hands them in).

    Returns
    -------
    TurnAnalysis
    """
    t: dict[str, float] = {}
    if audio is None:
        if transcript is None:
            raise ValueError("analyze_turn needs the turn's audio or its transcript")
        tx, frames, est = transcript, tone_frames, None
        tr, taking = None, Score(None)
    else:
        if transcriber is None:
            raise ValueError("analyze_turn needs a transcriber to analyse audio")
        tx, tr, taking, frames, est = _signal_stages(audio, context, cfg, transcriber, echo, t)
    t0 = time.perf_counter()
    tone_result = tone_stage(frames, tx.words, context.baseline, cfg)
    t["tone"] = t.get("tone", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    listening = listening_stage(tx, context, cfg)
    t["listening"] = time.perf_counter() - t0
    return TurnAnalysis(transcript=tx, turns=tr, turn_taking=taking, tone=tone_result, tone_frames=frames,
                        listening=listening, echo=est, timings=t)


def _signal_stages(audio: TurnAudio, context: CallContext, cfg: Config, transcriber: Transcribes,
                   echo: EchoEstimate | None, t: dict[str, float]):
    """Echo, voice activity, transcription, turn-taking and the tone frames of one turn's two tracks."""
    sr = audio.sample_rate
    t0 = time.perf_counter()
    # voice activity on the echo-gated track (the caller's echo never counts as the trainee talking);
    # Whisper and tone on the echo-subtracted, ungated track (gating would cut quiet double-talk words)
    gated, est = suppress_echo(audio.mic, audio.reference, sr, cfg.turns, estimate=echo)
    mic = subtract_echo(audio.mic, audio.reference, sr, est) if est is not None and est.detected else audio.mic
    t["echo"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # the reference is the clean signal we played: frame energy finds its speech exactly, at a fraction of
    # the cost of the neural VAD that the microphone needs
    caller_segs = speech_segments(audio.reference, sr, _energy(cfg)) if np.any(audio.reference) else []
    agent_segs = speech_segments(gated, sr, cfg.turns)
    t["vad"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tx = _transcribe(transcriber, mic, sr, audio.partial, agent_segs)
    # Whisper's word times onto the voice the VAD measured (every mode's record passes here)
    tx = clamp_to_speech(tx, agent_segs, slack_s=cfg.turns.word_voice_slack_s)
    t["transcribe"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    caller_words = spread_words(context.caller_text, caller_segs, audio.caller_line_s)
    tr = turns_analysis.analyze_turns(caller_segs, agent_segs, tx.words, caller_words, cfg.turns,
                                      duration_s=len(mic) / sr, awaiting_answer=True,
                                      agent_resumes_within_s=cfg.session.resume_grace_s if audio.follows_answer
                                      else None)
    taking = score_from_components(turns_analysis.turn_components(tr, cfg.turns))
    t["turns"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = None
    if tx.words:  # tone over the trainee's speech only (from just before their first word to the end)
        first = min(tx.words[0].start, agent_segs[0][0] if agent_segs else tx.words[0].start)
        lo = max(0.0, first - cfg.tone.lead_in_s)
        frames = tone_analysis.measure_frames(mic[int(lo * sr):], sr, cfg.tone, offset_s=lo)
    t["tone"] = time.perf_counter() - t0
    return tx, tr, taking, frames, est


def tone_stage(frames: tone_analysis.ToneFrames | None, words: Sequence[Word], baseline: Any, cfg: Config
               ) -> tone_analysis.ToneResult | None:
    """Calmness from the frame measures of the trainee's speech (None when there were none)."""
    if frames is None:
        return None
    return tone_analysis.score_calmness(tone_analysis.summarize(frames, words, cfg.tone), baseline, cfg.tone)


def listening_stage(transcript: Transcript, context: CallContext, cfg: Config) -> ListeningResult:
    """Active listening of the trainee's words against the caller's line and the scenario's facts."""
    return analyze_listening(transcript.text, transcript.words, caller_text=context.caller_text,
                             facts=context.facts, config=cfg.listening, closing=context.closing)


def _transcribe(transcriber: Transcribes, mic: np.ndarray, sr: int, partial: tuple[Transcript, int] | None,
                agent_segs: Sequence[Any]) -> Transcript:
    """Whisper on the trainee's track, reusing a transcript of its beginning when one was made already."""
    if not agent_segs:
        return Transcript()
    if partial is None or not 0 < partial[1] <= len(mic):
        return transcriber.transcribe(mic)
    head, k = partial
    if not any(end > k / sr for _start, end in agent_segs):  # no speech after the cut
        return head
    return merge([head, transcriber.transcribe(mic[k:], offset_s=k / sr)])


def _energy(cfg: Config):
    """A copy of the turns config whose VAD backend is frame energy (for the clean reference track)."""
    return dataclasses.replace(cfg.turns, vad_backend="energy")


def spread_words(text: str, segments: Sequence[Any], line_s: float | None = None) -> list[Word]:
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
