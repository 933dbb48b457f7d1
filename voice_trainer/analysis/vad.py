"""Voice activity detection: speech segments (seconds) of one mono track.

Three frame scorers share one segmenter (hysteresis + minimum speech + closing silence, see
:class:`~voice_trainer.config.TurnsConfig`):

* ``silero`` (default): the Silero VAD network that faster-whisper bundles in its wheel
  (``faster_whisper/assets/silero_vad_v6.onnx``, run with onnxruntime); no download. Chosen by measurement on a
  real phone call (``bench/eval_turns.py``): it ignores line noise and breaths that an energy threshold takes
  for speech.
* ``energy``: frame RMS above the track's own noise floor; no model, useful as a fallback and a reference.
* ``webrtc``: Google's WebRTC GMM VAD (optional PyPI package ``webrtcvad-wheels``).

Input is float32 mono at 16 kHz (other rates are accepted by ``energy``; ``silero`` and ``webrtc`` need 8 or
16 kHz, and 16 kHz is what :mod:`voice_trainer.audio` delivers). No file or device I/O here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..config import SAMPLE_RATE, TurnsConfig
from ..errors import UserError
from .activity import energy_probabilities, frame_levels_db  # noqa: F401 - part of this module's API

BACKENDS = ("silero", "energy", "webrtc")
SILERO_HOP = 512
"""Silero scores windows of 512 samples (32 ms at 16 kHz)."""


class SpeechSegment(NamedTuple):
    """One stretch of speech on one track, in seconds from the start of the track."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def silero_probabilities(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
    """Silero speech probability per 32 ms window.

    Parameters
    ----------
    audio : np.ndarray
        float32 mono samples in [-1, 1].
    sample_rate : int
        Must be 16000 Hz.

    Returns
    -------
    probs : np.ndarray
        One probability (0-1) per window of 512 samples.
    hop_s : float
        Window length in seconds.
    """
    if sample_rate != SAMPLE_RATE:
        raise UserError(f"the Silero VAD needs 16 kHz audio, got {sample_rate} Hz; resample the track first")
    from faster_whisper.vad import get_vad_model

    from ..model_files import verify

    verify("silero-vad-v6")  # once per process: the bundled ONNX file against the manifest

    x = np.ascontiguousarray(audio, dtype=np.float32)
    if len(x) == 0:
        return np.zeros(0, np.float32), SILERO_HOP / sample_rate
    padded = np.pad(x, (0, (-len(x)) % SILERO_HOP))
    probs = np.asarray(get_vad_model()(padded), dtype=np.float32).reshape(-1)
    return probs, SILERO_HOP / sample_rate


def webrtc_probabilities(audio: np.ndarray, sample_rate: int, *, mode: int = 2) -> tuple[np.ndarray, float]:
    """WebRTC VAD decision (0 or 1) per 30 ms frame. Needs ``pip install webrtcvad-wheels``."""
    try:
        import webrtcvad
    except ImportError:
        raise UserError("the webrtc VAD is not installed; run: pip install 'voice-trainer[webrtc]'") from None
    if sample_rate not in (8000, 16000, 32000, 48000):
        raise UserError(f"the WebRTC VAD needs 8, 16, 32 or 48 kHz audio, got {sample_rate} Hz")
    vad = webrtcvad.Vad(int(mode))
    hop = int(0.03 * sample_rate)
    pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype("<i2")
    n = len(pcm) // hop
    out = np.zeros(n, np.float32)
    for i in range(n):
        out[i] = vad.is_speech(pcm[i * hop : (i + 1) * hop].tobytes(), sample_rate)
    return out, hop / sample_rate


