"""Test helpers: real speech rendered by espeak-ng inside the test, and small synthetic signals."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (./bootstrap.sh installs it)")


def espeak(
    text: str, path: Path, *, speed: int = 160, pitch: int = 50, amplitude: int = 100, voice: str = "en-us"
) -> Path:
    """Render ``text`` with espeak-ng to a WAV (22,050 Hz mono). Speed in words per minute, pitch 0-99."""
    subprocess.run(
        [ESPEAK or "espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
         "-w", str(path), text],
        check=True,
    )
    return path


def tone(freq_hz: float, dur_s: float, sr: int, amp: float = 0.5) -> np.ndarray:
    """A sine tone, float32."""
    t = np.arange(int(dur_s * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int, **kw) -> Path:
    sf.write(str(path), audio, sr, **kw)
    return path
