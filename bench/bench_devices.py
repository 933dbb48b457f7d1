"""Round-trip latency of the duplex stream through virtual PulseAudio devices (no sound card needed).

    .venv/bin/python bench/bench_devices.py [--repeats 20] [--mode pair|single]

Starts a private PulseAudio daemon with a null sink ``caller_out`` and records from its monitor, so whatever
the stream plays comes straight back as "microphone" input (an electrical loopback, no acoustic path). For each
repeat it plays a 5 ms click with ``DuplexStream.play`` and measures:

* ``play->recorded``: wall time from the ``play()`` call until the click is in the microphone track that
  ``tracks()`` returns: what a session waits before it can see a sound it played (or a barge-in reacts);
* ``start_s error``: where the click really is in the microphone track minus where ``Playback.start_s`` says
  the line started, i.e. how well the callbacks' ADC/DAC times map playback onto the microphone timeline
  (the alignment of the reference track);
* the stream's open time, ``alignment_s``, the microphone's delay to the callback and xruns.

The voice-to-voice latency benchmark of the practice session builds on these numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SR = 16_000


def start_daemon(root: Path) -> dict[str, str]:
    home, run = root / "home", root / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    (root / "client.conf").write_text("autospawn = no\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(run), PULSE_CLIENTCONFIG=str(root / "client.conf"))
    subprocess.run(
        ["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit", "--load=module-native-protocol-unix",
         "--load=module-null-sink sink_name=caller_out", "--load=module-always-sink"],
        env=env, capture_output=True, check=False, timeout=20,
    )  # fmt: skip
    for _ in range(200):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.05)
    else:
        raise SystemExit("PulseAudio did not start")
    subprocess.run(["pactl", "set-default-sink", "caller_out"], env=env, check=True)
    subprocess.run(["pactl", "set-default-source", "caller_out.monitor"], env=env, check=True)
    os.environ.update({k: env[k] for k in ("HOME", "XDG_RUNTIME_DIR", "PULSE_CLIENTCONFIG")})
    return env


def pct(x: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(x), q))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--mode", choices=("pair", "single"), default="pair")
    ap.add_argument("--latency", default="high", help="PortAudio latency: high, low or seconds")
    args = ap.parse_args()
    if shutil.which("pulseaudio") is None:
        print("pulseaudio is not installed; nothing to measure", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="vt-bench-pulse-"))
    env = start_daemon(root)
    from voice_trainer.audio.devices import DuplexStream, reinitialize
    from voice_trainer.config import PracticeConfig

    reinitialize()
    # the microphone here IS the caller's output (an electrical loopback, on purpose): the guard that ends a
    # call when the microphone turns into a copy of the output is switched off (a correlation above 1)
    cfg = PracticeConfig(duplex_mode=args.mode, stream_latency=args.latency, loopback_corr=1.01)
    click = np.zeros(int(0.3 * SR), np.float32)
    click[: int(0.005 * SR)] = 0.5
    waits, errors, opens = [], [], []
    try:
        t = time.monotonic()
        duplex = DuplexStream(cfg=cfg).open()
        opens.append(time.monotonic() - t)
        with duplex:
            print(
                f"stream: {args.mode}, {duplex.device_rate} Hz, block {duplex.blocksize}, nominal latency "
                f"in/out {duplex.latency[0] * 1000:.0f}/{duplex.latency[1] * 1000:.0f} ms, opened in {opens[0]:.2f} s"
            )
            for _ in range(args.repeats):
                duplex.wait_until(duplex.now_s + 0.2)
                t0s = duplex.now_s
                t0 = time.monotonic()
                pb = duplex.play(click)
                seen = None
                while time.monotonic() - t0 < 3.0:
                    _, mic = duplex.tracks(t0s)
                    hit = np.flatnonzero(np.abs(mic) > 0.1)
                    if hit.size:
                        seen = t0s + hit[0] / SR
                        waits.append(time.monotonic() - t0)
                        break
                    time.sleep(0.002)
                if seen is None or pb.start_s is None:
                    print("click not recorded", file=sys.stderr)
                    continue
                errors.append(seen - pb.start_s)
                duplex.wait_until(duplex.now_s + 0.3)
            print(f"alignment_s {duplex.alignment_s:.4f}, microphone delay to callback "
                  f"{duplex.input_delay_s * 1000:.1f} ms, xruns {duplex.xruns}")  # fmt: skip
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    if not waits:
        return 1
    print(f"repeats: {len(waits)}")
    print(f"play->recorded (wall):   p50 {pct(waits, 50) * 1000:6.1f} ms   p95 {pct(waits, 95) * 1000:6.1f} ms")
    print("signed start_s errors (ms):", " ".join(f"{e * 1000:.1f}" for e in errors))
    abs_err = [abs(e) * 1000 for e in errors]
    print(f"start_s error |mic - predicted|: p50 {pct(abs_err, 50):5.2f} ms   p95 {pct(abs_err, 95):5.2f} ms   "
          f"max {max(abs_err):5.2f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
