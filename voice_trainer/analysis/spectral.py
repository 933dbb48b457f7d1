"""Frame RMS and a power spectrogram in plain numpy, the same numbers as librosa without importing it.

``librosa.feature.rms`` and ``librosa.stft`` pull in ``scipy.signal``, ``scipy.stats`` and numba when first used:
about 1.5 s and 240 MiB of a process that only needs a framed mean square and an FFT. These functions repeat
librosa 0.11's arithmetic step by step (same framing views, same dtypes, the same float64 window and FFT library,
numpy's), so their results are bit-identical to it; ``tests/test_spectral.py`` checks that against librosa.

Pure functions over numpy arrays; sample counts, not seconds.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

STFT_COLUMNS = 128
"""Frames transformed at a time (librosa's block size for a 512-point frame), which bounds the float64 scratch."""


def frames(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """A read-only ``(frame_length, n_frames)`` view of ``y``, as ``librosa.util.frame`` (no copy)."""
    if len(y) < frame_length:
        raise ValueError(f"input is too short (n={len(y)}) for frame_length={frame_length}")
    return sliding_window_view(y, frame_length)[::hop_length].T


@functools.cache
def hann(n: int) -> np.ndarray:
    """Periodic Hann window of ``n`` samples (float64), as ``scipy.signal.get_window('hann', n)``."""
    if n <= 1:
        return np.ones(n)
    fac = np.linspace(-np.pi, np.pi, n + 1)
    w = np.zeros(n + 1)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    w = w[:-1]
    w.setflags(write=False)
    return w


def rms(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS of each centred frame (zero padding), float32, shape ``(1 + len(y) // hop_length,)``.

    Same as ``librosa.feature.rms(y=y, frame_length=..., hop_length=..., center=True)[0]``.
    """
    yp = np.pad(y, (frame_length // 2, frame_length // 2))
    power = np.mean(np.square(frames(yp, frame_length, hop_length), dtype=np.float32), axis=-2)
    return np.sqrt(power)


def power_spectrogram(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """``|STFT|**2`` of uncentred Hann-windowed frames, shape ``(1 + n_fft // 2, n_frames)``.

    Same as ``np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length, center=False, window="hann")) ** 2``:
    the FFT runs in float64 and is stored as complex64 (float32 input), as librosa does.
    """
    fr = frames(y, n_fft, hop_length)
    window = hann(n_fft)[:, None]
    dtype = np.complex64 if y.dtype == np.float32 else np.complex128
    spec = np.zeros((1 + n_fft // 2, fr.shape[1]), dtype=dtype, order="F")
    for a in range(0, fr.shape[1], STFT_COLUMNS):
        b = min(a + STFT_COLUMNS, fr.shape[1])
        spec[:, a:b] = np.fft.rfft(window * fr[:, a:b], axis=-2)
    return np.abs(spec) ** 2


def fft_frequencies(sr: int, n_fft: int) -> np.ndarray:
    """Centre frequency (Hz) of each FFT bin, as ``librosa.fft_frequencies``."""
    return np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
