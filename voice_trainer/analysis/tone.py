"""Tone analysis: pitch, loudness, spectral tilt and pace, and calmness against the speaker's own baseline.

Pure functions over numpy arrays with the sample rate explicit; nothing here touches devices, files or the CLI.
Three stages, so long recordings are analysed in bounded memory:

1. :func:`measure_frames` turns a chunk of audio into small per-frame arrays (:class:`ToneFrames`, 16 ms hop);
   chunks are joined with :meth:`ToneFrames.concat`.
2. :func:`summarize` turns frames (and Whisper's word timings) into one :class:`ToneMeasures`.
3. :func:`score_calmness` compares measures with a :class:`Baseline` and gives a :class:`ToneResult` whose
   calmness score (0-100) is a list of :class:`~voice_trainer.scoring.Component`.

:func:`analyze_tone` does all three for one utterance; :func:`contagion` judges a whole call.

Pitch comes from swift-f0 (a 135 KB CNN run by onnxruntime, with a calibrated voicing confidence): about 0.05 s
for 10 s of speech, against about 0.8 s for librosa's pYIN (plus seconds of numba compilation on its first call).
``bench/bench_tone.py`` holds the comparison. :func:`warm_up` loads the tracker ahead of the hot path.

Units: levels in dBFS (20 log10 of the RMS of float samples in [-1, 1]: a full-scale sine reads -3 dBFS), pitch
in Hz and pitch differences in semitones (st), pace in words per minute (wpm), times in seconds.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ..config import SAMPLE_RATE, ToneConfig
from . import spectral
from .scoring import Component, Evidence, Score, score_from_components
from .transcript import Word

HOP = 256
"""Frame hop in samples at :data:`SAMPLE_RATE` (16 ms; swift-f0's hop)."""
WIN = 512
"""Analysis window for level and spectral tilt (32 ms), centred on each frame."""
HOP_S = HOP / SAMPLE_RATE
STFT_BLOCK_FRAMES = 4096
"""Frames per STFT block in :func:`measure_frames` (~65 s; about 17 MB of spectrum at a time)."""

TRACKER_PEAK = 0.5
"""The pitch tracker sees each chunk scaled to this peak (pitch and voicing must not depend on gain) ..."""
TRACKER_MAX_GAIN = 1000.0
"""... by at most this factor (+60 dB), so digital silence and hiss are not blown up into "speech"."""

TECHNIQUE_TONE = 4
"""Technique 4 in docs/techniques.md: stay calm and sincere (tone)."""

VOICE_COMPONENTS = ("raised_voice", "raised_pitch", "vocal_effort", "pitch_swings")
"""Components judging the voice itself; without at least one of them there is no calmness score."""

WITHHELD_TIPS = {
    "raised_voice": "Speak your answer aloud, close to the microphone, so your level can be measured.",
    "raised_pitch": "Answer in full, voiced sentences (not a whisper) so your pitch can be judged.",
    "vocal_effort": "Answer in full, voiced sentences (not a whisper) so vocal effort can be judged.",
    "pitch_swings": "Answer in full, voiced sentences (not a whisper) so pitch movement can be judged.",
    "rushed_pace": "Answer in a few full sentences so your pace can be measured.",
}
"""What to do when a component could not be judged."""

NO_BASELINE = (
    "no baseline of your calm voice; run `voice-trainer calibrate` once or pass --baseline CALM.wav"
)


# ---------------------------------------------------------------------------------------------------------------
# Stage 1: frames
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ToneFrames:
    """Per-frame measurements of one stretch of audio (all arrays the same length, one value per 16 ms).

    Attributes
    ----------
    hop_s : float
        Seconds between frames.
    t_s : np.ndarray
        Frame centre times in seconds from the start of the file (float64).
    f0_hz : np.ndarray
        Fundamental frequency in Hz, NaN where the frame is unvoiced (float32).
    voicing : np.ndarray
        The pitch tracker's voicing confidence, 0-1 (float32).
    rms_db : np.ndarray
        Level of the 32 ms around the frame in dBFS (float32).
    tilt_db : np.ndarray
        Alpha ratio: energy in the high band over the low band, dB (float32; NaN for silent frames).
    clipped : np.ndarray
        Number of samples at or above the clip level within the frame's hop (int32, counted at the input rate).
    samples : int
        Number of input samples these frames cover.
    """

    hop_s: float
    t_s: np.ndarray
    f0_hz: np.ndarray
    voicing: np.ndarray
    rms_db: np.ndarray
    tilt_db: np.ndarray
    clipped: np.ndarray
    samples: int = 0

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def voiced(self) -> np.ndarray:
        """Boolean mask of frames with a pitch."""
        return np.isfinite(self.f0_hz)

    @property
    def duration_s(self) -> float:
        return len(self) * self.hop_s

    @classmethod
    def empty(cls, hop_s: float = HOP_S) -> ToneFrames:
        z = np.zeros(0, np.float32)
        return cls(hop_s, np.zeros(0), z, z, z, z, np.zeros(0, np.int32), 0)

    @classmethod
    def concat(cls, parts: Sequence[ToneFrames]) -> ToneFrames:
        """Join the frames of consecutive chunks (their ``t_s`` already in file time)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        hop = parts[0].hop_s
        if any(abs(p.hop_s - hop) > 1e-9 for p in parts):
            raise ValueError("cannot join frames measured with different hops")
        cat = np.concatenate
        return cls(
            hop,
            cat([p.t_s for p in parts]),
            cat([p.f0_hz for p in parts]),
            cat([p.voicing for p in parts]),
            cat([p.rms_db for p in parts]),
            cat([p.tilt_db for p in parts]),
            cat([p.clipped for p in parts]),
            sum(p.samples for p in parts),
        )

    def shifted(self, offset_s: float) -> ToneFrames:
        """A copy with every frame time moved by ``offset_s`` seconds."""
        return ToneFrames(self.hop_s, self.t_s + offset_s, self.f0_hz, self.voicing, self.rms_db, self.tilt_db,
                          self.clipped, self.samples)

    def select(self, start_s: float, end_s: float) -> ToneFrames:
        """The frames whose centre lies in ``[start_s, end_s)`` (e.g. one turn of a call)."""
        m = (self.t_s >= start_s) & (self.t_s < end_s)
        n = int(m.sum())
        return ToneFrames(self.hop_s, self.t_s[m], self.f0_hz[m], self.voicing[m], self.rms_db[m],
                          self.tilt_db[m], self.clipped[m], int(round(n * self.hop_s * SAMPLE_RATE)))


_TRACKER: Any = None
_TRACKER_LOCK = threading.Lock()
_PYIN_WARM = False


def _swift():
    global _TRACKER
    with _TRACKER_LOCK:
        if _TRACKER is None:
            from swift_f0 import SwiftF0

            from ..model_files import verify

            verify("swift-f0")  # its model.onnx against the manifest, before the first load
            _TRACKER = _tracker_without_arena(SwiftF0)
        return _TRACKER


def _tracker_without_arena(swift_cls: Any) -> Any:
    """A ``SwiftF0`` as ``SwiftF0(threads=1, spin=False)`` makes it, but lighter on memory.

    One thread and no spinning: 10 s take ~0.05 s anyway, and the machine is shared with Whisper. Without
    onnxruntime's memory arena each run's buffers are freed when it ends instead of being kept for the next run
    (about 35-60 MiB less held for the rest of the process); without its memory pattern a 10 s block needs +27 MiB
    while it runs instead of +109 MiB. Pitch and confidence stay the same bit for bit (``tests/test_tone.py``).
    """
    import os

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.enable_cpu_mem_arena = False
    opts.enable_mem_pattern = False
    tracker = swift_cls.__new__(swift_cls)  # swift-f0 0.3.0 (pinned): its state is this one session
    tracker.session = ort.InferenceSession(os.path.join(os.path.dirname(sys.modules[swift_cls.__module__].__file__),
                                                        "model.onnx"), opts, providers=["CPUExecutionProvider"])
    return tracker


def warm_up(config: ToneConfig | None = None) -> None:
    """Load the pitch tracker (and for pYIN compile its numba code) now, outside any timed path."""
    config = config or ToneConfig()
    measure_frames(np.zeros(SAMPLE_RATE // 2, np.float32), SAMPLE_RATE, config)
    measure_frames(
        (0.1 * np.sin(2 * np.pi * 150 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)).astype(np.float32),
        SAMPLE_RATE,
        config,
    )


def _track_pitch(y: np.ndarray, n: int, config: ToneConfig) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, every frame) and voicing confidence for ``n`` frames of 16 kHz audio."""
    if config.pitch_tracker == "swift-f0":
        from swift_f0.core import FMAX, FMIN

        fmin = max(config.pitch_fmin_hz, FMIN)
        fmax = min(config.pitch_fmax_hz, FMAX)
        # Voicing must not depend on the microphone gain: swift-f0 zeroes the confidence of frames peaking
        # below -60 dBFS, which drops the quieter half of a quietly recorded voice. Normalise the peak first.
        peak = float(np.max(np.abs(y))) if len(y) else 0.0
        gain = min(TRACKER_MAX_GAIN, TRACKER_PEAK / peak) if peak > 0 else 1.0
        res = _swift().detect(y * np.float32(gain), SAMPLE_RATE, fmin=fmin, fmax=fmax)
        f0, conf = res.pitch_hz, res.confidence
    elif config.pitch_tracker == "pyin":
        import librosa

        f0, _flag, conf = librosa.pyin(
            y, fmin=config.pitch_fmin_hz, fmax=config.pitch_fmax_hz, sr=SAMPLE_RATE, frame_length=1024,
            hop_length=HOP, center=True, fill_na=np.nan,
        )
        f0 = np.where(np.isfinite(f0), f0, 0.0)
    else:
        raise ValueError(f"unknown pitch tracker {config.pitch_tracker!r}; use 'swift-f0' or 'pyin'")
    out_f0 = np.zeros(n)
    out_c = np.zeros(n)
    k = min(n, len(f0))
    out_f0[:k], out_c[:k] = f0[:k], conf[:k]
    return out_f0, out_c


def _periodicity(y: np.ndarray, f0: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Normalized autocorrelation of a 32 ms window at the lag of ``f0`` for the frame indices ``frames``."""
    out = np.zeros(len(frames))
    max_lag = int(SAMPLE_RATE / 40)
    yp = np.pad(y, (WIN, WIN + max_lag))
    for j, i in enumerate(frames):
        lag = int(round(SAMPLE_RATE / f0[i]))
        c = i * HOP + WIN - WIN // 2
        a, b = yp[c : c + WIN], yp[c + lag : c + lag + WIN]
        d = math.sqrt(float(np.dot(a, a)) * float(np.dot(b, b)))
        out[j] = float(np.dot(a, b)) / d if d > 0 else 0.0
    return out


def measure_frames(
    audio: np.ndarray, sr: int, config: ToneConfig | None = None, *, offset_s: float = 0.0
) -> ToneFrames:
    """Measure pitch, level, spectral tilt and clipping for each 16 ms frame of one chunk of audio.

    Parameters
    ----------
    audio : np.ndarray
        Mono samples in [-1, 1], shape (n,).
    sr : int
        Sample rate of ``audio`` in Hz (resampled to 16 kHz internally when different).
    config : ToneConfig, optional
        Tracker and band settings.
    offset_s : float
        Start time of this chunk in the file, seconds (frame times are file times).

    Returns
    -------
    ToneFrames
        ``len(audio) * 16000 / sr // 256`` frames (at least one for non-empty input).
    """
    import soxr

    config = config or ToneConfig()
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {x.shape}")
    if len(x) == 0:
        return ToneFrames.empty()
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    y = x if sr == SAMPLE_RATE else soxr.resample(x, sr, SAMPLE_RATE).astype(np.float32)
    n = max(1, len(y) // HOP)

    f0, conf = _track_pitch(y, n, config)
    in_range = (f0 >= config.pitch_fmin_hz * 0.999) & (f0 <= config.pitch_fmax_hz * 1.001)
    voiced = (conf >= config.voicing_threshold) & in_range
    if config.periodicity_voiced <= 1.0:
        frame_peak = np.abs(np.pad(y, (0, max(0, n * HOP - len(y))))[: n * HOP]).reshape(n, HOP).max(axis=1)
        cand = np.flatnonzero(~voiced & in_range & (frame_peak > 1e-3))
        if len(cand):
            voiced[cand[_periodicity(y, f0, cand) >= config.periodicity_voiced]] = True
    f0_out = np.where(voiced, f0, np.nan).astype(np.float32)

    # Level and alpha ratio from 32 ms windows centred on each frame (the same centres as swift-f0). The STFT
    # runs over blocks of frames so memory stays small whatever the chunk length.
    rms = spectral.rms(y, WIN, HOP)[:n]  # librosa.feature.rms(center=True), bit for bit, without scipy/numba
    if len(rms) < n:
        rms = np.pad(rms, (0, n - len(rms)))
    rms_db = (20.0 * np.log10(np.maximum(rms, 1e-8))).astype(np.float32)
    freqs = spectral.fft_frequencies(SAMPLE_RATE, WIN)
    lo_band = (freqs >= config.tilt_low_band_hz[0]) & (freqs < config.tilt_low_band_hz[1])
    hi_band = (freqs >= config.tilt_high_band_hz[0]) & (freqs < min(config.tilt_high_band_hz[1], SAMPLE_RATE / 2))
    yp = np.pad(y, (WIN // 2, WIN // 2 + n * HOP))  # zero padding, as librosa's centred frames
    e_lo, e_hi = np.zeros(n), np.zeros(n)
    for a in range(0, n, STFT_BLOCK_FRAMES):
        b = min(n, a + STFT_BLOCK_FRAMES)
        seg = yp[a * HOP : (b - 1) * HOP + WIN]
        power = spectral.power_spectrogram(seg, WIN, HOP)  # |librosa.stft(window="hann", center=False)|**2
        e_lo[a:b], e_hi[a:b] = power[lo_band, : b - a].sum(axis=0), power[hi_band, : b - a].sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tilt = np.where((e_lo > 1e-10) & (e_hi > 1e-12), 10.0 * np.log10(e_hi / e_lo), np.nan).astype(np.float32)

    # Clipping counted on the input samples (resampling would smear it), per frame hop.
    hop_in = len(x) / n
    idx = np.flatnonzero(np.abs(x) >= config.clip_level)
    clipped = np.bincount(np.minimum((idx / hop_in).astype(np.int64), n - 1), minlength=n).astype(np.int32)

    t_s = offset_s + np.arange(n) * HOP_S
    return ToneFrames(HOP_S, t_s, f0_out, conf.astype(np.float32), rms_db, tilt, clipped, len(x))


# ---------------------------------------------------------------------------------------------------------------
# Stage 2: summary
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class ToneMeasures:
    """What one utterance (or a baseline recording) sounded like.

    ``None`` means "not measured" (too little voiced speech for pitch and tilt; too few words for pace).

    Attributes
    ----------
    duration_s, active_s, voiced_s : float
        Length of the audio, of its speech frames and of its voiced frames (s).
    voiced_fraction : float or None
        Voiced frames / speech frames.
    pitch_median_hz : float or None
        Median F0 of voiced speech (Hz).
    pitch_range_st : float or None
        Distance between the 5th and 95th F0 percentiles (semitones).
    pitch_sd_st : float or None
        Robust F0 variability: 1.4826 x median absolute deviation (semitones; octave slips barely move it).
    level_dbfs : float or None
        Active speech level: mean power of the speech frames (ITU-T P.56 style gate), dBFS.
    loudness_sd_db : float or None
        Standard deviation of the frame level over speech frames (dB).
    tilt_db : float or None
        Median alpha ratio over voiced speech (dB; higher = more high-frequency energy = more vocal effort).
    clipped_fraction : float
        Share of samples at full scale.
    pace_wpm : float or None
        Words per minute from the first word's start to the last word's end, pauses included.
    articulation_wpm : float or None
        Words per minute of speaking time, pauses excluded.
    n_words, pause_count : int
    longest_pause_s, pause_total_s : float
        Silences of at least ``pause_min_s`` between the first and last word (or speech frame).
    loudest_s, highest_pitch_s : tuple of float or None
        The 1 s window (start, end) with the highest level / the highest median pitch: evidence for feedback.
    loudest_quote, highest_pitch_quote : str
        The words spoken in those windows (empty without words).
    """

    duration_s: float = 0.0
    active_s: float = 0.0
    voiced_s: float = 0.0
    voiced_fraction: float | None = None
    pitch_median_hz: float | None = None
    pitch_range_st: float | None = None
    pitch_sd_st: float | None = None
    level_dbfs: float | None = None
    loudness_sd_db: float | None = None
    tilt_db: float | None = None
    clipped_fraction: float = 0.0
    pace_wpm: float | None = None
    articulation_wpm: float | None = None
    n_words: int = 0
    pause_count: int = 0
    longest_pause_s: float = 0.0
    pause_total_s: float = 0.0
    loudest_s: tuple[float, float] | None = None
    highest_pitch_s: tuple[float, float] | None = None
    loudest_quote: str = ""
    highest_pitch_quote: str = ""

    @property
    def pitch_reliable(self) -> bool:
        return self.pitch_median_hz is not None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, float):
                v = round(v, 4 if k == "clipped_fraction" else 3)
            elif isinstance(v, tuple | list):
                v = [round(float(a), 3) for a in v]
            out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ToneMeasures:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, missing ones take defaults."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in d:
                v = d[f.name]
                if f.name in ("loudest_s", "highest_pitch_s") and v is not None:
                    v = (float(v[0]), float(v[1]))
                elif f.name in ("n_words", "pause_count"):
                    v = int(v)
                elif f.name.endswith("_quote"):
                    v = str(v or "")
                elif v is not None:
                    v = float(v)
                kw[f.name] = v
        return cls(**kw)


def active_frames(rms_db: np.ndarray, config: ToneConfig | None = None) -> tuple[np.ndarray, float | None]:
    """Speech frames by an ITU-T P.56 style gate, and the active speech level.

    The level is the mean power of the frames no more than ``activity_margin_db`` below it (found by fixed-point
    iteration), so it does not depend on how much silence surrounds the speech.

    Returns
    -------
    mask : np.ndarray of bool
    level_dbfs : float or None
        None when no frame is above ``silence_floor_dbfs``.
    """
    config = config or ToneConfig()
    r = np.asarray(rms_db, dtype=np.float64)
    loud = r > config.silence_floor_dbfs
    if not loud.any():
        return np.zeros(len(r), bool), None
    p = 10.0 ** (r / 10.0)
    level = 10.0 * math.log10(p[loud].mean())
    mask = loud
    for _ in range(20):
        mask = loud & (r >= level - config.activity_margin_db)
        new = 10.0 * math.log10(p[mask].mean())
        if abs(new - level) < 0.01:
            level = new
            break
        level = new
    return mask, level


def _window_max(values: np.ndarray, t_s: np.ndarray, hop_s: float) -> tuple[float, float] | None:
    """The 1 s window (start, end) where ``values`` (NaN = missing) is highest on average/median."""
    n = max(1, int(round(1.0 / hop_s)))
    ok = np.isfinite(values)
    if ok.sum() < max(3, n // 4):
        return None
    v = np.where(ok, values, 0.0)
    if len(v) <= n:
        return (float(t_s[0] - hop_s / 2), float(t_s[-1] + hop_s / 2))
    kernel = np.ones(n)
    s = np.convolve(v, kernel, "valid")
    c = np.convolve(ok.astype(float), kernel, "valid")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(c >= n // 4, s / np.maximum(c, 1), -np.inf)
    i = int(np.argmax(mean))
    return (float(t_s[i] - hop_s / 2), float(t_s[i + n - 1] + hop_s / 2))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of True runs."""
    if not len(mask):
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def _quote(words: Sequence[Word], window: tuple[float, float] | None) -> str:
    """The words overlapping ``window`` (seconds)."""
    if window is None:
        return ""
    return " ".join(w.word for w in words if w.end > window[0] and w.start < window[1])


def summarize(frames: ToneFrames, words: Sequence[Word] = (), config: ToneConfig | None = None) -> ToneMeasures:
    """Summarize frames (and word timings) into the measures calmness is judged on.

    Parameters
    ----------
    frames : ToneFrames
        From :func:`measure_frames` (joined over chunks).
    words : sequence of Word
        Whisper's words with timings (s, the same clock as ``frames.t_s``); empty means pace is not measured.
    config : ToneConfig, optional

    Returns
    -------
    ToneMeasures
    """
    config = config or ToneConfig()
    m = ToneMeasures()
    hop = frames.hop_s
    m.duration_s = len(frames) * hop
    if not len(frames):
        return m
    active, level = active_frames(frames.rms_db, config)
    m.active_s = float(active.sum() * hop)
    voiced = frames.voiced & active
    m.voiced_s = float(voiced.sum() * hop)
    if active.any():
        m.voiced_fraction = float(voiced.sum() / active.sum())
        m.level_dbfs = level
        m.loudness_sd_db = float(np.std(frames.rms_db[active]))
        m.loudest_s = _window_max(np.where(active, frames.rms_db, np.nan), frames.t_s, hop)
    if frames.samples:
        m.clipped_fraction = float(frames.clipped.sum() / frames.samples)

    if m.voiced_s >= config.min_voiced_s:
        f0 = frames.f0_hz[voiced].astype(np.float64)
        st = 12.0 * np.log2(f0)
        med = float(np.median(st))
        lo, hi = np.percentile(st, config.pitch_range_percentiles)
        m.pitch_median_hz = float(2.0 ** (med / 12.0))
        m.pitch_range_st = float(hi - lo)
        m.pitch_sd_st = float(1.4826 * np.median(np.abs(st - med)))
        tilt = frames.tilt_db[voiced]
        tilt = tilt[np.isfinite(tilt)]
        if len(tilt):
            m.tilt_db = float(np.median(tilt))
        st_all = np.where(voiced, 12.0 * np.log2(np.where(voiced, frames.f0_hz, 1.0)), np.nan)
        m.highest_pitch_s = _window_max(st_all, frames.t_s, hop)

    # Pauses: runs of non-speech frames inside the speech span (the words' span when there are words).
    ws = list(words)
    if ws:
        span0, span1 = ws[0].start, ws[-1].end
    elif active.any():
        idx = np.flatnonzero(active)
        span0, span1 = frames.t_s[idx[0]] - hop / 2, frames.t_s[idx[-1]] + hop / 2
    else:
        span0 = span1 = 0.0
    inside = (frames.t_s >= span0) & (frames.t_s < span1)
    pauses = [(b - a) * hop for a, b in _runs(inside & ~active) if (b - a) * hop >= config.pause_min_s]
    m.pause_count = len(pauses)
    m.pause_total_s = float(sum(pauses))
    m.longest_pause_s = float(max(pauses, default=0.0))

    m.n_words = len(ws)
    m.loudest_quote = _quote(ws, m.loudest_s)
    m.highest_pitch_quote = _quote(ws, m.highest_pitch_s)
    span = span1 - span0
    if len(ws) >= config.min_words_for_pace and span >= config.min_span_for_pace_s:
        m.pace_wpm = 60.0 * len(ws) / span
        speaking = span - m.pause_total_s
        if speaking > 0:
            m.articulation_wpm = 60.0 * len(ws) / speaking
    return m


# ---------------------------------------------------------------------------------------------------------------
# Stage 3: calmness against a baseline
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Baseline:
    """The trainee's calm voice that tone is judged against.

    Attributes
    ----------
    measures : ToneMeasures
    kind : str
        ``profile`` (from ``voice-trainer calibrate``), ``recording`` (a calm WAV given with --baseline) or
        ``session`` (the session's first turn(s)).
    source : str
        Where it came from (a path, or e.g. "turns 1-1").
    """

    measures: ToneMeasures
    kind: str
    source: str = ""
    turns: tuple[int, ...] = ()
    """For a ``session`` baseline: the (0-based) turns it was made from, which are not judged against it."""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "measures": self.measures.to_dict()}


@dataclass
class ToneResult:
    """Calmness of one utterance and the measures behind it."""

    calmness: Score
    measures: ToneMeasures
    baseline: Baseline | None = None
    notes: list[str] = field(default_factory=list)
    calmness_withheld: str | None = None
    """Why there is no calmness score (no baseline, or no judged voice component), else None."""

    def deltas(self) -> dict[str, float | None]:
        """Differences from the baseline: pitch in semitones, level and tilt in dB, pace as a ratio."""
        b = self.baseline.measures if self.baseline else None
        m = self.measures

        def diff(a: float | None, c: float | None) -> float | None:
            return None if a is None or c is None else a - c

        return {
            "pitch_st": None
            if b is None or m.pitch_median_hz is None or b.pitch_median_hz is None
            else 12.0 * math.log2(m.pitch_median_hz / b.pitch_median_hz),
            "pitch_range_st": diff(m.pitch_range_st, b.pitch_range_st) if b else None,
            "pitch_sd_st": diff(m.pitch_sd_st, b.pitch_sd_st) if b else None,
            "level_db": diff(m.level_dbfs, b.level_dbfs) if b else None,
            "tilt_db": diff(m.tilt_db, b.tilt_db) if b else None,
            "pace_ratio": None if b is None or not m.pace_wpm or not b.pace_wpm else m.pace_wpm / b.pace_wpm,
        }

    def to_dict(self) -> dict:
        m = self.measures

        def r(x: float | None, nd: int = 2) -> float | None:
            return None if x is None else round(float(x), nd)

        return {
            "calmness": r(self.calmness.value, 1),
            "calmness_withheld": self.calmness_withheld,
            "components": [c.to_dict() for c in self.calmness.components],
            "pitch_median_hz": r(m.pitch_median_hz, 1),
            "pitch_range_st": r(m.pitch_range_st),
            "loudness_dbfs": r(m.level_dbfs),
            "pace_wpm": r(m.pace_wpm, 1),
            "baseline": self.baseline.to_dict() if self.baseline else {"kind": "none", "source": "", "measures": None},
            "deltas": {k: r(v, 3) for k, v in self.deltas().items()},
            "measures": m.to_dict(),
            "notes": list(self.notes),
        }


def _ramp(excess: float, ok: float, full: float) -> float:
    """Share of points kept: 1 up to ``ok``, 0 from ``full``, linear in between."""
    if excess <= ok:
        return 1.0
    if excess >= full:
        return 0.0
    return 1.0 - (excess - ok) / (full - ok)


def _pace_text(m: ToneMeasures) -> str:
    return f"{m.n_words} words, {m.pause_count} pauses (longest {m.longest_pause_s:.1f} s)"


def _ev(value: float, window: tuple[float, float] | None, quote: str = "") -> list[Evidence]:
    if window is None:
        return [Evidence(text=quote, value=value)]
    return [Evidence(text=quote, start=window[0], end=window[1], value=value)]


def _comparable(comp: Component, value: float | None, base: float | None, has_baseline: bool, what: str,
                missing: str, base_missing: str) -> bool:
    """Whether a baseline-relative component can be judged; if not, mark it withheld with the reason."""
    if not has_baseline:
        comp.withheld, comp.value = NO_BASELINE, value
        comp.tip = f"Record your calm voice once so {what} can be compared with it."
    elif value is None:
        comp.withheld = missing
    elif base is None:
        comp.withheld = base_missing
    else:
        return True
    return False


SELF_BASELINE = "this turn set your calm baseline, so it is not judged against itself"
"""Why calmness is withheld for a turn the session's baseline was made from."""


@dataclass(frozen=True)
class _RelativeSpec:
    """One baseline-relative calmness component: which measure, how far above the baseline costs points, and
    what the trainee is told. ``limit`` names the ``ToneConfig`` threshold (``limit``) and its ``_full`` value."""

    id: str
    label: str
    unit: str
    measure: str
    what: str
    limit: str
    evidence: str
    """``loudest`` or ``highest_pitch``: which moment of the utterance is quoted."""
    tip_high: str
    tip_ok: str
    voiced: bool = True
    """Needs voiced speech (pitch, tilt); else just speech (level)."""
    semitones: bool = False
    """The measure is in Hz and is compared in semitones (pitch)."""


RELATIVE_COMPONENTS = (
    _RelativeSpec(
        "raised_voice", "Raised voice", "dBFS", "level_dbfs", "loudness", "raised_voice_db", "loudest",
        "You were {d:+.1f} dB against your calm voice; when the caller gets louder, answer at your normal "
        "level and let them hear the contrast.",
        "Level stayed near your calm voice ({d:+.1f} dB); keep it there even when the caller shouts.",
        voiced=False),
    _RelativeSpec(
        "raised_pitch", "Raised pitch", "Hz", "pitch_median_hz", "your pitch", "raised_pitch_st", "highest_pitch",
        "Your pitch sat {d:+.1f} semitones above your calm voice; breathe out and drop back to your "
        "resting pitch before the next sentence.",
        "Pitch stayed near your calm voice ({d:+.1f} st): a steady, low voice reads as in control.",
        semitones=True),
    _RelativeSpec(
        "vocal_effort", "Strained voice (spectral tilt)", "dB", "tilt_db", "vocal effort", "vocal_effort_db",
        "loudest",
        "Your voice carried {d:+.1f} dB more high-frequency energy than when calm, a sign of pushing; "
        "relax the throat and speak from the breath, not the volume.",
        "Vocal effort stayed at your calm level: the caller hears steadiness, not strain."),
    _RelativeSpec(
        "pitch_swings", "Pitch swings", "st", "pitch_sd_st", "pitch movement", "pitch_swings_st", "highest_pitch",
        "Your pitch moved {d:+.1f} st more than when calm; keep sentences level and even, without sharp "
        "rises that can sound agitated or sarcastic.",
        "Pitch movement was as even as your calm voice: sincere without sounding flat."),
)
"""The baseline-relative calmness components, in the order they are reported (pace follows)."""


def _relative_component(spec: _RelativeSpec, m: ToneMeasures, b: ToneMeasures | None, c: ToneConfig
                        ) -> Component:
    """Score one baseline-relative component, or withhold it with the reason."""
    weight = getattr(c, f"weight_{spec.id}")
    comp = Component(spec.id, spec.label, 0.0, weight, unit=spec.unit, technique=TECHNIQUE_TONE)
    value, base = getattr(m, spec.measure), getattr(b, spec.measure) if b is not None else None
    if spec.voiced:
        missing = f"only {m.voiced_s:.2f} s of voiced speech (need {c.min_voiced_s:g} s) to judge pitch reliably"
        base_missing = f"the baseline has too little voiced speech (need {c.min_voiced_s:g} s)"
    else:
        missing, base_missing = "no speech found to measure the level", "the baseline holds no speech"
    if not _comparable(comp, value, b and base, b is not None, spec.what, missing, base_missing):
        return comp
    limit, full = getattr(c, spec.limit), getattr(c, _full_name(spec.limit))
    if spec.semitones:
        d = 12.0 * math.log2(value / base)
        comp.threshold = base * 2.0 ** (limit / 12.0)
    else:
        d = value - base
        comp.threshold = base + limit
    comp.value, comp.baseline = value, base
    comp.points = weight * _ramp(d, limit, full)
    comp.evidence = _ev(d, getattr(m, f"{spec.evidence}_s"), getattr(m, f"{spec.evidence}_quote"))
    comp.tip = (spec.tip_high if d > limit else spec.tip_ok).format(d=d)
    return comp


def _full_name(limit: str) -> str:
    """``raised_voice_db`` -> ``raised_voice_full_db``: the ToneConfig value at which all points are lost."""
    stem, unit = limit.rsplit("_", 1)
    return f"{stem}_full_{unit}"


def _pace_component(m: ToneMeasures, b: ToneMeasures | None, c: ToneConfig) -> Component:
    """Rushed pace: against the baseline's pace, else against the 120-160 wpm guideline."""
    comp = Component("rushed_pace", "Rushed pace", 0.0, c.weight_rushed_pace, unit="wpm", technique=TECHNIQUE_TONE)
    if m.pace_wpm is None:
        comp.withheld = (
            f"only {m.n_words} words (need {c.min_words_for_pace}) over at least {c.min_span_for_pace_s:g} s "
            "to measure pace"
        )
    elif b is not None and b.pace_wpm:
        ratio = m.pace_wpm / b.pace_wpm
        comp.value, comp.baseline, comp.threshold = m.pace_wpm, b.pace_wpm, b.pace_wpm * c.rushed_pace_ratio
        comp.points = c.weight_rushed_pace * _ramp(ratio, c.rushed_pace_ratio, c.rushed_pace_full_ratio)
        comp.evidence = [Evidence(text=_pace_text(m), value=m.pace_wpm)]
        comp.tip = (
            f"You spoke {100 * (ratio - 1):.0f}% faster than your calm pace; slow down and leave a short pause "
            "after each point so the caller can follow."
            if ratio > c.rushed_pace_ratio
            else "Your pace matched your calm voice: unhurried speech tells the caller there is time for them."
        )
    else:
        # Population guideline (techniques.md: roughly 120-160 wpm) - honest without a personal baseline.
        comp.value, comp.threshold = m.pace_wpm, c.pace_max_wpm
        comp.points = c.weight_rushed_pace * _ramp(m.pace_wpm, c.pace_max_wpm, c.pace_full_wpm)
        comp.evidence = [Evidence(text=_pace_text(m), value=m.pace_wpm)]
        comp.tip = (
            f"{m.pace_wpm:.0f} wpm is faster than the 120-160 wpm that sounds calm; slow down and pause between "
            "points."
            if m.pace_wpm > c.pace_max_wpm
            else f"{m.pace_wpm:.0f} wpm is within a calm, unhurried pace."
        )
    return comp


def score_calmness(
    measures: ToneMeasures, baseline: Baseline | None = None, config: ToneConfig | None = None
) -> ToneResult:
    """Score calmness 0-100 against the speaker's own calm voice.

    Components (points lost linearly between each threshold and its ``_full`` value in ``ToneConfig``):

    * ``raised_voice`` - active speech level above the baseline (dB);
    * ``raised_pitch`` - median F0 above the baseline (semitones);
    * ``vocal_effort`` - spectral tilt (alpha ratio) above the baseline (dB): a strained or raised voice shows
      here even when a phone's gain control flattens loudness;
    * ``pitch_swings`` - F0 variability above the baseline (semitones);
    * ``rushed_pace`` - pace above the baseline's (ratio); without a baseline pace, above the 120-160 wpm
      guideline.

    Withheld (left out of the score, never zeroed): pitch and tilt components when either side has too little
    voiced speech; every level/pitch/tilt component when there is no baseline (absolute Hz or dB say nothing
    about a particular voice); pace when there are too few words.

    Parameters
    ----------
    measures : ToneMeasures
        The utterance, from :func:`summarize`.
    baseline : Baseline, optional
        The trainee's calm voice.
    config : ToneConfig, optional

    Returns
    -------
    ToneResult
    """
    c = config or ToneConfig()
    m = measures
    b = baseline.measures if baseline else None
    comps = [_relative_component(spec, m, b, c) for spec in RELATIVE_COMPONENTS]
    comps.append(_pace_component(m, b, c))

    for comp in comps:
        if comp.withheld and not comp.tip:
            comp.tip = WITHHELD_TIPS[comp.id]

    notes: list[str] = []
    if baseline is None:
        notes.append("baseline: none - level, pitch, effort and swings are withheld and so is calmness; pace is "
                     "judged against 120-160 wpm")
    if m.clipped_fraction > c.clipped_note_fraction:
        notes.append(f"{100 * m.clipped_fraction:.1f}% of samples are clipped: lower the microphone gain; "
                     "loudness may read low")
    if m.voiced_fraction is not None and m.voiced_fraction < c.unvoiced_note_fraction and m.active_s > 0:
        notes.append("little of the speech was voiced (whisper, noise or music?); pitch measures may be withheld")
    score = score_from_components(comps)
    withheld = None
    voice = [x for x in comps if x.id in VOICE_COMPONENTS and x.withheld is None]
    if not voice:
        # Pace alone does not make a calmness score: the voice itself was not judged.
        withheld = NO_BASELINE if b is None else "too little speech to judge the voice"
        score = Score(None, comps)
    return ToneResult(score, m, baseline, notes, withheld)


def analyze_tone(
    audio: np.ndarray,
    sr: int,
    words: Sequence[Word] = (),
    baseline: Baseline | None = None,
    config: ToneConfig | None = None,
) -> ToneResult:
    """Measure, summarize and score one utterance (``measure_frames`` -> ``summarize`` -> ``score_calmness``).

    Parameters
    ----------
    audio : np.ndarray
        Mono samples in [-1, 1].
    sr : int
        Sample rate in Hz.
    words : sequence of Word
        Word timings in seconds from the start of ``audio`` (for pace); may be empty.
    baseline : Baseline, optional
    config : ToneConfig, optional
    """
    config = config or ToneConfig()
    return score_calmness(summarize(measure_frames(audio, sr, config), words, config), baseline, config)


def baseline_from_audio(
    audio: np.ndarray, sr: int, words: Sequence[Word] = (), *, kind: str = "recording", source: str = "",
    config: ToneConfig | None = None,
) -> Baseline:
    """A :class:`Baseline` from a recording of the trainee's calm voice."""
    config = config or ToneConfig()
    return Baseline(summarize(measure_frames(audio, sr, config), words, config), kind, source)


def baseline_turn_indices(
    turn_frames: Sequence[ToneFrames], turn_words: Sequence[Sequence[Word]], config: ToneConfig | None = None
) -> list[int]:
    """Indices (0-based) of the turns :func:`session_baseline` builds the baseline from."""
    config = config or ToneConfig()
    picked: list[int] = []
    for i, fr in enumerate(turn_frames):
        if len(picked) >= config.baseline_turns:
            break
        if summarize(fr, turn_words[i] if i < len(turn_words) else (), config).pitch_median_hz is not None:
            picked.append(i)
    return picked


def withhold_as_baseline(result: ToneResult, reason: str = SELF_BASELINE) -> ToneResult:
    """The tone of a turn that is itself (part of) the calm baseline: measured, but not scored.

    Judging a turn against a baseline made from that same turn would always give about 100; the measures stay
    (they are what later turns are compared with), every component is withheld with ``reason``.
    """
    for comp in result.calmness.components:
        if comp.withheld is None:
            comp.withheld, comp.points = reason, 0.0
    return ToneResult(Score(None, result.calmness.components), result.measures, result.baseline,
                      [*result.notes, reason], reason)


def session_baseline(
    turn_frames: Sequence[ToneFrames], turn_words: Sequence[Sequence[Word]], config: ToneConfig | None = None
) -> Baseline | None:
    """Without a profile: the first ``baseline_turns`` turns with enough voiced speech form the baseline.

    Returns None when no turn has ``min_voiced_s`` of voiced speech.
    """
    config = config or ToneConfig()
    picked = baseline_turn_indices(turn_frames, turn_words, config)
    if not picked:
        return None
    frames = ToneFrames.concat([turn_frames[i] for i in picked])
    words: list[Word] = []
    for i in picked:
        words.extend(turn_words[i] if i < len(turn_words) else ())
    # Pace over several turns would count the gaps between turns; use the first picked turn's words only then.
    m = summarize(frames, words if len(picked) == 1 else (), config)
    if len(picked) > 1:
        m.pace_wpm = summarize(turn_frames[picked[0]], turn_words[picked[0]], config).pace_wpm
    label = f"turn {picked[0] + 1}" if len(picked) == 1 else "turns " + ", ".join(str(i + 1) for i in picked)
    return Baseline(m, "session", label, tuple(picked))


# ---------------------------------------------------------------------------------------------------------------
# Tone contagion over a call
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Contagion:
    """Whether the trainee's loudness and pitch rose with the caller's level over a call.

    Attributes
    ----------
    n_turns : int
        Turns with both a trainee level and a caller level.
    loudness_r, pitch_r : float or None
        Pearson correlation of the trainee's level (dB) / median pitch (st) with the caller's level.
    loudness_rise_db, pitch_rise_st : float or None
        Fitted change of the trainee's level / pitch from the calmest to the angriest caller turn.
    detected : bool or None
        True when either rose with the caller; None when withheld.
    withheld : str or None
    """

    n_turns: int
    loudness_r: float | None = None
    loudness_rise_db: float | None = None
    pitch_r: float | None = None
    pitch_rise_st: float | None = None
    detected: bool | None = None
    withheld: str | None = None
    tip: str = ""

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(float(x), 3)

        return {
            "n_turns": self.n_turns,
            "loudness_r": r(self.loudness_r),
            "loudness_rise_db": r(self.loudness_rise_db),
            "pitch_r": r(self.pitch_r),
            "pitch_rise_st": r(self.pitch_rise_st),
            "detected": self.detected,
            "withheld": self.withheld,
            "technique": TECHNIQUE_TONE,
            "tip": self.tip,
        }

    def component(self, weight: float = 20.0) -> Component:
        """The finding as a score component (all points lost when contagion is detected)."""
        return Component(
            "tone_contagion", "Tone contagion", 0.0 if self.detected else weight, weight,
            value=self.loudness_rise_db, unit="dB", technique=TECHNIQUE_TONE, tip=self.tip, withheld=self.withheld,
            evidence=[Evidence(value=self.loudness_rise_db)] if self.loudness_rise_db is not None else [],
        )


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
    """Pearson r and the fitted rise of y across the range of x."""
    if len(x) < 2 or np.ptp(x) <= 0:
        return None, None
    slope = float(np.polyfit(x, y, 1)[0])
    rise = slope * float(np.ptp(x))
    r = None if np.ptp(y) <= 0 else float(np.corrcoef(x, y)[0, 1])
    return r, rise


def contagion(
    agent_turns: Sequence[ToneMeasures], caller_levels: Sequence[float | None], config: ToneConfig | None = None
) -> Contagion:
    """Did the trainee's loudness and pitch rise with the caller's anger over a call?

    Parameters
    ----------
    agent_turns : sequence of ToneMeasures
        The trainee's turns, in order.
    caller_levels : sequence of float or None
        For each trainee turn, the caller's level just before it: anger 0-100, or the caller's own loudness (dB)
        or pitch; only its ordering and spread matter. None skips the turn.
    config : ToneConfig, optional

    Returns
    -------
    Contagion
        Withheld with fewer than ``contagion_min_turns`` usable turns or when the caller's level never changed.
    """
    c = config or ToneConfig()
    if len(agent_turns) != len(caller_levels):
        raise ValueError("agent_turns and caller_levels must have the same length")
    turns = list(zip(agent_turns, caller_levels, strict=True))
    pairs_l = [(float(cl), t.level_dbfs) for t, cl in turns if cl is not None and t.level_dbfs is not None]
    pairs_p = [
        (float(cl), 12.0 * math.log2(t.pitch_median_hz))
        for t, cl in turns
        if cl is not None and t.pitch_median_hz is not None
    ]
    out = Contagion(n_turns=len(pairs_l))
    if len(pairs_l) < c.contagion_min_turns:
        out.withheld = f"only {len(pairs_l)} turns with speech (need {c.contagion_min_turns}) to see a trend"
        return out
    xl, yl = (np.array(v) for v in zip(*pairs_l, strict=True))
    if np.ptp(xl) <= 0:
        out.withheld = "the caller's level did not change over the call"
        return out
    out.loudness_r, out.loudness_rise_db = _fit(xl, yl)
    if len(pairs_p) >= c.contagion_min_turns:
        xp, yp = (np.array(v) for v in zip(*pairs_p, strict=True))
        out.pitch_r, out.pitch_rise_st = _fit(xp, yp)
    loud = (out.loudness_r or 0.0) >= c.contagion_min_r and (out.loudness_rise_db or 0.0) >= c.contagion_rise_db
    pitch = (out.pitch_r or 0.0) >= c.contagion_min_r and (out.pitch_rise_st or 0.0) >= c.contagion_rise_st
    out.detected = loud or pitch
    if out.detected:
        what = " and ".join(
            s for s, on in (
                (f"your level rose {out.loudness_rise_db:+.1f} dB", loud),
                (f"your pitch rose {out.pitch_rise_st:+.1f} st", pitch),
            ) if on
        )
        out.tip = f"As the caller got angrier, {what}: keep your own voice as the anchor and do not match theirs."
    else:
        out.tip = "Your voice did not climb with the caller's anger: that steadiness helps them calm down."
    return out
