"""A trainee made of canned answers, listening to the caller through a PulseAudio null sink.

It records the caller's sink monitor with ``parec``, waits for the caller's line to end (speech, then
``gap_s`` of silence) and plays the next answer into the virtual microphone sink with ``paplay``; an answer
marked ``barge_in_after_s`` starts that long after the caller starts speaking instead (talking over them).
Every event is logged on one monotonic clock, so benchmarks can time the caller's replies.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

RATE = 16_000
BLOCK = RATE // 50  # 20 ms


@dataclass
class Answer:
    path: str
    barge_in_after_s: float | None = None


@dataclass
class VirtualTrainee:
    env: dict
    answers: list[Answer]
    caller_sink: str = "caller_out"
    mic_sink: str = "mic_feed"
    gap_s: float = 0.6
    threshold_dbfs: float = -45.0
    log: list[tuple[str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _players: list = field(default_factory=list)

    def start(self) -> VirtualTrainee:
        self._rec = subprocess.Popen(
            ["parec", f"--device={self.caller_sink}.monitor", f"--rate={RATE}", "--channels=1", "--format=s16le",
             "--latency-msec=20"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut any answer still playing (so it cannot leak into the next call)."""
        self._stop.set()
        self._rec.kill()
        self._rec.wait()
        self._thread.join(timeout=5)
        for p in list(self._players):
            if p.poll() is None:
                p.kill()
                p.wait()

    def _blocks(self):
        assert self._rec.stdout is not None
        while not self._stop.is_set():
            raw = self._rec.stdout.read(BLOCK * 2)
            if not raw or len(raw) < BLOCK * 2:
                return
            x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            lev = 10 * np.log10(np.mean(x * x) + 1e-12)
            yield time.monotonic(), lev

    def _play(self, a: Answer) -> None:
        dur = sf.info(a.path).duration
        self.log.append(("answer_start", time.monotonic()))
        p = subprocess.Popen(["paplay", f"--device={self.mic_sink}", a.path], env=self.env)
        self._players.append(p)
        p.wait()
        self.log.append(("answer_end", time.monotonic()))
        self.log.append(("answer_speech_s", dur))

    def _run(self) -> None:
        queue = list(self.answers)
        speaking_since = None
        silent_since = None
        self._current: threading.Thread | None = None
        for t, lev in self._blocks():
            if self._current is not None and self._current.is_alive():
                speaking_since = silent_since = None  # the trainee is talking; the next caller line comes after
                continue
            if lev > self.threshold_dbfs:
                if speaking_since is None:
                    speaking_since = t
                    self.log.append(("caller_start", t))
                silent_since = None
            elif speaking_since is not None and silent_since is None:
                silent_since = t
            if not queue:
                continue
            nxt = queue[0]
            barge = nxt.barge_in_after_s
            if speaking_since is not None and barge is not None and t - speaking_since >= barge:
                queue.pop(0)
                self._play_async(nxt)
                speaking_since = silent_since = None
            elif speaking_since is not None and silent_since is not None and t - silent_since >= self.gap_s:
                self.log.append(("caller_end", silent_since))
                queue.pop(0)
                self._play_async(nxt)
                speaking_since = silent_since = None

    def _play_async(self, a: Answer) -> None:
        # play in this thread's stead but keep reading the monitor so the pipe never fills
        th = threading.Thread(target=self._play, args=(a,), daemon=True)
        th.start()
        self._current = th
