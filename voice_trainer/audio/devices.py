"""Audio devices: listing, choosing, and the full-duplex call stream of live practice (I/O room).

:class:`DuplexStream` plays the caller and records the microphone together and keeps two 16 kHz tracks on one
*call timeline* (seconds of microphone audio since the stream started):

* ``mic``: the microphone, resampled from the device's native rate;
* ``reference``: what was played (the caller, including fades), shifted so that ``reference[i]`` is what the
  loudspeaker emitted while ``mic[i]`` was being captured, sample for sample.

The shift comes from the callbacks' ``inputBufferAdcTime`` / ``outputBufferDacTime``. Devices are opened at
their native rate (44.1/48 kHz) with ``latency='high'`` and a fixed 20 ms block, and resampled here with soxr:
through PulseAudio 16 kHz with ``'low'`` underran, and a variable block size gave 1-frame callbacks.

Through PortAudio's ALSA route to PulseAudio (the machines this was built on), one full-duplex
``sounddevice.Stream`` stalled for about 1.9 s at start and then kept the microphone 1.9 s late for the whole
call. The default is therefore an InputStream + OutputStream pair whose callback times share PortAudio's clock
(``practice.duplex_mode = "single"`` selects the one-Stream form). :meth:`DuplexStream.open` waits until both
directions flow steadily and the microphone is fresh (2-4 s here), so open one stream per session and keep it.

Errors reach the user as :class:`DeviceError` (a :class:`UserError`): one line, with where to go next; a device
lost mid-call raises :class:`DeviceLostError`, and what was recorded stays readable. A microphone counts as lost
when no fresh block came for ``device_timeout_s``, when the sound server moved the recording to another source
(:class:`SourceWatch`, through ``pactl``: PulseAudio does that silently when a source disappears), or when the
microphone became a near-perfect copy of the caller's output at near-zero delay (:func:`loopback_correlation`).
While a call runs, the native libraries' stderr goes to a log (:class:`StderrCapture`) whose dropout reports are
counted with the callbacks' under/overflows (:attr:`DuplexStream.dropouts`, :attr:`DuplexStream.busy`).
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from ..analysis.activity import EnergyEndpointer, level_dbfs  # noqa: F401 - part of this module's API
from ..analysis.turn import TurnAudio
from ..config import SAMPLE_RATE, PracticeConfig
from ..errors import UserError

NEXT_STEPS = (
    "list devices with `voice-trainer devices` and pick one with --input-device/--output-device; "
    "without a microphone try `voice-trainer demo` or `voice-trainer practice --answers A1.wav A2.wav ...`"
)


class DeviceError(UserError):
    """No usable audio device, a device that cannot be opened, or a device lost during a call."""


class DeviceLostError(DeviceError):
    """The device stopped delivering audio during a call (unplugged, sound server gone)."""


# ---------------------------------------------------------------------------------------------------------------
# PortAudio access
# ---------------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silence the C libraries' stderr chatter (ALSA probing every plugin) for the duration of the block."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def _sd() -> Any:
    """The sounddevice module, or a DeviceError when PortAudio itself is missing."""
    try:
        with _quiet_c_stderr():
            import sounddevice
    except OSError as exc:
        raise DeviceError(
            f"the PortAudio library is not installed ({exc}); install it (Debian/Ubuntu: apt install "
            "libportaudio2), or without audio devices try `voice-trainer demo` or `--answers` file mode"
        ) from None
    return sounddevice


def reinitialize() -> None:
    """Re-scan devices: PortAudio reads the device list (and the sound server's address) only when it starts.

    Call this after a sound server started or its environment (``XDG_RUNTIME_DIR``, ``PULSE_SERVER``) changed;
    a PulseAudio daemon started after ``import sounddevice`` is otherwise invisible.
    """
    sd = _sd()
    with _quiet_c_stderr():
        sd._terminate()
        sd._initialize()


class StderrCapture:
    """Send the process's stderr file descriptor (fd 2) to a file (appended) until :meth:`stop`.

    ALSA and PortAudio write straight to fd 2 from their own threads ("underrun occurred" lines under load,
    1,857 of them in 47 s once), which pushes a live display off the screen. During a call they go to the
    session's log instead. :meth:`start` may be called again to switch files (e.g. from a temporary log to the
    session folder once it exists); Python's ``sys.stderr`` is flushed at each switch.
    """

    def __init__(self) -> None:
        self._saved: int | None = None
        self.path: Path | None = None

    def start(self, path: str | os.PathLike) -> None:
        import sys

        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if self._saved is None:
            try:
                self._saved = os.dup(2)
            except OSError:
                return
        with open(path, "ab") as log:
            os.dup2(log.fileno(), 2)
        self.path = Path(path)

    def stop(self) -> None:
        """Give fd 2 back (safe to call twice)."""
        import sys

        if self._saved is None:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._saved = None


@contextlib.contextmanager
def stderr_to(path: str | os.PathLike) -> Iterator[Path]:
    """:class:`StderrCapture` as a context manager: fd 2 goes to ``path`` for the duration of the block."""
    cap = StderrCapture()
    cap.start(path)
    try:
        yield Path(path)
    finally:
        cap.stop()


_XRUN_TEXT = re.compile(rb"underrun|overrun|xrun", re.IGNORECASE)


def count_native_xruns(text: bytes) -> int:
    """How many dropout reports (``underrun occurred``, ``overrun``, ``xrun``) a chunk of native log holds."""
    return len(_XRUN_TEXT.findall(text))


def loopback_correlation(mic: np.ndarray, reference: np.ndarray, sample_rate: int, max_lag_s: float
                         ) -> tuple[float, float]:
    """How closely ``mic`` copies ``reference`` near zero delay: the best normalised correlation and its lag.

    Parameters
    ----------
    mic, reference : np.ndarray
        Same-length mono tracks on one timeline (``reference[i]`` sounded while ``mic[i]`` was captured).
    sample_rate : int
        Rate of both tracks (Hz).
    max_lag_s : float
        Lags from ``-max_lag_s`` to ``+max_lag_s`` (s) are searched.

    Returns
    -------
    (correlation, lag_s)
        The normalised correlation (0-1; 1: the microphone is a delayed copy of the output) at the best lag
        (seconds the microphone is late). ``(0.0, 0.0)`` for silent or empty tracks.
    """
    n = min(len(mic), len(reference))
    if n == 0:
        return 0.0, 0.0
    a = np.asarray(mic[:n], np.float64)
    b = np.asarray(reference[:n], np.float64)
    k = min(int(max_lag_s * sample_rate), n - 1)
    size = 1 << int(math.ceil(math.log2(2 * n)))
    c = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.r_[c[: k + 1], c[size - k :]] if k > 0 else c[:1]
    lag_idx = np.r_[np.arange(k + 1), np.arange(-k, 0)] if k > 0 else np.zeros(1, int)
    best = int(np.argmax(lags))
    lag = int(lag_idx[best])
    seg_a = a[max(0, lag) : n + min(0, lag)]
    seg_b = b[max(0, -lag) : n - max(0, lag)]
    norm = float(np.linalg.norm(seg_a) * np.linalg.norm(seg_b))
    if norm <= 0.0:
        return 0.0, 0.0
    return float(np.dot(seg_a, seg_b) / norm), lag / sample_rate


class SourceWatch:
    """Follows which PulseAudio/PipeWire source this process's microphone stream records from (via ``pactl``).

    When the microphone's source disappears (unplugged, its module unloaded), the sound server silently moves
    the recording to another source, often the monitor of our own output; PortAudio sees nothing. ``pactl
    subscribe`` reports the move at once: ``on_lost(why)`` is then called (from the watcher's thread).
    Does nothing when ``pactl`` is missing or no sound server answers (a plain ALSA card, another OS).
    """

    _EVENT = re.compile(r"Event '(\w+)' on (source-output|source) #(\d+)")

    def __init__(self, on_lost: Callable[[str], None]) -> None:
        self.on_lost = on_lost
        self.pactl = shutil.which("pactl")
        self.outputs: dict[int, int] = {}  # our source-output index -> its source index
        self.exclude: set[int] = set()  # our recording streams from before this one opened (not ours to watch)
        self.source_names: dict[int, str] = {}
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _run(self, *args: str) -> str:
        assert self.pactl is not None
        return subprocess.run([self.pactl, *args], capture_output=True, text=True, timeout=5).stdout

    def _ours(self) -> dict[int, int]:
        """Source-outputs of this process and their sources (long listing, parsed)."""
        out: dict[int, int] = {}
        idx = src = None
        for line in self._run("list", "source-outputs").splitlines():
            line = line.strip()
            if line.startswith("Source Output #"):
                idx, src = int(line.split("#")[1]), None
            elif line.startswith("Source:") and idx is not None:
                with contextlib.suppress(ValueError):
                    src = int(line.split(":", 1)[1])
            elif (line.startswith("application.process.id") and idx is not None and src is not None
                  and line.split("=", 1)[1].strip().strip('"') == str(os.getpid())):
                out[idx] = src
        return out

    def _sources(self) -> dict[int, str]:
        names = {}
        for line in self._run("list", "short", "sources").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0].isdigit():
                names[int(parts[0])] = parts[1]
        return names

    def before_open(self) -> None:
        """Note this process's recording streams that exist before the stream to watch is opened."""
        if self.pactl is None:
            return
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            self.exclude = set(self._ours())

    def start(self) -> bool:
        """Find our recording stream and start watching; False when there is nothing to watch."""
        if self.pactl is None:
            return False
        try:
            self.outputs = {k: v for k, v in self._ours().items() if k not in self.exclude}
            if not self.outputs:
                return False
            self.source_names = self._sources()
            self._proc = subprocess.Popen([self.pactl, "subscribe"], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True)
        except (OSError, subprocess.SubprocessError):
            return False
        self._thread = threading.Thread(target=self._follow, name="source-watch", daemon=True)
        self._thread.start()
        return True

    def _name(self, src: int) -> str:
        return self.source_names.get(src, f"#{src}")

    def _follow(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if self._closed:
                return
            m = self._EVENT.search(line)
            if m is None:
                continue
            kind, what, idx = m.group(1), m.group(2), int(m.group(3))
            if what == "source" and kind == "remove" and idx in self.outputs.values():
                self.on_lost(f"the microphone ({self._name(idx)}) disappeared")
                return
            if what == "source-output" and idx in self.outputs:
                if kind == "remove":
                    self.on_lost("the sound server closed the microphone stream")
                    return
                try:
                    now = self._ours()
                except (OSError, subprocess.SubprocessError):
                    continue
                if idx in now and now[idx] != self.outputs[idx]:
                    self.source_names.update(self._sources())
                    self.on_lost(f"the microphone changed from {self._name(self.outputs[idx])} to "
                                 f"{self._name(now[idx])}")
                    return

    def close(self) -> None:
        self._closed = True
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=2)


# ---------------------------------------------------------------------------------------------------------------
# Listing and choosing devices
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: float
    is_default_input: bool = False
    is_default_output: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def label(self) -> str:
        return f"{self.index} {self.name!r}"


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio knows, with its channels, native rate and whether it is the default.

    An empty list means no device at all (no sound card and no sound server reachable).
    """
    sd = _sd()
    with _quiet_c_stderr():
        raw = list(sd.query_devices())
        apis = [h["name"] for h in sd.query_hostapis()]
        try:
            din, dout = sd.default.device
        except Exception:
            din, dout = -1, -1
    out = []
    for d in raw:
        i = int(d["index"])
        out.append(
            DeviceInfo(
                index=i,
                name=str(d["name"]),
                hostapi=apis[d["hostapi"]] if 0 <= d["hostapi"] < len(apis) else "?",
                max_input_channels=int(d["max_input_channels"]),
                max_output_channels=int(d["max_output_channels"]),
                default_samplerate_hz=float(d["default_samplerate"]),
                is_default_input=i == din,
                is_default_output=i == dout,
            )
        )
    return out


def _no_devices_error(kind: str) -> DeviceError:
    return DeviceError(
        f"no audio {kind} device found (no sound card, or the sound server (PulseAudio/PipeWire) is not running "
        f"or not reachable); {NEXT_STEPS}"
    )


def resolve_device(spec: int | str | None, kind: str, devices: list[DeviceInfo] | None = None) -> DeviceInfo:
    """Choose an input or output device from a command-line value.

    Parameters
    ----------
    spec : int, str or None
        A device index (``3`` or ``"3"``), a case-insensitive substring of its name (``"usb"``), or None for the
        system default.
    kind : {"input", "output"}
        Which direction the device must support.
    devices : list of DeviceInfo, optional
        The device list (default: :func:`list_devices`).

    Raises
    ------
    DeviceError
        No device, an unknown index or name (the message lists the choices), an ambiguous name, or a device
        without channels in that direction.
    """
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', not {kind!r}")
    devs = list_devices() if devices is None else devices

    def channels(d: DeviceInfo) -> int:
        return d.max_input_channels if kind == "input" else d.max_output_channels

    usable = [d for d in devs if channels(d) > 0]
    if not usable:
        raise _no_devices_error(kind)
    choices = ", ".join(d.label() for d in usable)
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        for d in usable:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d
        return usable[0]
    text = str(spec).strip()
    if isinstance(spec, int) or text.lstrip("-").isdigit():
        idx = int(text)
        for d in devs:
            if d.index == idx:
                if channels(d) == 0:
                    raise DeviceError(f"device {d.label()} has no {kind} channels; {kind} devices: {choices}")
                return d
        raise DeviceError(f"no {kind} device with index {idx}; {kind} devices: {choices}")
    matches = [d for d in usable if text.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == text.lower()]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"no {kind} device matches {text!r}; {kind} devices: {choices}")
    raise DeviceError(
        f"{text!r} matches several {kind} devices ({', '.join(d.label() for d in matches)}); give the index"
    )


def _open_error(exc: Exception, what: str) -> DeviceError:
    reason = " ".join(str(exc).split())[:160]
    return DeviceError(f"cannot open the audio {what} ({reason}); {NEXT_STEPS}")


# ---------------------------------------------------------------------------------------------------------------
# The duplex stream
# ---------------------------------------------------------------------------------------------------------------


class _Track:
    """A growing float32 array with an absolute start index; views of written samples never change."""

    def __init__(self) -> None:
        self._buf = np.zeros(SAMPLE_RATE * 8, np.float32)
        self._offset = 0  # absolute index of _buf[0]
        self._len = 0

    @property
    def end(self) -> int:
        return self._offset + self._len

    @property
    def start(self) -> int:
        return self._offset

    def append(self, x: np.ndarray) -> None:
        need = self._len + len(x)
        if need > len(self._buf):
            new = np.zeros(max(need, 2 * len(self._buf)), np.float32)
            new[: self._len] = self._buf[: self._len]
            self._buf = new  # old views stay valid: they keep the old array
        self._buf[self._len : need] = x
        self._len = need

    def get(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) in absolute indices; zeros where nothing was recorded (before start, after end)."""
        b = max(a, b)
        lo, hi = max(a, self._offset), min(b, self.end)
        if lo == a and hi == b:
            return self._buf[a - self._offset : b - self._offset]
        out = np.zeros(b - a, np.float32)
        if hi > lo:
            out[lo - a : hi - a] = self._buf[lo - self._offset : hi - self._offset]
        return out

    def discard_before(self, a: int) -> None:
        cut = min(max(0, a - self._offset), self._len)
        if cut <= 0:
            return
        keep = self._buf[cut : self._len].copy()
        self._buf = np.zeros(max(len(keep) * 2, SAMPLE_RATE * 8), np.float32)
        self._buf[: len(keep)] = keep
        self._offset += cut
        self._len = len(keep)


class Playback:
    """A caller line handed to :meth:`DuplexStream.play`; times are on the call timeline (seconds)."""

    def __init__(self, data: np.ndarray, device_rate: int, fade_frames: int) -> None:
        self._data = data
        self._fade_frames = max(1, fade_frames)
        self._pos = 0
        self._fade_done = -1  # >= 0 while fading
        self._stop_requested = False
        self._start_frame: int | None = None
        self._end_frame: int | None = None
        self._stream: DuplexStream | None = None
        self.start_s: float | None = None
        """When the first sample was heard on the call timeline, or None before it started."""
        self.end_s: float | None = None
        """When the last sample (after any fade) was heard, or None while still playing."""
        self.stopped_early = False
        self.duration_s = len(data) / device_rate

    def _fill(self, out: np.ndarray, frame0: int) -> None:
        """Write the next block (audio callback thread only)."""
        if self._start_frame is None:
            self._start_frame = frame0
        n = min(len(out), len(self._data) - self._pos)
        out[:n] = self._data[self._pos : self._pos + n]
        out[n:] = 0.0
        if self._stop_requested and self._fade_done < 0:
            self._fade_done = 0
            self.stopped_early = True
        if self._fade_done >= 0:
            left = self._fade_frames - self._fade_done
            k = np.arange(self._fade_done, self._fade_done + n, dtype=np.float32)
            out[:n] *= np.clip(1.0 - k / self._fade_frames, 0.0, 1.0)
            self._fade_done += n
            if left <= n:
                out[left:] = 0.0
                n = left
                self._pos = len(self._data)
        self._pos += n
        if self._pos >= len(self._data):
            self._end_frame = frame0 + n

    @property
    def started(self) -> bool:
        return self.start_s is not None

    @property
    def done(self) -> bool:
        """The line has finished sounding, as heard on the microphone's timeline."""
        return self.end_s is not None and self._stream is not None and self._stream.now_s >= self.end_s

    def stop(self) -> None:
        """Fade the line out over ``fade_out_s`` (about 50 ms): the caller stops talking."""
        self._stop_requested = True


ShouldStop = Callable[[np.ndarray], bool]
BargeIn = Callable[[np.ndarray, np.ndarray], bool]


class DuplexStream:
    """Play the caller and record the microphone together on one clock.

    Parameters
    ----------
    input_device, output_device : int, str or None
        As for :func:`resolve_device` (index, name substring, or None for the default).
    cfg : PracticeConfig, optional
        Latency, block size, warm-up, fade, end-of-turn thresholds.
    sample_rate : int
        Rate of the tracks handed out (Hz); the device itself runs at its native rate.

    Use as a context manager (``with DuplexStream() as duplex:``), or call :meth:`open` and :meth:`close`. Open
    one stream per session and keep it running: starting one costs 0.5-2 s through PulseAudio.
    Every method may raise :class:`DeviceLostError` once the device has gone away.

    Notes
    -----
    The microphone track is the call timeline. For each microphone block the stream asks which output frame was
    sounding at the block's ``inputBufferAdcTime``, using the output blocks' ``outputBufferDacTime``: the
    difference between the two frame counters is the round trip ``d`` (the median of the last few blocks, in
    16 kHz samples), and the reference sample beside microphone sample ``i`` is the output sample ``i - d``.
    ``d`` is not frozen: through PulseAudio it drifts by about 0.5 ms per second and jumps after a resync, and
    the callbacks' times followed the measured loopback delay within about 1 ms (bench/bench_devices.py).

    With ``duplex_mode="single"`` one ``sounddevice.Stream`` drives both directions on one clock (``d`` is then
    simply ``outputBufferDacTime - inputBufferAdcTime`` of each callback). Through PortAudio's ALSA route to
    PulseAudio that stream stalled for about 1.9 s at start and kept the microphone 1.9 s late for the whole
    call, so the default is ``"pair"``: an InputStream and an OutputStream on the same devices, whose callback
    times share PortAudio's clock.
    """

    _ANCHOR_BLOCKS = 9  # microphone blocks in the running median of the alignment readings
    _STALL_GAP_S = 0.25  # a pause between callbacks longer than this restarts the warm-up
    _CHECK_S = 0.25  # how often the pump looks at the native log and for a loopback (s)
    _REF_WAIT_S = 0.5  # longest a microphone block's reference waits for the output it heard (s of microphone)

    def __init__(
        self,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        *,
        cfg: PracticeConfig | None = None,
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        self.cfg = cfg or PracticeConfig()
        if self.cfg.duplex_mode not in ("pair", "single"):
            raise UserError(f"practice.duplex_mode must be 'pair' or 'single', not {self.cfg.duplex_mode!r}")
        self.sample_rate = sample_rate
        self._input_spec = input_device
        self._output_spec = output_device
        self.input_device: DeviceInfo | None = None
        self.output_device: DeviceInfo | None = None
        self.device_rate = 0
        self.blocksize = 0
        self.latency: tuple[float, float] | None = None
        """PortAudio's nominal (input, output) latency in seconds."""
        self.input_delay_s = math.nan
        """How late microphone audio reaches the callback (currentTime - inputBufferAdcTime), latest block."""
        self.xruns = 0
        """Callbacks that reported an underflow or overflow."""
        self.timing_from_callbacks = False
        """False while PortAudio gives no usable ADC/DAC times (the nominal latencies are used instead)."""
        self.alignment_rejected = 0
        """Alignment readings outside ``min_alignment_s``-``max_alignment_s`` (taken across xruns), not used."""
        self._streams: list[Any] = []
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._mic = _Track()  # microphone, call timeline
        self._ref = _Track()  # played signal aligned with _mic, call timeline; may lag _mic (see _fill_reference)
        self._ref_waiting: collections.deque[tuple[int, int, float | None]] = collections.deque()
        self._out = _Track()  # played signal, output timeline
        self._rs_in: Any = None
        self._rs_out: Any = None
        self._in_frames = 0  # callback-side frame counters (device rate)
        self._out_frames = 0
        self._delay16 = 0
        self._in_anchor: list[float] = []  # recent alignment readings (s), one per microphone block
        self._out_anchor: list[float] = []  # output frame - rate * its DAC time, recent blocks
        self._in_clock: list[float] = []  # input frame / rate - its ADC time (s), recent blocks
        self._last_dac = 0.0
        self.skipped_blocks = 0
        """Output blocks PortAudio asked for that could not sound (no later DAC time than the block before):
        silence was written and the caller's line did not advance."""
        self._warm: list[tuple[float, float, float]] = []
        self._current: Playback | None = None
        self._pending: Playback | None = None
        self._error: DeviceError | None = None
        self._ready = threading.Event()
        self._stop_pump = threading.Event()
        self._pump_thread: threading.Thread | None = None
        self._closing = False
        self._last_wall = {"in": 0.0, "out": 0.0}
        self._run_start = {"in": math.inf, "out": math.inf}
        self._level = -math.inf
        self.native_log: Path | None = None
        """Where fd 2 goes during the call (see :func:`stderr_to`); its dropout reports are counted."""
        self.native_xruns = 0
        """Dropout reports the native libraries wrote to :attr:`native_log` ("underrun occurred")."""
        self._native_pos = 0
        self._xrun_times: list[float] = []  # wall times of recent dropouts, for :attr:`busy`
        self._watch: SourceWatch | None = None
        self.watching_source = False
        """True while the sound server's source of the microphone is followed (``practice.watch_sound_server``)."""
        self.loopback: tuple[float, float] | None = None
        """The latest loopback reading: (correlation, lag s) of the microphone with the caller's output."""
        self._checks_at = 0.0
        self.callback_hook: Callable[[str], None] | None = None
        """Called at the start of every audio callback with ``"in"``, ``"out"`` or ``"duplex"`` (tests use it
        to stall the callback thread for real, as a starved machine does)."""

    # ---- life cycle ------------------------------------------------------------------------------------------

    def __enter__(self) -> DuplexStream:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _make_streams(self, sd: Any, rate: int, lat: str | float) -> list[Any]:
        common = {
            "samplerate": rate,
            "blocksize": max(64, int(round(self.cfg.block_s * rate))),
            "dtype": "float32",
            "latency": lat,
            "finished_callback": self._finished,
        }
        assert self.input_device is not None and self.output_device is not None
        if self.cfg.duplex_mode == "single":
            dev = (self.input_device.index, self.output_device.index)
            return [sd.Stream(channels=(1, 1), device=dev, callback=self._cb_duplex, **common)]
        streams = [sd.InputStream(channels=1, device=self.input_device.index, callback=self._cb_in, **common)]
        try:
            streams.append(
                sd.OutputStream(channels=1, device=self.output_device.index, callback=self._cb_out, **common)
            )
        except Exception:
            streams[0].close()
            raise
        return streams

    def open(self) -> DuplexStream:
        """Open the devices, start streaming and wait until audio flows steadily in both directions.

        Raises
        ------
        DeviceError
            No device, an unknown device, or a device that cannot be opened or never starts.
        """
        if self._streams:  # already open (``with DuplexStream(...).open() as d`` is fine)
            return self
        sd = _sd()
        devs = list_devices()
        self.input_device = resolve_device(self._input_spec, "input", devs)
        self.output_device = resolve_device(self._output_spec, "output", devs)
        if self.input_device.hostapi != self.output_device.hostapi:
            raise DeviceError(
                f"input {self.input_device.label()} ({self.input_device.hostapi}) and output "
                f"{self.output_device.label()} ({self.output_device.hostapi}) use different audio systems; "
                "choose two devices of the same one (see `voice-trainer devices`)"
            )
        lat: str | float = self.cfg.stream_latency
        with contextlib.suppress(ValueError):
            lat = float(lat)
        if self.cfg.watch_sound_server:
            self._watch = SourceWatch(self._fail)
            self._watch.before_open()
        rates = [int(self.input_device.default_samplerate_hz), int(self.output_device.default_samplerate_hz)]
        last_exc: Exception | None = None
        for rate in dict.fromkeys(r for r in [*rates, 48_000, 44_100] if r > 0):
            try:
                with _quiet_c_stderr():
                    self._streams = self._make_streams(sd, rate, lat)
                self.device_rate = rate
                break
            except (sd.PortAudioError, ValueError) as exc:
                last_exc = exc
        if not self._streams:
            assert last_exc is not None
            raise _open_error(last_exc, f"devices {self.input_device.label()} / {self.output_device.label()}")
        first = self._streams[0]
        self.blocksize = int(first.blocksize)
        lats = [first.latency] if len(self._streams) == 1 else [s.latency for s in self._streams]
        self.latency = (float(np.ravel(lats[0])[0]), float(np.ravel(lats[-1])[-1]))
        self._rs_in = soxr.ResampleStream(self.device_rate, self.sample_rate, 1, dtype="float32")
        self._rs_out = soxr.ResampleStream(self.device_rate, self.sample_rate, 1, dtype="float32")
        self._pump_thread = threading.Thread(target=self._pump_loop, name="duplex-pump", daemon=True)
        self._pump_thread.start()
        try:
            with _quiet_c_stderr():
                for s in self._streams:
                    s.start()
        except sd.PortAudioError as exc:
            self.close()
            raise _open_error(exc, "audio stream") from None
        if not self._ready.wait(self.cfg.start_timeout_s) or self._error is not None:
            err = self._error
            self.close()
            if err is not None:
                raise DeviceError(str(err).split("; the call was ended")[0] + f"; {NEXT_STEPS}")
            raise DeviceError(
                f"the audio devices opened but delivered no steady audio within {self.cfg.start_timeout_s:g} s "
                f"(microphone delay {self.input_delay_s:.2f} s); {NEXT_STEPS}"
            )
        if self._watch is not None:
            self.watching_source = self._watch.start()
        return self

    def close(self) -> None:
        """Stop streaming and release the devices (safe to call twice)."""
        self._closing = True
        if self._watch is not None:
            self._watch.close()
        for s in self._streams:
            with contextlib.suppress(Exception), _quiet_c_stderr():
                s.abort()
            with contextlib.suppress(Exception), _quiet_c_stderr():
                s.close()
        self._stop_pump.set()
        if self._pump_thread is not None and self._pump_thread is not threading.current_thread():
            self._pump_thread.join(timeout=2.0)

    # ---- audio threads: fill the output, hand the blocks over ------------------------------------------------

    def _fill_out(self, out: np.ndarray, status: Any, dac: float) -> None:
        frame0 = self._out_frames
        events: list[tuple[str, Playback, int, float]] = []
        # After an underrun PortAudio's ALSA route to PulseAudio asked for blocks far faster than real time, all
        # with the same DAC time (2,132 of 3,068 blocks, 43 s of audio, in one loaded call): such blocks never
        # sound. The line must not advance through them (its end was lost), so they get silence.
        silent = dac > 0 and self._last_dac > 0 and dac - self._last_dac < 0.5 * len(out) / max(self.device_rate, 1)
        self._last_dac = dac if dac > 0 else self._last_dac
        self.skipped_blocks += int(silent)
        pb = self._current
        if pb is None and self._pending is not None and not silent:
            pb = self._current = self._pending
            self._pending = None
        if silent:
            out.fill(0.0)
        elif pb is not None:
            started = pb._start_frame is not None
            pb._fill(out, frame0)
            if not started:
                events.append(("start", pb, frame0, dac))
            if pb._end_frame is not None:
                events.append(("end", pb, pb._end_frame, dac + (pb._end_frame - frame0) / self.device_rate
                               if dac > 0 else 0.0))
                self._current = None
        else:
            out.fill(0.0)
        self._q.put(("out", frame0, out.copy(), dac, bool(status), time.monotonic(), events))
        self._out_frames = frame0 + len(out)

    def _put_in(self, block: np.ndarray, status: Any, adc: float, cur: float) -> None:
        self._q.put(("in", self._in_frames, block.copy(), adc, cur, bool(status), time.monotonic()))
        self._in_frames += len(block)

    def _cb_duplex(self, indata, outdata, frames, ti, status) -> None:  # noqa: ANN001 (PortAudio's)
        if self.callback_hook is not None:
            self.callback_hook("duplex")
        self._fill_out(outdata[:, 0], status, ti.outputBufferDacTime)
        self._put_in(indata[:, 0], status, ti.inputBufferAdcTime, ti.currentTime)

    def _cb_in(self, indata, frames, ti, status) -> None:  # noqa: ANN001
        if self.callback_hook is not None:
            self.callback_hook("in")
        self._put_in(indata[:, 0], status, ti.inputBufferAdcTime, ti.currentTime)

    def _cb_out(self, outdata, frames, ti, status) -> None:  # noqa: ANN001
        if self.callback_hook is not None:
            self.callback_hook("out")
        self._fill_out(outdata[:, 0], status, ti.outputBufferDacTime)

    def _finished(self) -> None:
        if not self._closing:
            self._q.put(None)

    # ---- pump thread: resample, align, meter, watchdog --------------------------------------------------------

    def _pump_loop(self) -> None:
        try:
            self._pump()
        except Exception as exc:  # a bug here must end the call with an error, never leave it waiting forever
            self._fail(f"audio processing failed ({type(exc).__name__}: {exc})")

    def _pump(self) -> None:
        while not self._stop_pump.is_set():
            try:
                items = [self._q.get(timeout=0.02)]
            except queue.Empty:
                items = []
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._q.get_nowait())
            for item in items:
                if item is None:
                    self._fail("the audio device stopped (unplugged, or the sound server went away)")
                    return
                if item[0] == "out":
                    self._process_out(*item[1:])
                else:
                    self._process_in(*item[1:])
            if items:
                n = int(self.cfg.meter_window_s * self.sample_rate)
                with self._lock:
                    self._level = level_dbfs(self._mic.get(max(self._mic.start, self._mic.end - n), self._mic.end))
            if self._ready.is_set() and not self._closing and time.monotonic() - self._checks_at >= self._CHECK_S:
                self._checks_at = time.monotonic()
                self._count_native_xruns()
                if self._loopback_check():
                    return
            if self._ready.is_set() and not self._closing and self._streams:
                if time.monotonic() - min(self._last_wall.values()) > self.cfg.device_timeout_s:
                    self._fail(f"the audio device delivered nothing for {self.cfg.device_timeout_s:g} s")
                    return
                if not all(s.active for s in self._streams):
                    self._fail("the audio device stopped (unplugged, or the sound server went away)")
                    return

    def _count_native_xruns(self) -> None:
        """Count the dropout reports the native libraries appended to :attr:`native_log` since the last look."""
        if self.native_log is None:
            return
        try:
            with open(self.native_log, "rb") as f:
                f.seek(self._native_pos)
                chunk = f.read()
        except OSError:
            return
        cut = chunk.rfind(b"\n") + 1  # whole lines only
        self._native_pos += cut
        k = count_native_xruns(chunk[:cut])
        if k:
            self.native_xruns += k
            self._xrun_times.extend([time.monotonic()] * min(k, 1000))

    def _loopback_check(self) -> bool:
        """End the call when the microphone has become a copy of the caller's output (True: it was ended)."""
        pc = self.cfg
        if pc.loopback_corr > 1.0:
            return False
        n = int(pc.loopback_window_s * self.sample_rate)
        with self._lock:
            end = self._mic.end
            if end - self._mic.start < n:
                return False
            ref = self._reference(end - n, end).copy()
            mic = self._mic.get(end - n, end).copy()
        if level_dbfs(ref) < pc.loopback_min_dbfs:
            return False
        corr, lag = loopback_correlation(mic, ref, self.sample_rate, pc.loopback_max_lag_s)
        self.loopback = (corr, lag)
        if corr >= pc.loopback_corr:
            self._fail(f"the microphone now records a copy of the caller's own output (correlation {corr:.2f} "
                       f"at {1000 * lag:.0f} ms): the microphone was lost or changed")
            return True
        return False

    @property
    def busy(self) -> bool:
        """Dropouts came thick and fast: at least ``busy_xruns`` within the last ``busy_window_s``."""
        cut = time.monotonic() - self.cfg.busy_window_s
        recent = [t for t in self._xrun_times if t >= cut]
        self._xrun_times = recent
        return len(recent) >= self.cfg.busy_xruns

    @property
    def dropouts(self) -> int:
        """All dropouts so far: callbacks reporting an under/overflow plus the native libraries' reports."""
        return self.xruns + self.native_xruns

    def _note_wall(self, kind: str, wall: float) -> None:
        if wall - self._last_wall[kind] > self._STALL_GAP_S:
            self._run_start[kind] = wall
            self._warm = []
            # times read during and just before a stall were off by up to seconds: start the anchors afresh
            if kind == "in":
                self._in_anchor = []
                self._in_clock = []
            else:
                self._out_anchor = []
        self._last_wall[kind] = wall

    def _process_out(self, frame0: int, outb: np.ndarray, dac: float, xrun: bool, wall: float, events: list) -> None:
        self._note_wall("out", wall)
        self.xruns += int(xrun)
        if xrun:
            self._xrun_times.append(wall)
        if dac > 0:
            self._out_anchor = [*self._out_anchor[-3:], frame0 - self.device_rate * dac]
        y = self._rs_out.resample_chunk(outb)
        with self._lock:
            self._out.append(y)
            self._fill_reference()
        for kind, pb, frame, t_dac in events:
            if t_dac > 0 and self._in_clock:
                # placed by when the block sounds (its DAC time) on the microphone's clock: not through the
                # round trip, which lags behind a jump of the output's frame count by several blocks
                t = t_dac + float(np.median(self._in_clock))
            else:
                t = (frame * self.sample_rate / self.device_rate + self._delay16) / self.sample_rate
            if kind == "start":
                pb.start_s = t
            else:
                pb.end_s = t

    def _process_in(self, frame0: int, inb: np.ndarray, adc: float, cur: float, xrun: bool, wall: float) -> None:
        self._note_wall("in", wall)
        if self.cfg.duplex_mode == "pair":
            self.xruns += int(xrun)
            if xrun:
                self._xrun_times.append(wall)
        clock = None  # input frame - rate * its ADC time (device frames), when PortAudio gave the times
        if adc > 0 and cur > 0:
            self.input_delay_s = float(cur - adc)
            # the call timeline at PortAudio time T is T + (this): input frames counted minus their ADC times
            self._in_clock = [*self._in_clock[-(self._ANCHOR_BLOCKS - 1):], frame0 / self.device_rate - adc]
            clock = frame0 - self.device_rate * adc
        y = self._rs_in.resample_chunk(inb)
        with self._lock:
            a = self._mic.end
            self._mic.append(y)
            self._ref_waiting.append((a, self._mic.end, clock))
            d = self._round_trip_s(clock)[1]  # with this block's reading, also while its reference waits
            self._fill_reference()
        if not self._ready.is_set():
            self._warm.append((wall, d, self.input_delay_s if math.isfinite(self.input_delay_s) else 0.0))
            window = [(x, y) for w, x, y in self._warm if w >= wall - self.cfg.warmup_s]
            spread_ms = 1000 * max(max(v) - min(v) for v in zip(*window, strict=True)) if window else math.inf
            flowing = wall - max(self._run_start.values()) >= self.cfg.warmup_s
            max_delay = max(self.cfg.max_input_delay_s, 2 * (self.latency or (0.0, 0.0))[0])
            fresh = not math.isfinite(self.input_delay_s) or self.input_delay_s <= max_delay
            if flowing and fresh and spread_ms <= self.cfg.timing_settle_ms:
                self._ready.set()

    def _round_trip_s(self, clock: float | None) -> tuple[list[float], float]:
        """The alignment readings with a microphone block's reading added, and the round trip they give (s).

        A reading is the input frame minus the output frame sounding at the block's ADC time (the newest output
        block's DAC time extrapolated at the nominal rate); the median of the last few smooths jitter. Without
        usable ADC/DAC times (yet) the nominal latencies stand in.
        """
        readings = self._in_anchor
        if clock is not None and self._out_anchor:
            reading = (clock - self._out_anchor[-1]) / self.device_rate
            readings = [*self._in_anchor[-(self._ANCHOR_BLOCKS - 1) :], reading]
        if readings:
            return readings, float(np.median(readings))
        return readings, sum(self.latency or (0.0, 0.0))

    def _fill_reference(self, force: bool = False) -> None:
        """Write the reference beside the microphone blocks whose output has been handed over (lock held).

        A microphone block hears output written before it sounded, so its reference waits until the output
        track reaches it. Under load the output callback runs late now and then (a stall, then a burst of
        blocks): filling the reference at once wrote silence where the caller was heard (up to 0.1 s at a time,
        measured under load in the stall test), and read the round trip from output times of before the stall.
        A block waits at most ``_REF_WAIT_S`` (or until ``force``); what is missing then stays silence.
        """
        while self._ref_waiting:
            a, b, clock = self._ref_waiting[0]
            readings, d = self._round_trip_s(clock)
            d16 = int(round(d * self.sample_rate))
            late = force or (self._mic.end - a) / self.sample_rate >= self._REF_WAIT_S
            if self._out.end < b - d16 and not late:
                return
            self._ref_waiting.popleft()
            self._in_anchor = readings
            self.timing_from_callbacks = bool(readings)
            self._delay16 = d16
            start = self._ref.end
            if b > start:
                self._ref.append(self._out.get(start - d16, b - d16))

    def _reference(self, a: int, b: int) -> np.ndarray:
        """Reference samples [a, b) (lock held). Where blocks still wait for their output: provisionally from the
        output track with the current round trip (silence where the output was not handed over yet)."""
        ref = self._ref.get(a, b)
        lo = max(a, self._ref.end)
        if lo < b:
            ref = ref.copy()
            ref[lo - a :] = self._out.get(lo - self._delay16, b - self._delay16)
        return ref

    def _fail(self, why: str) -> None:
        if self._error is None:
            self._error = DeviceLostError(
                f"{why}; the call was ended and what was recorded so far was kept; check the device and "
                "`voice-trainer devices`"
            )
        self._ready.set()

    def check(self) -> None:
        """Raise :class:`DeviceLostError` if the device has gone away."""
        if self._error is None and self._pump_thread is not None and not self._pump_thread.is_alive() \
                and not self._closing:
            self._fail("audio processing stopped")
        if self._error is not None:
            raise self._error

    # ---- timeline ----------------------------------------------------------------------------------------------

    @property
    def now_s(self) -> float:
        """How much microphone audio has been recorded: the current end of the call timeline (s)."""
        return self._mic.end / self.sample_rate

    @property
    def alignment_s(self) -> float:
        """Current offset between the tracks: ``reference[i]`` is the output sample ``i - alignment`` (s).

        With one full-duplex stream this is the device round trip (DAC time minus ADC time); with a stream pair
        it also holds the difference between the two streams' start times.
        """
        return self._delay16 / self.sample_rate

    @property
    def level_dbfs(self) -> float:
        """Live microphone level, RMS over the last ``meter_window_s`` (dBFS; -inf for digital silence)."""
        return self._level

    def tracks(self, start_s: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(reference, mic)`` between two timeline times (end defaults to now); 16 kHz, same length.

        The arrays are read-only views; copy them to keep them past :meth:`discard_before`. Raises
        :class:`DeviceLostError` after a device loss; :meth:`recorded` reads what is there regardless.
        """
        self.check()
        return self.recorded(start_s, end_s)

    def recorded(self, start_s: float, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`tracks` but never raises: what was recorded, also after the device was lost."""
        with self._lock:
            a = int(round(start_s * self.sample_rate))
            b = self._mic.end if end_s is None else min(self._mic.end, int(round(end_s * self.sample_rate)))
            b = max(a, b)
            return self._reference(a, b), self._mic.get(a, b)

    def discard_before(self, t_s: float) -> None:
        """Forget audio before ``t_s`` on the timeline (memory stays bounded over long sessions)."""
        with self._lock:
            a = int(t_s * self.sample_rate)
            self._mic.discard_before(a)
            self._ref.discard_before(a)
            self._out.discard_before(a - self._delay16 - 2 * self.sample_rate)  # room for the round trip to move

    # ---- playback ------------------------------------------------------------------------------------------------

    def play(self, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Playback:
        """Start playing a caller line (mono float32 in [-1, 1]) as soon as possible; returns at once.

        A line given while another is playing starts when that one ends (one line may wait).
        """
        self.check()
        if self._pending is not None:
            raise RuntimeError("a caller line is already waiting to play")
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if sample_rate != self.device_rate:
            x = soxr.resample(x, sample_rate, self.device_rate).astype(np.float32, copy=False)
        pb = Playback(np.clip(x, -1.0, 1.0), self.device_rate, int(self.cfg.fade_out_s * self.device_rate))
        pb._stream = self
        self._pending = pb
        return pb

    @property
    def playing(self) -> Playback | None:
        """The line being played (or waiting), if any."""
        return self._current or self._pending

    def stop_playback(self) -> float | None:
        """Barge-in hook: fade out the caller's line within ``fade_out_s`` (about 50 ms).

        Returns the timeline time at which the stop was asked (now), or None when nothing was playing.
        """
        pending, current = self._pending, self._current
        self._pending = None
        if current is None and pending is None:
            return None
        if pending is not None:
            pending.stop()
            pending.stopped_early = True
        if current is not None:
            current.stop()
        return self.now_s

    def wait_until(self, t_s: float, timeout_s: float | None = None) -> None:
        """Block until the timeline reaches ``t_s`` (or ``timeout_s`` passes)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.now_s < t_s and (deadline is None or time.monotonic() < deadline):
            self.check()
            time.sleep(0.005)
        self.check()

    # ---- recording -------------------------------------------------------------------------------------------

    def record(self, duration_s: float, on_tick: Callable[[], None] | None = None) -> np.ndarray:
        """Record ``duration_s`` seconds of microphone (e.g. the calm calibration clip); 16 kHz float32."""
        start = self.now_s
        while self.now_s < start + duration_s:
            self.check()
            if on_tick is not None:
                on_tick()
            time.sleep(self.cfg.poll_s)
        return self.tracks(start, start + duration_s)[1].copy()

    def record_turn(
        self,
        line: np.ndarray | None = None,
        line_rate: int = SAMPLE_RATE,
        *,
        should_stop: ShouldStop | None = None,
        barge_in: BargeIn | None = None,
        max_answer_s: float | None = None,
        start_s: float | None = None,
        on_tick: Callable[[], None] | None = None,
        on_event: Callable[[str, float], None] | None = None,
        playback: Playback | None = None,
    ) -> TurnAudio:
        """One turn: play the caller's line (if any) while recording, then record the answer until it ends.

        Parameters
        ----------
        line : np.ndarray, optional
            The caller's line, mono float32 at ``line_rate`` Hz. None records an answer only.
        should_stop : callable, optional
            ``should_stop(answer_16k) -> bool``, called every ``poll_s`` with the microphone audio of the answer
            window so far (from the caller's end, or the barge-in, to now; a read-only view). It may carry a
            ``reason`` attribute naming why it stopped. Default: a fresh :class:`EnergyEndpointer`.
        barge_in : callable, optional
            ``barge_in(mic_16k, reference_16k) -> bool``, called every ``poll_s`` while the caller's line sounds,
            with the turn's aligned tracks so far. True fades the caller out (``fade_out_s``) and opens the
            answer window there; a caller who pushes on is a ``barge_in`` that returns False.
        max_answer_s : float, optional
            Longest answer window (default ``cfg.max_answer_s``).
        start_s : float, optional
            Where the turn starts on the timeline (default: now). Audio before it is discarded.
        on_tick : callable, optional
            Called every ``poll_s`` (e.g. to refresh a level meter from :attr:`level_dbfs`).
        on_event : callable, optional
            ``on_event(name, t_s)`` with name ``caller_start``, ``barge_in``, ``caller_end``, ``your_turn``,
            ``end``; ``t_s`` relative to the turn start.
        playback : Playback, optional
            The caller's line, already handed to :meth:`play` (it may have started sounding); instead of ``line``.

        Raises
        ------
        DeviceLostError
            The device went away; what was recorded stays readable through :meth:`recorded`.
        """
        self.check()
        t0 = self.now_s if start_s is None else start_s
        self.discard_before(t0)
        stop = should_stop if should_stop is not None else EnergyEndpointer(self.sample_rate, self.cfg)
        max_s = self.cfg.max_answer_s if max_answer_s is None else max_answer_s
        ev = on_event or (lambda name, t: None)
        pb = playback
        if pb is None and line is not None and len(line):
            pb = self.play(line, line_rate)
        barge_at: float | None = None
        answer_start: float | None = None if pb is not None else t0
        announced: set[str] = set()
        reason = "max_length"
        while True:
            time.sleep(self.cfg.poll_s)
            self.check()
            if on_tick is not None:
                on_tick()
            now = self.now_s
            if pb is not None:
                if "caller_start" not in announced and pb.start_s is not None and now >= pb.start_s:
                    announced.add("caller_start")
                    ev("caller_start", pb.start_s - t0)
                if pb.done and "caller_end" not in announced:
                    announced.add("caller_end")
                    ev("caller_end", (pb.end_s or now) - t0)
            if answer_start is None:
                assert pb is not None
                if barge_in is not None and "caller_start" in announced and not pb.done:
                    ref, mic = self.tracks(t0)
                    if barge_in(mic, ref):
                        barge_at = self.stop_playback() or now
                        answer_start = barge_at
                        ev("barge_in", barge_at - t0)
                        continue
                if pb.done:
                    answer_start = pb.end_s if pb.end_s is not None else now
                    ev("your_turn", answer_start - t0)
                continue
            _, answer = self.tracks(answer_start)
            if stop(answer):
                reason = getattr(stop, "reason", None) or "silence"
                break
            if now - answer_start >= max_s:
                reason = "max_length"
                break
        if pb is not None and not pb.done:
            pb.stop()
        end = self.now_s
        ref, mic = self.tracks(t0, end)
        ev("end", end - t0)
        return TurnAudio(
            sample_rate=self.sample_rate,
            start_s=t0,
            reference=ref.copy(),
            mic=mic.copy(),
            caller_start_s=None if pb is None or pb.start_s is None else pb.start_s - t0,
            caller_end_s=None if pb is None or pb.end_s is None else pb.end_s - t0,
            barge_in_s=None if barge_at is None else barge_at - t0,
            answer_start_s=answer_start - t0,
            end_reason=reason,
            extra={"alignment_s": round(self.alignment_s, 4), "xruns": self.xruns,
                   "native_xruns": self.native_xruns, "alignment_rejected": self.alignment_rejected,
                   "skipped_blocks": self.skipped_blocks},
        )
