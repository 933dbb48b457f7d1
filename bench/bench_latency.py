"""Voice-to-voice latency of live practice, through real PortAudio devices on virtual PulseAudio sinks.

A private PulseAudio daemon with null sinks stands in for the sound card (as in the tests); a virtual trainee
listens to the caller's sink and plays canned answers into the virtual microphone. For every reply of the
caller we measure the time from the trainee's last word to the first sound of the caller's next line, two ways:

* outside: on the trainee's clock (the end of speech in the answer file as played, to the first caller audio
  heard on the sink monitor);
* inside: on the practice session's own timeline (``reply_latency_s`` in the turn records: the endpointer's
  end of speech to the line's first sample at the loudspeaker).

The end-of-turn silence (``practice.end_silence_s``, 0.8 s by default) is part of the latency.

    .venv/bin/python bench/bench_latency.py [--calls 3]
"""

from __future__ import annotations

import argparse
import json
import os
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
    args = ap.parse_args()
    outside: list[float] = []
    inside: list[float] = []
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
            if proc.returncode != 0:
                sys.exit(f"practice failed: {proc.stderr[-500:]}")
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
            print(f"call {k + 1} ({scenario}): {len(ends)} answers")
    finally:
        va.kill()
    for name, xs in (("outside (trainee's clock)", outside), ("inside (session timeline)", inside)):
        if xs:
            print(f"{name}: n={len(xs)} p50 {statistics.median(xs):.2f} s, p95 {pct(xs, 95):.2f} s, "
                  f"min {min(xs):.2f} s, max {max(xs):.2f} s")


if __name__ == "__main__":
    main()