def frame_probabilities(
    audio: np.ndarray, sample_rate: int, config: TurnsConfig | None = None
) -> tuple[np.ndarray, float]:
    """Speech probability per frame from the backend named in ``config.vad_backend``.

    Returns
    -------
    probs : np.ndarray
        Per-frame probability (0-1; the energy and webrtc backends give 0 or 1).
    hop_s : float
        Frame hop in seconds.
    """
    c = config or TurnsConfig()
    if c.vad_backend == "silero":
        return silero_probabilities(audio, sample_rate)
    if c.vad_backend == "energy":
        return energy_probabilities(audio, sample_rate, margin_db=c.energy_margin_db, floor_dbfs=c.energy_floor_dbfs)
    if c.vad_backend == "webrtc":
        return webrtc_probabilities(audio, sample_rate, mode=c.webrtc_mode)
    raise UserError(f"unknown VAD backend {c.vad_backend!r}; choose one of: {', '.join(BACKENDS)}")


def segments_from_probabilities(
    probs: np.ndarray,
    hop_s: float,
    *,
    threshold: float = 0.5,
    neg_threshold: float = 0.35,
    start_s: float = 0.1,
    stop_s: float = 0.3,
    pad_s: float = 0.03,
    duration_s: float | None = None,
) -> list[SpeechSegment]:
    """Turn per-frame speech probabilities into speech segments.

    A segment opens at the first frame with ``p >= threshold`` and stays open while frames have
    ``p >= neg_threshold``; it closes when silence has lasted ``stop_s`` seconds (its end is the last speech
    frame). Segments shorter than ``start_s`` are dropped; each is widened by ``pad_s`` on both sides without
    crossing its neighbours or the track's ends.

    Parameters
    ----------
    probs : np.ndarray
        Probability per frame; frame ``i`` covers ``[i * hop_s, (i + 1) * hop_s)`` seconds.
    hop_s : float
        Frame hop in seconds.
    duration_s : float, optional
        Length of the track (seconds) for clipping; default ``len(probs) * hop_s``.
    """
    p = np.asarray(probs, dtype=np.float32).reshape(-1)
    total = len(p) * hop_s if duration_s is None else duration_s
    stop_frames = max(1, int(round(stop_s / hop_s)))
    raw: list[tuple[int, int]] = []
    in_speech = False
    start = last = 0
    for i, v in enumerate(p):
        if not in_speech:
            if v >= threshold:
                in_speech, start, last = True, i, i
        elif v >= neg_threshold:
            last = i
        elif i - last >= stop_frames:
            raw.append((start, last + 1))
            in_speech = False
    if in_speech:
        raw.append((start, last + 1))
    segs = [(a * hop_s, b * hop_s) for a, b in raw if (b - a) * hop_s >= start_s]
    out: list[SpeechSegment] = []
    for k, (a, b) in enumerate(segs):
        lo = max(0.0, a - pad_s, out[-1].end if out else 0.0)
        hi = min(total, b + pad_s)
        if k + 1 < len(segs):
            hi = min(hi, (b + segs[k + 1][0]) / 2)
        out.append(SpeechSegment(float(lo), float(hi)))
    return out


def speech_segments(
    audio: np.ndarray, sample_rate: int = SAMPLE_RATE, config: TurnsConfig | None = None
) -> list[SpeechSegment]:
    """Speech segments of one mono track (seconds from its start).

    Parameters
    ----------
    audio : np.ndarray
        float32 mono samples in [-1, 1].
    sample_rate : int
        Hz (16000 for the silero backend).
    config : TurnsConfig, optional
        Backend and segmenter thresholds; defaults when None.

    Returns
    -------
    list of SpeechSegment
        Non-overlapping, sorted.
    """
    c = config or TurnsConfig()
    probs, hop_s = frame_probabilities(audio, sample_rate, c)
    binary = c.vad_backend != "silero"
    return segments_from_probabilities(
        probs,
        hop_s,
        threshold=0.5 if binary else c.vad_threshold,
        neg_threshold=0.5 if binary else c.vad_neg_threshold,
        start_s=c.vad_start_s,
        stop_s=c.vad_stop_s,
        pad_s=c.vad_pad_s,
        duration_s=len(audio) / sample_rate,
    )
