"""The browser's audio on the server: the microphone track and what the page played, on one 16 kHz clock.

The page's AudioWorklet (``static/pcm-worklet.js``) captures the microphone and plays the caller in the same
``process()`` call, so it counts one clock for both: the number of microphone samples (16 kHz) it has sent. It
reports where each caller line started and stopped on that clock; :class:`BrowserLink` keeps

* ``mic``: every microphone sample received (the call timeline: ``now_s`` = samples received / 16 kHz);
* ``reference``: what the page played, placed at the reported sample positions (fades included).

It offers the part of :class:`voice_trainer.audio.devices.DuplexStream` that the call loop uses (``now_s``,
``tracks``, ``level_dbfs``, ``discard_before``), so :class:`voice_trainer.call.practice.EarlyAnalysis` runs on it
unchanged. Thread-safe: the web server's event loop writes, the call thread reads.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..analysis.activity import level_dbfs
from ..config import SAMPLE_RATE, PracticeConfig, WebConfig

SR = SAMPLE_RATE
MAX_AHEAD_S = 5.0
"""Largest lead (s) of a reported playback position over the microphone audio received (frames in flight)."""


PAGE_EVENTS = ("started", "ended", "stopped")
"""The page's playback reports: ``{"type": EVENT, "id": LINE_ID, "at": MIC_SAMPLE}``."""
PAGE_MESSAGES = ("start", "hangup", *PAGE_EVENTS)
MAX_INT = 2**53
"""Largest whole number accepted in a page's message (JavaScript's exact integers)."""


class PageMessageError(ValueError):
    """A page's message that is not one the page sends; the message (one line) says why."""


def _depth(text: str) -> int:
    """Deepest nesting of JSON arrays and objects in ``text`` (brackets inside strings are skipped)."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> float:
    raise PageMessageError(f"{name} is not a number this server accepts")


def _finite(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise PageMessageError(f"{text[:20]} is not a finite number")
    return x


def _whole(ev: dict, key: str, *, optional: bool = False) -> int | None:
    v = ev.get(key)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_INT:
        raise PageMessageError(f"'{key}' must be a whole number from 0 to 2**53, not {str(v)[:20]!r}")
    return v


def parse_page_message(text: str, cfg: WebConfig | None = None) -> dict:
    """A text message from the page, checked: at most ``cfg.max_message_bytes`` long and ``cfg.max_json_depth``
    deep, a JSON object of a known ``type``, finite numbers only, whole numbers where the page sends them.

    Raises
    ------
    PageMessageError
        What is wrong, in one line (the server answers with it and ignores the message).
    """
    cfg = cfg or WebConfig()
    size = len(text.encode("utf-8", "replace"))
    if size > cfg.max_message_bytes:
        raise PageMessageError(f"message too long ({size} bytes; at most {cfg.max_message_bytes})")
    if _depth(text) > cfg.max_json_depth:
        raise PageMessageError(f"message nested deeper than {cfg.max_json_depth} levels")
    try:
        ev = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except PageMessageError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PageMessageError(f"not JSON ({str(exc)[:60]})") from None
    if not isinstance(ev, dict) or ev.get("type") not in PAGE_MESSAGES:
        kind = ev.get("type") if isinstance(ev, dict) else None
        raise PageMessageError(f"unknown message type {str(kind)[:20]!r}")
    if ev["type"] in PAGE_EVENTS:
        _whole(ev, "id")
        _whole(ev, "at")
    elif ev["type"] == "start":
        if not isinstance(ev.get("scenario"), str):
            raise PageMessageError("'scenario' must be a scenario id")
        _whole(ev, "turns", optional=True)
        _whole(ev, "seed", optional=True)
    return ev


class ConnectionLost(Exception):
    """The page's WebSocket closed before the call ended; ``status`` is the session status this gives
    (``device_lost``: tab closed, network gone; ``interrupted``: the server was stopped)."""

    def __init__(self, why: str, status: str = "device_lost") -> None:
        super().__init__(why)
        self.status = status


@dataclass
class PagePlayback:
    """One caller line sent to the page; start/end are sample positions on the microphone clock (None: not yet)."""

    id: int
    audio: np.ndarray
    start: int | None = None
    end: int | None = None
    stop_requested: bool = False

    @property
    def started(self) -> bool:
        return self.start is not None

    @property
    def done(self) -> bool:
        return self.end is not None

    @property
    def start_s(self) -> float | None:
        return None if self.start is None else self.start / SR

    @property
    def end_s(self) -> float | None:
        return None if self.end is None else self.end / SR


class _Growing:
    """A float32 track that grows at the end and can forget its beginning; indices stay absolute."""

    def __init__(self) -> None:
        self.data = np.zeros(SR * 8, np.float32)
        self.offset = 0  # absolute index of data[0]
        self.length = 0  # samples held (data[:length])

    @property
    def end(self) -> int:
        return self.offset + self.length

    def ensure(self, end: int) -> None:
        need = end - self.offset
        if need > len(self.data):
            grown = np.zeros(max(need, 2 * len(self.data)), np.float32)
            grown[: self.length] = self.data[: self.length]
            self.data = grown
        self.length = max(self.length, need)

    def write(self, at: int, x: np.ndarray) -> None:
        """Write ``x`` at absolute index ``at`` (the part before ``offset`` is dropped)."""
        if at < self.offset:
            x = x[self.offset - at:]
            at = self.offset
        if len(x) == 0:
            return
        self.ensure(at + len(x))
        self.data[at - self.offset: at - self.offset + len(x)] = x

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples ``[a, b)``; zeros where nothing was written (or already forgotten)."""
        out = np.zeros(max(b - a, 0), np.float32)
        lo, hi = max(a, self.offset), min(b, self.end)
        if hi > lo:
            out[lo - a: hi - a] = self.data[lo - self.offset: hi - self.offset]
        return out

    def forget_before(self, a: int) -> None:
        k = a - self.offset
        if k >= self.length:
            self.data[: self.length] = 0.0
            self.offset = max(self.offset, a)
            self.length = 0
        elif k > 0:
            self.data[: self.length - k] = self.data[k: self.length].copy()
            self.data[self.length - k: self.length] = 0.0
            self.offset += k
            self.length -= k


