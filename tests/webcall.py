"""Helpers for the browser-practice tests and the web latency bench: a fake-microphone WAV in the format
Chromium's ``--use-file-for-fake-audio-capture`` reads, ``voice-trainer serve`` in a subprocess, and headless
Chromium with a fake microphone, driven over the DevTools protocol (the pipe approach of
``test_report_browser.py``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p and os.path.exists(p)), None)
BROWSER_TEST = [
    pytest.mark.whisper,  # each module's page shows a session made by the real call loop (or runs a call)
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                "./bootstrap.sh test installs it)"),
]
"""The marks of a test module that drives headless Chromium (add ``needs_espeak`` where speech is rendered)."""
FAKE_RATE = 48000
"""Chromium's fake capture reads 16-bit PCM WAV; 48 kHz mono is the rate its audio input runs at."""


def fake_mic_wav(path: Path, parts: list[tuple[float, str | None]]) -> Path:
    """Write a WAV for Chromium's fake microphone: ``parts`` is a list of (seconds of silence before, answer WAV or
    None); 16-bit PCM mono at :data:`FAKE_RATE`. Played once (``%noloop``)."""
    import soundfile as sf
    import soxr

    chunks = []
    for gap, wav in parts:
        chunks.append(np.zeros(int(gap * FAKE_RATE), np.float32))
        if wav is not None:
            x, sr = sf.read(wav, dtype="float32", always_2d=True)
            chunks.append(soxr.resample(x[:, 0], sr, FAKE_RATE).astype(np.float32))
    sf.write(path, np.concatenate(chunks), FAKE_RATE, subtype="PCM_16")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``voice-trainer serve`` in a subprocess; waits until it answers HTTP."""

    def __init__(self, session_dir: Path, *args: str, port: int | None = None, timeout_s: float = 180) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = session_dir.parent / f"serve-{self.port}.log"
        self._log = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voice_trainer", "serve", "--port", str(self.port), "--session-dir",
             str(session_dir), *args], stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.log.read_text(errors="replace")


def chromium_with_fake_mic(profile: Path, wav: Path, width: int = 1000, height: int = 900):
    """A :class:`test_report_browser.Browser` whose microphone plays ``wav`` once, with autoplay allowed."""
    from test_report_browser import Browser

    fake_mic = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}%noloop")
    return Browser(profile, width, height, extra_args=fake_mic)


def wait_for(pred, timeout_s: float, step_s: float = 0.2):
    """Poll ``pred()`` until it returns something truthy (returned) or the time is up (returns the last value)."""
    deadline = time.monotonic() + timeout_s
    val = None
    while True:
        with contextlib.suppress(Exception):  # e.g. a file being replaced, a page navigating
            val = pred()
        if val or time.monotonic() >= deadline:
            return val
        time.sleep(step_s)
