"""The analysis pipeline for one recording, as a sequence of small stages.

decode (chunked, bounded memory) -> transcribe and tone frames per chunk -> :func:`analysis.core.analyze_turn`
(tone and listening scores) -> one :class:`AnalysisResult`.

Each stage has one job; later issues add their stage to ``analyze_file`` without changing the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from . import memory
from .analysis import tone as tone_analysis
from .analysis.core import CallContext, analyze_turn
from .analysis.result import AnalysisResult
from .analysis.transcript import Transcript
from .analysis.vad import frame_levels_db
from .audio import files as audio_io
from .config import Config
from .errors import UserError
from .speech.transcribe import Transcriber, merge

SPLIT_SEARCH_S = 10.0
"""When a long file is cut into chunks, each cut is moved to the quietest 50 ms within this many seconds
before the nominal chunk end, so no word is split."""


def quiet_split(audio: np.ndarray, sample_rate: int, search_s: float = SPLIT_SEARCH_S) -> int:
    """Index of the quietest 50 ms window start within the last ``search_s`` seconds of ``audio``."""
    win = max(1, sample_rate // 20)
    lo = max(0, len(audio) - int(search_s * sample_rate))
    if len(audio) - lo < 2 * win:
        return len(audio)
    return lo + int(np.argmin(frame_levels_db(audio[lo:], sample_rate, frame_s=win / sample_rate))) * win


TONE_BLOCK_S = 10.0
"""Tone frames are measured on at most this many seconds at a time (a multiple of the 10 ms hop), which keeps
the pitch tracker's working memory small whatever the chunk length."""


@dataclass
class Chunk:
    """A piece of the decoded track: its start in the file (s) and samples."""

    offset_s: float
    samples: np.ndarray


def decoded_chunks(path: str | os.PathLike, cfg: Config, channel: str) -> Iterator[Chunk]:
    """Stage 1: decode and resample in bounded chunks, cut at quiet points."""
    sr = audio_io.ANALYSIS_RATE
    carry = np.zeros(0, np.float32)
    carry_off = 0.0
    for offset_s, (track,) in audio_io.iter_chunks(
        path, sample_rate=sr, channels=(channel,), chunk_s=cfg.audio.chunk_s
    ):
        buf = np.concatenate([carry, track]) if len(carry) else track
        start = offset_s - len(carry) / sr if len(carry) else offset_s
        if len(track) < int(cfg.audio.chunk_s * sr):  # the last chunk
            carry = buf
            carry_off = start
            break
        cut = quiet_split(buf, sr)
        yield Chunk(start, buf[:cut])
        carry, carry_off = buf[cut:], start + cut / sr
    if len(carry):
        yield Chunk(carry_off, carry)


def analyze_file(
    path: str | os.PathLike,
    cfg: Config,
    transcriber: Transcriber,
    *,
    channel: str = "mix",
    baseline: tone_analysis.Baseline | None = None,
    caller_text: str = "",
    on_progress: Callable[[float, float], None] | None = None,
) -> AnalysisResult:
    """Analyse one recording of the trainee (or any single speaker).

    ``baseline`` is the trainee's calm voice for the tone stage (None: tone reports ``baseline: none``).
    ``caller_text`` is the caller's line the recording answers (the listening stage judges paraphrase against it).
    ``on_progress(done_s, total_s)`` is called after each chunk (seconds of the file analysed so far, its length).

    Raises
    ------
    UserError
        Unreadable or too short input.
    """
    sr = audio_io.ANALYSIS_RATE
    info = audio_io.probe(path)
    if math.isfinite(info.duration_s) and info.duration_s < cfg.audio.min_duration_s:  # before the model loads
        raise UserError(
            f"{path}: only {info.duration_s:.2f} s of audio; need at least {cfg.audio.min_duration_s:g} s to analyse"
        )
    total = 0
    parts: list[Transcript] = []
    frames: list[tone_analysis.ToneFrames] = []
    for chunk in decoded_chunks(path, cfg, channel):
        total += len(chunk.samples)
        parts.append(transcriber.transcribe(chunk.samples, offset_s=chunk.offset_s))
        step = int(TONE_BLOCK_S * sr)  # the pitch tracker's memory grows with its input: feed it 10 s at a time
        for a in range(0, len(chunk.samples), step):
            frames.append(tone_analysis.measure_frames(chunk.samples[a: a + step], sr, cfg.tone,
                                                       offset_s=chunk.offset_s + a / sr))
        memory.release()  # this chunk's scratch (decoding, pitch tracking) before the next one is decoded
        if on_progress is not None:
            on_progress(chunk.offset_s + len(chunk.samples) / sr, info.duration_s)
    duration_s = total / sr
    if duration_s < cfg.audio.min_duration_s:
        raise UserError(
            f"{path}: only {duration_s:.2f} s of audio; need at least {cfg.audio.min_duration_s:g} s to analyse"
        )
    # the signal stages ran chunk by chunk above (bounded memory); the core scores what they measured
    analysis = analyze_turn(None, CallContext(caller_text=caller_text, baseline=baseline), cfg,
                            transcript=merge(parts), tone_frames=tone_analysis.ToneFrames.concat(frames))
    return AnalysisResult(
        file=str(path),
        duration_s=duration_s if total else info.duration_s,
        transcript=analysis.transcript,
        model=transcriber.model_name,
        model_files=transcriber.model_files,
        channel=channel,
        tone=analysis.tone,
        listening=analysis.listening,
    )
