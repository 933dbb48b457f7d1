"""voice_trainer.analysis.spectral gives librosa's numbers bit for bit (it replaces librosa in the tone stage)."""

from __future__ import annotations

import numpy as np
import pytest

librosa = pytest.importorskip("librosa")
signal = pytest.importorskip("scipy.signal")

from voice_trainer.analysis import spectral  # noqa: E402

LENGTHS = (1, 300, 512, 513, 16000, 16000 * 70 + 37)


def _signal(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("n", LENGTHS)
def test_rms_is_librosa_rms(n: int) -> None:
    y = _signal(n, n)
    ours = spectral.rms(y, 512, 256)
    ref = librosa.feature.rms(y=y, frame_length=512, hop_length=256, center=True)[0]
    assert ours.dtype == ref.dtype == np.float32
    assert np.array_equal(ours, ref)


@pytest.mark.parametrize("n", [n for n in LENGTHS if n >= 512])
def test_power_spectrogram_is_librosa_stft_power(n: int) -> None:
    y = _signal(n, n + 1)
    ours = spectral.power_spectrogram(y, 512, 256)
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=256, center=False, window="hann")) ** 2
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    assert np.array_equal(ours, ref)


def test_window_and_bins_match_scipy_and_librosa() -> None:
    assert np.array_equal(spectral.hann(512), signal.get_window("hann", 512, fftbins=True))
    assert np.array_equal(spectral.hann(1), np.ones(1))
    assert np.array_equal(spectral.fft_frequencies(16000, 512), librosa.fft_frequencies(sr=16000, n_fft=512))


def test_sine_rms_and_peak_bin() -> None:
    """Known answers: a full-scale sine has RMS 1/sqrt(2); its power peaks in the bin of its frequency."""
    sr, f = 16000, 1000.0
    y = np.sin(2 * np.pi * f * np.arange(sr) / sr).astype(np.float32)
    r = spectral.rms(y, 512, 256)
    assert np.allclose(r[2:-2], 1 / np.sqrt(2), atol=1e-3)
    p = spectral.power_spectrogram(y, 512, 256)
    assert np.all(np.argmax(p, axis=0) == round(f / (sr / 512)))


def test_too_short_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too short"):
        spectral.power_spectrogram(np.zeros(100, np.float32), 512, 256)


def test_tone_stage_does_not_import_librosa() -> None:
    """The default tone stage (swift-f0 pitch) must not pull librosa/scipy.signal/numba into the process."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from voice_trainer.analysis import tone; "
        "tone.measure_frames((0.1*np.sin(np.arange(32000)/10)).astype(np.float32), 16000); "
        "print(sorted(m for m in ('librosa', 'scipy.signal', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
