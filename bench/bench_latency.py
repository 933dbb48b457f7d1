"""Voice-to-voice latency of live practice, through real PortAudio devices on virtual PulseAudio sinks.

A private PulseAudio daemon with null sinks stands in for the sound card (as in the tests); a virtual trainee
listens to the caller's sink and plays canned answers into the virtual microphone. For every reply of the
caller we measure the time from the trainee's last word to the first sound of the caller's next line, two ways:

* outside: on the trainee's clock (the end of speech in the answer file as played, to the first caller audio
  heard on the sink monitor);
* inside: on the practice session's own timeline (``reply_latency_s`` in the turn records: the endpointer's
  end of speech to the line's first sample at the loudspeaker).

The end-of-turn silence (``practice.end_silence_s``) is part of the latency. ``--cpu-load K`` keeps K busy
processes spinning during the calls (a loaded desk machine); the load average is printed with the figures. Each
reply's time is split (from the turn records) into the end-of-turn silence, the call loop between two answers
(analysis left after the silence, caller reaction, TTS render, disk, display) and the device until the first
sample sounded. The last line is ``voice-to-voice: n=N p50 X s p95 Y s`` (trainee's clock, as heard on the
devices).

    .venv/bin/python bench/bench_latency.py [--calls 3] [--cpu-load 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from conftest import VirtualAudio  # noqa: E402
from virtual_trainee import Answer, VirtualTrainee  # noqa: E402

from voice_trainer.audio import files as audio_io  # noqa: E402

SAMPLES = REPO / "audio_samples"
CALLS = [("double-charge", "good"), ("late-package", "good"), ("technician-no-show", "good")]


def trailing_silence_s(path: Path, threshold_dbfs: float = -45.0) -> float:
    x = audio_io.load(path)
    n = len(x) // 320
    lev = 10 * np.log10(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(lev > threshold_dbfs)[0]
    return (n - 1 - loud[-1]) * 0.02 if len(loud) else 0.0


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--cpu-load", type=int, default=0, metavar="K", help="busy processes during the calls")
    args = ap.parse_args()
    outside: list[float] = []
    inside: list[float] = []
    parts: dict[str, list[float]] = {}
    failed = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench still cleans up (daemon, loaders)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, args.cpu_load))]
    load_before = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="vt-latency-"))
    va = VirtualAudio(root)
    va.start()
    try:
        for k in range(args.calls):
            scenario, which = CALLS[k % len(CALLS)]
            files = sorted(SAMPLES.glob(f"{scenario}_{which}_*.wav"))
            answers = [Answer(str(f)) for f in files]
            session = root / f"s{k}"
            env = {**va.env, "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))}
            trainee = VirtualTrainee(env, answers).start()
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "voice_trainer", "practice", "--scenario", scenario, "--max-turns",
                     str(len(files)), "--seed", "1", "--session-dir", str(session), "--baseline",
                     str(SAMPLES / "baseline_calm.wav")],
                    env=env, capture_output=True, text=True, timeout=600,
                )
            finally:
                trainee.stop()
            if proc.returncode != 0:  # e.g. the devices gave no steady audio on a saturated machine: say so
                print(f"call {k + 1} ({scenario}) failed, left out: {proc.stderr.strip()[-300:]}")
                failed += 1
                continue
            # outside: answer end (minus the file's trailing silence) -> next caller_start
            ends = []
            tails = [trailing_silence_s(Path(a.path)) for a in answers]
            i = 0
            for name, t in trainee.log:
                if name == "answer_end":
                    ends.append(t - tails[min(i, len(tails) - 1)])
                    i += 1
            starts = [t for name, t in trainee.log if name == "caller_start"]
            for e in ends:
                nxt = [s for s in starts if s > e]
                if nxt:
                    outside.append(nxt[0] - e)
            for f in sorted(session.glob("turn_*.json")):
                extra = json.loads(f.read_text())["answer"].get("extra", {})
                for key in ("reply_latency_s", "final_reply_latency_s"):
                    if extra.get(key) is not None:
                        inside.append(float(extra[key]))
                for key, v in {**extra.get("reply_parts_s", {}), "render": extra.get("caller_render_s")}.items():
                    if v is not None and "reply_parts_s" in extra:
                        parts.setdefault(key, []).append(float(v))
                if extra.get("reply_latency_s") is not None:
                    print(f"  {f.stem}: {extra['reply_latency_s']:.2f} s {extra.get('reply_parts_s')} "
                          f"render {extra.get('caller_render_s')} xruns {extra.get('xruns')}")
            print(f"call {k + 1} ({scenario}): {len(ends)} answers")
    finally:
        va.kill()
        for p in busy:
            p.kill()
    load_after = os.getloadavg()
    print(f"load average: {load_before[0]:.2f} at start, {load_after[0]:.2f} at end (1 min); "
          f"--cpu-load {args.cpu_load}; {failed} of {args.calls} calls failed")
    for key, xs in parts.items():
        print(f"  part {key}: p50 {statistics.median(xs):.2f} s, p95 {pct(xs, 95):.2f} s, max {max(xs):.2f} s")
    for name, xs in (("outside (trainee's clock)", outside), ("inside (session timeline)", inside)):
        if xs:
            print(f"{name}: n={len(xs)} p50 {statistics.median(xs):.2f} s, p95 {pct(xs, 95):.2f} s, "
                  f"min {min(xs):.2f} s, max {max(xs):.2f} s")
    print(f"voice-to-voice: n={len(outside)} p50 {statistics.median(outside) if outside else float('nan'):.2f} s "
          f"p95 {pct(outside, 95):.2f} s")


if __name__ == "__main__":
    main()
