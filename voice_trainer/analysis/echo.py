"""Echo suppression: remove the caller's voice that a microphone picks up from the speakers.

At a desk without a headset the microphone hears the played caller line, delayed (playback buffering plus
the air path) and attenuated. The played signal is known, so the echo is found by cross-correlation
(FFT-based, over delays ``0..echo_max_delay_s``), scaled by a least-squares gain, subtracted, and whatever is
left in frames where the echo dominates is gated to silence. The trainee's own voice, even over the caller
(double talk), stays.

The same function cleans the agent channel of a stereo call recording that leaks the caller (crosstalk).

Pure: arrays in, arrays and a dataclass out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import TurnsConfig

_FRAME_S = 0.02


@dataclass
class EchoEstimate:
    """What was found about the echo of ``reference`` in ``mic``.

    Attributes
    ----------
    detected : bool
        True when the microphone holds a delayed copy of the reference (the peak is sharp and strong).
    delay_s : float
        Delay of the echo behind the reference, seconds (meaningful when detected).
    gain : float
        Amplitude of the echo relative to the reference (least squares at ``delay_s``).
    correlation : float
        Normalised correlation (0-1) of the microphone with the delayed reference.
    peak_ratio : float
        Cross-correlation peak over the median magnitude of the searched delays.
    reduction_db : float
        Energy removed from the microphone track, dB (0 when nothing was removed).
    gated_s : float
        Seconds of microphone audio gated to silence as residual echo.
    """

    detected: bool
    delay_s: float = 0.0
    gain: float = 0.0
    correlation: float = 0.0
    peak_ratio: float = 0.0
    reduction_db: float = 0.0
    gated_s: float = 0.0

    def to_dict(self) -> dict:
        return {
            "detected": self.detected,
            "delay_s": round(self.delay_s, 4),
            "gain": round(self.gain, 4),
            "correlation": round(self.correlation, 3),
            "peak_ratio": round(self.peak_ratio, 2),
            "reduction_db": round(self.reduction_db, 2),
            "gated_s": round(self.gated_s, 3),
        }


def cross_correlation(mic: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """``c[k] = sum_n mic[n] * reference[n - k]`` for lags ``k = 0..max_lag`` samples (via FFT).

    Positive lags mean the microphone lags the reference (an echo). Computed in single precision with an FFT
    length of fast size (a 3-minute pair at 16 kHz takes a fraction of a second).
    """
    from scipy import fft as sfft

    n = len(mic) + len(reference)
    nfft = sfft.next_fast_len(max(n, 2), real=True)
    a = sfft.rfft(np.asarray(mic, dtype=np.float32), nfft, workers=-1)
    b = sfft.rfft(np.asarray(reference, dtype=np.float32), nfft, workers=-1)
    full = sfft.irfft(a * np.conj(b), nfft, workers=-1)
    return full[: max_lag + 1].astype(np.float64)


def _delayed(reference: np.ndarray, lag: int, n: int) -> np.ndarray:
    out = np.zeros(n, np.float64)
    if lag < n:
        m = min(n - lag, len(reference))
        out[lag : lag + m] = reference[:m]
    return out


def estimate_echo(
    mic: np.ndarray, reference: np.ndarray, sample_rate: int, config: TurnsConfig | None = None
) -> EchoEstimate:
    """Find the delay and gain of ``reference`` inside ``mic`` (both mono, same rate, same clock).

    Parameters
    ----------
    mic : np.ndarray
        The microphone (or agent-channel) track.
    reference : np.ndarray
        What was played (or the caller channel), sample-aligned with ``mic``: sample ``i`` of both is the same
        moment.
    sample_rate : int
        Hz.
    config : TurnsConfig, optional
        ``echo_max_delay_s``, ``echo_min_peak_ratio``, ``echo_min_corr``.
    """
    c = config or TurnsConfig()
    x = np.asarray(mic, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if len(x) == 0 or len(r) == 0 or not np.any(r) or not np.any(x):
        return EchoEstimate(False)
    max_lag = max(1, min(int(c.echo_max_delay_s * sample_rate), len(x) - 1))
    # whiten both (first difference) so the low-frequency hum of a line does not make a broad false peak
    xd, rd = np.diff(x, prepend=0.0), np.diff(r, prepend=0.0)
    cc = cross_correlation(xd, rd, max_lag)
    mag = np.abs(cc)
    lag = int(np.argmax(mag))
    med = float(np.median(mag)) or 1e-30
    ratio = float(mag[lag] / med)
    ref_d = _delayed(r, lag, len(x))
    energy = float(ref_d @ ref_d)
    if energy <= 0:
        return EchoEstimate(False, peak_ratio=ratio)
    gain = float((x @ ref_d) / energy)
    corr = float(abs(x @ ref_d) / np.sqrt(energy * float(x @ x)))
    detected = ratio >= c.echo_min_peak_ratio and corr >= c.echo_min_corr and gain > 0
    return EchoEstimate(detected, lag / sample_rate, gain, corr, ratio)


def subtract_echo(mic: np.ndarray, reference: np.ndarray, sample_rate: int, estimate: EchoEstimate) -> np.ndarray:
    """``mic`` minus the reference delayed by ``estimate.delay_s`` and scaled by ``estimate.gain`` (no gating).

    This keeps the microphone's own speech intact, also where it overlaps the echo, so it is what a speech
    recogniser should hear. Returns ``mic`` unchanged (a float32 copy) when no echo was detected.
    """
    x = np.asarray(mic, dtype=np.float32)
    if not estimate.detected:
        return x.copy()
    lag = int(round(estimate.delay_s * sample_rate))
    echo = estimate.gain * _delayed(np.asarray(reference, dtype=np.float64), lag, len(x))
    return (x.astype(np.float64) - echo).astype(np.float32)


def suppress_echo(
    mic: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    config: TurnsConfig | None = None,
    *,
    estimate: EchoEstimate | None = None,
) -> tuple[np.ndarray, EchoEstimate]:
    """Remove the echo of ``reference`` from ``mic`` so that it never counts as the trainee talking.

    When an echo is detected (see :func:`estimate_echo`), the delayed, scaled reference is subtracted, then
    every 20 ms frame whose remaining energy is less than ``echo_gate_margin_db`` above the energy of the echo
    expected in it is set to zero: a frame where the echo dominates is never taken for the trainee's voice,
    while the trainee's own speech (louder than the echo in its frames) is kept. When no echo is found, ``mic``
    is returned unchanged. Use the result for voice activity; for transcription :func:`subtract_echo` (no
    gating) keeps quiet double-talk intact.

    Parameters
    ----------
    mic, reference : np.ndarray
        float32 mono tracks on the same clock and rate (``reference`` may be shorter: zeros after its end).
    sample_rate : int
        Hz.
    config : TurnsConfig, optional
        Echo thresholds.
    estimate : EchoEstimate, optional
        A previous :func:`estimate_echo` result to reuse (skips the cross-correlation).

    Returns
    -------
    cleaned : np.ndarray
        float32, same length as ``mic``.
    estimate : EchoEstimate
        With ``reduction_db`` and ``gated_s`` filled in.
    """
    c = config or TurnsConfig()
    est = estimate if estimate is not None else estimate_echo(mic, reference, sample_rate, c)
    x = np.asarray(mic, dtype=np.float32)
    if not est.detected:
        return x.copy(), est
    lag = int(round(est.delay_s * sample_rate))
    echo = est.gain * _delayed(np.asarray(reference, dtype=np.float64), lag, len(x))
    cleaned = x.astype(np.float64) - echo
    frame = max(1, int(_FRAME_S * sample_rate))
    n = len(x) // frame
    gated = 0
    if n:
        res_e = (cleaned[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
        echo_e = (echo[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
        # widen the echo's footprint by one frame each side: reverberation tails outlast the direct sound
        echo_e = np.maximum(echo_e, np.maximum(np.r_[0.0, echo_e[:-1]], np.r_[echo_e[1:], 0.0]))
        margin = 10.0 ** (c.echo_gate_margin_db / 10.0)
        gate = (echo_e > 1e-10) & (res_e < margin * echo_e)
        gated = int(gate.sum())
        view = cleaned[: n * frame].reshape(n, frame)
        view[gate] = 0.0
    before = float(x.astype(np.float64) @ x)
    after = float(cleaned @ cleaned)
    est.reduction_db = float(10.0 * np.log10(before / after)) if after > 0 and before > 0 else 0.0
    est.gated_s = gated * frame / sample_rate
    return cleaned.astype(np.float32), est
