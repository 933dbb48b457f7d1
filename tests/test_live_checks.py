"""Pure checks of live practice (no sound server needed): loopback detection, native log capture and counting."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from voice_trainer.audio.devices import StderrCapture, count_native_xruns, loopback_correlation

SR = 16_000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise bursts under a syllable-rate envelope: broadband, not periodic (no spurious correlation peaks)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * rng.standard_normal(len(t)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def test_a_copy_of_the_output_is_found_at_its_delay():
    ref = speechlike(1.0)
    late = np.concatenate([np.zeros(48, np.float32), ref[:-48]])  # the output, 3 ms later
    corr, lag = loopback_correlation(late, ref, SR, 0.1)
    assert corr > 0.99 and lag == pytest.approx(48 / SR)


def test_a_microphone_hearing_the_room_is_not_a_copy():
    ref = speechlike(1.0, seed=1)
    voice = speechlike(1.0, seed=2)
    # the caller through air (filtered, quieter, 20 ms later) plus the trainee's own voice
    echo = np.convolve(ref, np.hanning(31) / 15, mode="full")[: len(ref)]
    mic = voice + 0.3 * np.concatenate([np.zeros(320, np.float32), echo[:-320]])
    corr, _ = loopback_correlation(mic, ref, SR, 0.1)
    assert corr < 0.5
    assert loopback_correlation(np.zeros(SR, np.float32), ref, SR, 0.1) == (0.0, 0.0)  # silence


def test_a_copy_beyond_the_lag_window_is_not_near_zero_delay():
    ref = speechlike(2.0, seed=3)
    late = np.concatenate([np.zeros(SR // 2, np.float32), ref[: -SR // 2]])  # 0.5 s later
    corr, _ = loopback_correlation(late, ref, SR, 0.1)
    assert corr < 0.5


def test_native_dropout_reports_are_counted():
    log = b"ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred\n" * 3 + b"overrun!!! (at least 1 ms)\nok\n"
    assert count_native_xruns(log) == 4
    assert count_native_xruns(b"Expression 'x' failed in 'src/hostapi/alsa/pa_linux_alsa.c'\n") == 0


def test_native_stderr_goes_to_the_log_and_comes_back(tmp_path):
    # a child process writes to fd 2 the way a C library does; nothing may reach the real stderr meanwhile
    code = (
        "import os, sys; sys.path.insert(0, {!r})\n"
        "from voice_trainer.audio.devices import StderrCapture\n"
        "cap = StderrCapture(); cap.start({!r})\n"
        "os.write(2, b'ALSA lib pcm.c: underrun occurred\\n')\n"
        "cap.start({!r})\n"  # switching files (temporary log -> session log)
        "os.write(2, b'second\\n')\n"
        "cap.stop(); os.write(2, b'after\\n')\n"
    ).format(os.getcwd(), str(tmp_path / "a.log"), str(tmp_path / "b.log"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b"after\n"
    assert b"underrun" in (tmp_path / "a.log").read_bytes() and (tmp_path / "b.log").read_bytes() == b"second\n"
    StderrCapture().stop()  # stopping what never started is harmless