class BrowserLink:
    """The call's audio as received from and sent to one page (see the module docstring).

    Parameters
    ----------
    send : callable
        ``send(message)`` queues a message for the page: a dict (sent as JSON text) or bytes (binary).
    cfg : PracticeConfig
        ``meter_window_s`` (level meter) and ``fade_out_s`` (the fade the page applies on a stop).
    """

    def __init__(self, send: Callable[[dict | bytes], None], cfg: PracticeConfig | None = None,
                 web: WebConfig | None = None) -> None:
        self.send = send
        self.cfg = cfg or PracticeConfig()
        self.web = web or WebConfig()
        self.began: float | None = None  # time.monotonic() when the call began (None: no call, no audio kept)
        self._lock = threading.Lock()
        self._mic = _Growing()
        self._ref = _Growing()
        self._plays: dict[int, PagePlayback] = {}
        self._next_id = 1
        self.closed: str | None = None  # why the page went away
        self.closed_status = "device_lost"
        self.frames_received = 0
        self.changed = threading.Condition(self._lock)

    # --- the page's side (called from the web server's event loop) ------------------------------------------

    def begin(self) -> None:
        """The call begins: from now on microphone audio is kept, and the page must keep up with the wall clock."""
        with self._lock:
            self.began = time.monotonic()

    def end(self) -> None:
        """The call is over: microphone audio is no longer kept."""
        with self._lock:
            self.began = None

    def add_mic(self, pcm16: bytes) -> bool:
        """Append one frame of 16 kHz mono signed 16-bit little-endian microphone samples.

        Returns False, keeping nothing, when no call has begun or the audio would run more than
        ``web.max_audio_lead_s`` ahead of the wall clock (a page sends in real time). At most
        ``web.max_buffer_s`` of audio is held; older audio is forgotten.
        """
        n = len(pcm16) // 2
        with self._lock:
            if self.began is None:
                return False
            if (self._mic.end + n) / SR > time.monotonic() - self.began + self.web.max_audio_lead_s:
                return False
        x = np.frombuffer(pcm16[: n * 2], dtype="<i2").astype(np.float32) / 32768.0
        with self._lock:
            self._mic.write(self._mic.end, x)
            self.frames_received += 1  # no wake-up per frame: the call loop polls every poll_s
            keep = int(self.web.max_buffer_s * SR)
            if self._mic.length > keep:
                self._mic.forget_before(self._mic.end - keep)
                self._ref.forget_before(self._mic.end - keep)
        return True

    def on_page_event(self, kind: str, line_id: int, at: int) -> None:
        """The page reports that line ``line_id`` ``started`` / ``ended`` / ``stopped`` at mic sample ``at``."""
        with self._lock:
            pb = self._plays.get(line_id)
            if pb is None or not 0 <= at <= self._mic.end + MAX_AHEAD_S * SR:  # a page cannot report the future
                return
            if kind == "started" and pb.start is None:
                pb.start = at
                self._ref.write(at, pb.audio)
            elif kind in ("ended", "stopped") and pb.end is None:
                start = pb.start if pb.start is not None else at
                pb.end = max(at, start)
                played = pb.end - start
                if kind == "stopped":  # the page faded out over fade_out_s just before ``at``
                    fade = min(int(self.cfg.fade_out_s * SR), played)
                    seg = pb.audio[:played].copy()
                    if fade:
                        seg[played - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
                    self._ref.write(start, seg)
                    self._ref.write(start + played, np.zeros(max(len(pb.audio) - played, 0), np.float32))
            self.changed.notify_all()

    def close(self, why: str, status: str = "device_lost") -> None:
        """The page has gone (``why``); the call loop's next :meth:`check` raises :class:`ConnectionLost`."""
        with self._lock:
            if self.closed is None:
                self.closed, self.closed_status = why, status
            self.changed.notify_all()

    # --- the call's side (called from the call thread) -------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`ConnectionLost` once the page has gone, or has stalled: its microphone audio fell more
        than ``web.idle_timeout_s`` behind the wall clock since the call began."""
        if self.closed is None and self.began is not None:
            lag = time.monotonic() - self.began - self.now_s
            if lag > self.web.idle_timeout_s:
                self.close(f"the page sent no microphone audio for {self.web.idle_timeout_s:g} s "
                           "(web.idle_timeout_s)")
        if self.closed is not None:
            raise ConnectionLost(self.closed, self.closed_status)

    def play(self, audio: np.ndarray) -> PagePlayback:
        """Send a 16 kHz caller line to the page; it reports when it really starts and ends."""
        with self._lock:
            pb = PagePlayback(self._next_id, np.asarray(audio, np.float32))
            self._plays[pb.id] = pb
            self._next_id += 1
        pcm = (np.clip(pb.audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self.send({"type": "play", "id": pb.id, "samples": len(pb.audio)})
        self.send(pcm)
        return pb

    def stop(self, pb: PagePlayback) -> None:
        """Ask the page to fade the line out now (it answers with ``stopped``)."""
        if not pb.stop_requested and not pb.done:
            pb.stop_requested = True
            self.send({"type": "stop", "id": pb.id})

    def wait(self, timeout_s: float) -> None:
        """Sleep ``timeout_s``, or less if the page reports a playback event or goes away."""
        with self._lock:
            if self.closed is None:
                self.changed.wait(timeout_s)

    @property
    def now_s(self) -> float:
        """The call timeline: seconds of microphone audio received."""
        with self._lock:
            return self._mic.end / SR

    @property
    def level_dbfs(self) -> float:
        """RMS level of the last ``meter_window_s`` of microphone audio (dBFS)."""
        with self._lock:
            end = self._mic.end
            x = self._mic.get(max(end - int(self.cfg.meter_window_s * SR), 0), end)
        return level_dbfs(x) if len(x) else -math.inf

    def tracks(self, start_s: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(reference, mic) from ``start_s`` to ``end_s`` (default: now) on the call timeline, 16 kHz float32."""
        with self._lock:
            a = int(round(start_s * SR))
            b = self._mic.end if end_s is None else min(int(round(end_s * SR)), self._mic.end)
            return self._ref.get(a, b), self._mic.get(a, b)

    def discard_before(self, t_s: float) -> None:
        """Forget audio before ``t_s`` (long calls keep only what the current turn needs)."""
        with self._lock:
            a = int(t_s * SR)
            self._mic.forget_before(a)
            self._ref.forget_before(a)
            for k in [k for k, pb in self._plays.items() if pb.done and pb.end is not None and pb.end < a]:
                del self._plays[k]
