"""Shared fixtures only.

``virtual_audio``: a private PulseAudio daemon with two null sinks, as /work/shared/docs/virtual-audio.md
describes, so tests use real PortAudio devices on a machine without a sound card:

* ``caller_out`` (default sink): where the simulated caller plays;
* ``mic_feed``: its monitor ``mic_feed.monitor`` is the default source, the "microphone"; play a canned answer
  into it with ``va.paplay(path)``.

The daemon runs under a private ``HOME`` and ``XDG_RUNTIME_DIR`` (so it never meets a developer's own daemon),
one per test module; each test starts with the defaults above. PortAudio reads the device list and the server's
address only when it initialises, so the fixture re-initialises it (``devices.reinitialize()``) after the daemon
is up and again after it is gone. Tests that need no daemon get ``no_audio_env``: environment variables for a
subprocess in which no sound server is reachable (and none is auto-spawned).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SINKS = ("caller_out", "mic_feed")

try:  # property tests draw the same examples on every run, so CI on any machine sees what a developer saw;
    # HYPOTHESIS_PROFILE=explore (or pytest --hypothesis-profile=explore) draws new ones to look for new failures
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("repeatable", derandomize=True, database=None)
    _hyp_settings.register_profile("explore", max_examples=1000, database=None)
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
except ImportError:  # hypothesis is a dev dependency; only the property tests need it
    pass


def pytest_report_header(config) -> str:
    """Which CTranslate2 kernels Whisper runs on: its words differ between kernel sets (``-m whisper`` tests)."""
    isa = os.environ.get("CT2_FORCE_CPU_ISA") or "chosen by CTranslate2 for this CPU"
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    return f"Whisper CPU kernels (CT2_FORCE_CPU_ISA): {isa}; CPU: {cpu or 'unknown'}"


class VirtualAudio:
    """A private PulseAudio daemon with null sinks (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.runtime = root / "run"
        self.home.mkdir(parents=True, exist_ok=True)
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.client_conf = root / "client.conf"
        self.client_conf.write_text("autospawn = no\n")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PULSE_")},
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PULSE_CLIENTCONFIG": str(self.client_conf),
        }
        self._players: list[subprocess.Popen] = []

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, check=check, timeout=10)

    def alive(self) -> bool:
        try:
            return self.pactl("info", check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        cmd = [
            "pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr",
            "--load=module-native-protocol-unix",
            *[f"--load=module-null-sink sink_name={s}" for s in SINKS],
            "--load=module-always-sink",
        ]  # fmt: skip
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=20)
        deadline = time.monotonic() + 10
        while not self.alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PulseAudio did not start: {proc.stderr.strip()[-400:]}")
            time.sleep(0.05)
        self.reset()

    def reset(self) -> None:
        """Default sink caller_out, default source mic_feed.monitor; stop anything still playing."""
        for p in self._players:
            if p.poll() is None:
                p.kill()
                p.wait()
        self._players.clear()
        self.set_defaults(sink="caller_out", source="mic_feed.monitor")

    def set_defaults(self, sink: str | None = None, source: str | None = None) -> None:
        """Change where PortAudio's ``default`` device plays to / records from (for the next stream opened)."""
        if sink:
            self.pactl("set-default-sink", sink)
        if source:
            self.pactl("set-default-source", source)

    def paplay(self, path: str | os.PathLike, device: str = "mic_feed") -> subprocess.Popen:
        """Start playing a file into a sink (default: the virtual microphone); returns the process."""
        p = subprocess.Popen(["paplay", f"--device={device}", str(path)], env=self.env)
        self._players.append(p)
        return p

    def kill(self) -> None:
        """Stop the daemon (also used by tests to make the device disappear mid-call)."""
        for p in self._players:
            if p.poll() is None:
                p.kill()
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True, timeout=10)
        deadline = time.monotonic() + 5
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)


def _reinit_portaudio() -> None:
    from voice_trainer.audio.devices import reinitialize

    reinitialize()


@pytest.fixture(scope="module")
def _pulse_daemon() -> Iterator[VirtualAudio]:
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio/pactl are not installed (apt install pulseaudio pulseaudio-utils libasound2-plugins)")
    pytest.importorskip("sounddevice", reason="sounddevice/PortAudio are not installed")
    root = Path(tempfile.mkdtemp(prefix="vt-pulse-"))
    va = VirtualAudio(root)
    with pytest.MonkeyPatch.context() as mp:
        for k in [k for k in os.environ if k.startswith("PULSE_")]:
            mp.delenv(k)
        for k in ("HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "PULSE_CLIENTCONFIG"):
            mp.setenv(k, va.env[k])
        va.start()
        _reinit_portaudio()
        try:
            yield va
        finally:
            va.kill()
    _reinit_portaudio()  # forget the daemon's devices once the real environment is back
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def virtual_audio(_pulse_daemon: VirtualAudio) -> VirtualAudio:
    """A running private PulseAudio daemon with ``caller_out`` and ``mic_feed`` null sinks (see module doc)."""
    if not _pulse_daemon.alive():  # a previous test killed it on purpose
        _pulse_daemon.start()
        _reinit_portaudio()
    _pulse_daemon.reset()
    return _pulse_daemon


@pytest.fixture
def no_audio_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess that can reach no sound server (and will not auto-spawn one)."""
    home, run = tmp_path / "home", tmp_path / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    conf = tmp_path / "client.conf"
    conf.write_text("autospawn = no\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), PULSE_CLIENTCONFIG=str(conf))
    return env
