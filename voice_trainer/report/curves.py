"""Curves for the report's plots: waveform envelopes, pitch and loudness of the trainee's track.

Pure functions: numpy arrays in (sample rate explicit), small lists out. Pitch and level come from
:func:`voice_trainer.tone.measure_frames`, the same measurement the calmness score is made of.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..analysis.tone import active_frames, measure_frames
from ..config import Config


@dataclass
class TurnCurves:
    """What one turn's plot draws (times in seconds on the audio's clock).

    Attributes
    ----------
    duration_s : float
    env_t : list of float
        Bin centres of the envelopes.
    caller_env, agent_env : list of float
        Peak absolute amplitude per bin (0-1).
    pitch : list of (t, Hz or None)
        The trainee's pitch per point (None: unvoiced).
    level : list of (t, dBFS or None)
        The trainee's level per point, smoothed in power (None: not speech).
    """

    duration_s: float
    env_t: list[float] = field(default_factory=list)
    caller_env: list[float] = field(default_factory=list)
    agent_env: list[float] = field(default_factory=list)
    pitch: list[tuple[float, float | None]] = field(default_factory=list)
    level: list[tuple[float, float | None]] = field(default_factory=list)


def envelope(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Peak absolute amplitude of ``x`` in ``n_bins`` equal bins (shorter input: one bin per sample)."""
    x = np.abs(np.asarray(x, np.float32))
    if len(x) == 0:
        return np.zeros(0, np.float32)
    n = max(1, min(n_bins, len(x)))
    edges = np.linspace(0, len(x), n + 1).astype(int)
    return np.maximum.reduceat(x, edges[:-1])


def _thin(n: int, k: int) -> np.ndarray:
    """Indices of at most ``k`` evenly spread items of ``n``."""
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(int)


def turn_curves(caller: np.ndarray, agent: np.ndarray, sr: int, cfg: Config | None = None,
                offset_s: float = 0.0) -> TurnCurves:
    """Envelopes of both tracks and the trainee's pitch and smoothed level.

    Parameters
    ----------
    caller, agent : np.ndarray
        Mono float tracks in [-1, 1], same clock.
    sr : int
        Sample rate in Hz.
    cfg : Config, optional
        ``report.curve_points``, ``report.loudness_smooth_s`` and the tone section.
    offset_s : float
        Time of the first sample (a stretch of a longer recording).
    """
    cfg = cfg or Config()
    n_pts = max(10, int(cfg.report.curve_points))
    dur = max(len(caller), len(agent)) / sr
    out = TurnCurves(duration_s=dur)
    ce, ae = envelope(caller, n_pts), envelope(agent, n_pts)
    m = max(len(ce), len(ae))
    out.env_t = [round(offset_s + (i + 0.5) * dur / m, 3) for i in range(m)] if m else []
    out.caller_env = [round(float(v), 4) for v in np.pad(ce, (0, m - len(ce)))]
    out.agent_env = [round(float(v), 4) for v in np.pad(ae, (0, m - len(ae)))]
    if len(agent) == 0 or not np.any(agent):
        return out
    fr = measure_frames(np.asarray(agent, np.float32), sr, cfg.tone, offset_s=offset_s)
    if len(fr) == 0:
        return out
    speech, _ = active_frames(fr.rms_db, cfg.tone)
    k = max(1, int(round(cfg.report.loudness_smooth_s / fr.hop_s)))
    power = 10.0 ** (fr.rms_db.astype(np.float64) / 10.0)
    smooth = np.convolve(power, np.ones(k) / k, mode="same")
    level = 10.0 * np.log10(np.maximum(smooth, 1e-12))
    idx = _thin(len(fr), n_pts)
    out.pitch = [(round(float(fr.t_s[i]), 3), None if not np.isfinite(fr.f0_hz[i]) else round(float(fr.f0_hz[i]), 1))
                 for i in idx]
    out.level = [(round(float(fr.t_s[i]), 3), round(float(level[i]), 2) if speech[i] else None) for i in idx]
    return out


def frame_levels_db(x: np.ndarray, sr: int, hop_s: float = 0.01) -> np.ndarray:
    """RMS level (dBFS) of ``x`` in consecutive frames of ``hop_s`` seconds (the last partial frame dropped)."""
    hop = max(1, int(round(hop_s * sr)))
    n = len(x) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    fr = np.asarray(x[: n * hop], np.float64).reshape(n, hop)
    return (10.0 * np.log10(np.maximum(np.mean(fr * fr, axis=1), 1e-12))).astype(np.float32)


def speech_start_times(words: list[dict], agent: np.ndarray, sr: int, *, offset_s: float = 0.0,
                       floor_db: float = 30.0, hop_s: float = 0.01) -> list[float | None]:
    """Each word's start moved onto the trainee's voice.

    Whisper often lets the first word after a silence begin in that silence (a few tenths of a second early),
    so a click on it lands in the caller's speech or in silence. A word whose start frame is quieter than
    ``floor_db`` below the track's loudest frame starts instead at its first frame above that level (if any
    lies before the word's end); other words keep their start. Starts only ever move later.

    Parameters
    ----------
    words : list of dict
        ``{"word", "start", "end"}`` in seconds on the audio's clock.
    agent : np.ndarray
        The trainee's track (mono float), starting at ``offset_s``.
    sr : int
        Sample rate in Hz.
    offset_s : float
        Time of ``agent``'s first sample (s).
    floor_db : float
        How far below the loudest frame (dB) a frame still counts as voice.
    hop_s : float
        Frame length (s).

    Returns
    -------
    list of float or None
        The start of each word (None where the word has no numeric times).
    """
    db = frame_levels_db(agent, sr, hop_s)
    voiced = db > (float(db.max()) - floor_db) if len(db) else np.zeros(0, bool)
    out: list[float | None] = []
    for w in words:
        s, e = w.get("start"), w.get("end")
        if not isinstance(s, int | float) or not isinstance(e, int | float):
            out.append(None)
            continue
        a, b = int((s - offset_s) / hop_s), int(np.ceil((e - offset_s) / hop_s))
        if not len(voiced) or a < 0 or a >= len(voiced) or voiced[a]:
            out.append(float(s))
            continue
        hit = np.flatnonzero(voiced[a:max(a, min(b, len(voiced)))])
        out.append(float(s) if not len(hit) else round(offset_s + (a + int(hit[0])) * hop_s, 3))
    return out
