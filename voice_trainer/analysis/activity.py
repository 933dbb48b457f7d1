"""Speech activity by frame energy: the one energy detector behind voice activity, end of turn and barge-in.

* :func:`frame_levels_db` - RMS level per frame (dBFS), the measure every energy decision uses;
* :func:`energy_probabilities` - the ``energy`` backend of :func:`voice_trainer.analysis.vad.speech_segments`
  (a whole track against its own noise floor);
* :class:`EnergyEndpointer` - live end of turn: speech, then enough silence (a growing answer, frame by frame);
* :class:`BargeInDetector` - live barge-in: the trainee talking over the caller, after the caller's echo is
  removed (the echo estimate is made here once the reference has sounded long enough).

Pure: numpy arrays in, decisions out; thresholds from ``PracticeConfig``, ``SessionConfig`` and ``TurnsConfig``.
"""

from __future__ import annotations

import math

import numpy as np

from ..config import SAMPLE_RATE, Config, PracticeConfig
from .echo import EchoEstimate, estimate_echo, suppress_echo

SR = SAMPLE_RATE
FRAME = SR // 50  # 20 ms


def frame_levels_db(audio: np.ndarray, sample_rate: int, *, frame_s: float = 0.02, hop_s: float | None = None
                    ) -> np.ndarray:
    """RMS level (dBFS) of each frame of ``frame_s`` seconds, every ``hop_s`` seconds (default: no overlap).

    Frames start at 0, ``hop``, ``2 hop``...; a last partial frame is left out. Digital silence gives -120 dB.
    """
    win = max(1, int(round(frame_s * sample_rate)))
    hop = max(1, int(round((hop_s or frame_s) * sample_rate)))
    x = np.asarray(audio, dtype=np.float32)
    n = 1 + (len(x) - win) // hop if len(x) >= win else 0
    if n == 0:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(n) * hop
    power = np.maximum((csum[starts + win] - csum[starts]) / win, 0.0)
    return 10.0 * np.log10(power + 1e-12)


def energy_probabilities(
    audio: np.ndarray, sample_rate: int, *, margin_db: float = 15.0, floor_dbfs: float = -55.0, hop_s: float = 0.01
) -> tuple[np.ndarray, float]:
    """Speech decision (0 or 1) per 10 ms hop from frame level against the track's own noise floor.

    A frame (25 ms) is speech when its RMS level is at least ``margin_db`` dB above the 10th percentile of all
    frame levels (the noise floor) and above ``floor_dbfs`` dBFS.
    """
    hop = max(1, int(round(hop_s * sample_rate)))
    db = frame_levels_db(audio, sample_rate, frame_s=0.025, hop_s=hop_s)
    if len(db) == 0:
        return np.zeros(0, np.float32), hop / sample_rate
    noise = float(np.percentile(db, 10))
    thr = max(noise + margin_db, floor_dbfs)
    return (db >= thr).astype(np.float32), hop / sample_rate


def level_dbfs(audio: np.ndarray) -> float:
    """RMS level of ``audio`` in dB relative to full scale (-inf for digital silence or no samples)."""
    if audio.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


class EnergyEndpointer:
    """End-of-turn by frame energy: speech, then ``end_silence_s`` of silence (or no speech at all for a while).

    A stateful ``should_stop(audio_16k) -> bool`` for :meth:`DuplexStream.record_turn`: each call receives the
    whole answer so far and only the new tail is examined. Use one instance per turn. A frame (20 ms) is speech
    when its RMS level is above both ``speech_threshold_dbfs`` and the noise floor (10th percentile of the frame
    levels heard so far) plus ``noise_margin_db``.

    Attributes
    ----------
    speech_started : bool
        At least ``min_speech_s`` of speech frames were heard.
    speech_start_s, speech_end_s : float or None
        Start of the first and end of the last speech frame, seconds from the start of the answer audio.
    reason : str or None
        ``"silence"`` or ``"no_speech"`` once it said stop.
    """

    FRAME_S = 0.02

    def __init__(self, sample_rate: int = SAMPLE_RATE, cfg: PracticeConfig | None = None) -> None:
        self.cfg = cfg or PracticeConfig()
        self.sample_rate = sample_rate
        self.frame = max(1, int(round(self.FRAME_S * sample_rate)))
        self._levels: list[float] = []
        self._speech_frames = 0
        self.speech_started = False
        self.speech_start_s: float | None = None
        self.speech_end_s: float | None = None
        self.reason: str | None = None

    def __call__(self, audio: np.ndarray) -> bool:
        n_frames = len(audio) // self.frame
        for k in range(len(self._levels), n_frames):
            lev = level_dbfs(audio[k * self.frame : (k + 1) * self.frame])
            self._levels.append(lev)
            finite = [x for x in self._levels if math.isfinite(x)]
            floor = float(np.percentile(finite, 10)) if len(finite) >= 10 else -math.inf
            if lev > self.cfg.speech_threshold_dbfs and lev > floor + self.cfg.noise_margin_db:
                self._speech_frames += 1
                if self.speech_start_s is None:
                    self.speech_start_s = k * self.FRAME_S
                self.speech_end_s = (k + 1) * self.FRAME_S
                if self._speech_frames * self.FRAME_S >= self.cfg.min_speech_s:
                    self.speech_started = True
        now_s = n_frames * self.FRAME_S
        if self.speech_started and self.speech_end_s is not None:
            if now_s - self.speech_end_s >= self.cfg.end_silence_s:
                self.reason = "silence"
                return True
        elif now_s >= self.cfg.no_speech_timeout_s:
            self.reason = "no_speech"
            return True
        return False


class BargeInDetector:
    """Decides, while the caller speaks, that the trainee has started talking over them.

    The microphone may hear the caller through the speakers: the echo is estimated from the played reference
    (once enough of it has sounded) and removed before the check. The trainee is talking when at least
    ``barge_in_min_s`` of the last frames are speech (above ``speech_threshold_dbfs``).

    Called as ``detector(mic, reference) -> bool`` by ``DuplexStream.record_turn``. A caller at or above
    ``push_on_anger`` keeps talking: the detector then records the moment but answers False.
    """

    def __init__(self, cfg: Config, anger: float) -> None:
        self.cfg = cfg
        self.push_on = anger >= cfg.session.push_on_anger
        self.detected_s: float | None = None
        self._estimate: EchoEstimate | None = None
        self._estimated_at = 0

    def __call__(self, mic: np.ndarray, reference: np.ndarray) -> bool:
        pc = self.cfg.practice
        n = len(mic)
        if n < FRAME * 5:
            return False
        if np.any(reference) and (self._estimate is None or n - self._estimated_at > SR):
            self._estimate = estimate_echo(mic, reference, SR, self.cfg.turns)
            self._estimated_at = n
        window = int(self.cfg.session.barge_in_window_s * SR)
        lo = max(0, n - window)
        clean = mic[lo:]
        if self._estimate is not None:
            clean, _ = suppress_echo(mic[lo:], reference[lo:], SR, self.cfg.turns, estimate=self._estimate)
        levels = frame_levels_db(clean, SR, frame_s=FRAME / SR)
        speech = float(np.sum(levels > pc.speech_threshold_dbfs)) * FRAME / SR
        if speech < self.cfg.session.barge_in_min_s:
            return False
        if self.detected_s is None:
            first = int(np.argmax(levels > pc.speech_threshold_dbfs))
            self.detected_s = (lo + first * FRAME) / SR
        return not self.push_on
