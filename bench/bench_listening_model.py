"""Cost of the learned listening detectors: warm time per reply, peak memory, cold start.

Usage::

    .venv/bin/python bench/bench_listening_model.py [--n 200] [--cold-repeats 3]

Budget (issue 15): under 30 ms per reply warm, under +150 MiB peak memory, cold start of ``analyze`` not slower by
more than 0.5 s. Each figure is the learned detectors ON minus OFF (``[listening] learned_model``):

* warm: ``analyze_listening`` on ``--n`` replies (1-4 sentences, with the caller's line, made from templates here),
  median ms per reply, after one warm-up reply;
* peak memory: max RSS of a fresh process that analyses the same replies;
* cold start: wall time of ``voice-trainer analyze --text ... --json`` in a fresh process (median of
  ``--cold-repeats``), the command a user runs; the model loads on the first reply.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD = r"""
import json, resource, statistics, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from bench_listening import make
from voice_trainer.config import ListeningConfig
from voice_trainer.analysis.listening.detect import analyze_listening
cfg = ListeningConfig(learned_model={on})
pairs = make({n}, seed=1)
t0 = time.perf_counter()
analyze_listening(pairs[0][0], caller_text=pairs[0][1], config=cfg)
first = time.perf_counter() - t0
times = []
for agent, caller in pairs:
    t = time.perf_counter()
    analyze_listening(agent, caller_text=caller, config=cfg)
    times.append(time.perf_counter() - t)
print(json.dumps({{"first_s": first, "median_ms": 1000 * statistics.median(times),
                  "p90_ms": 1000 * sorted(times)[int(0.9 * len(times))],
                  "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def child(on: bool, n: int) -> dict:
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), on=on, n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold(on: bool, repeats: int) -> float:
    exe = Path(sys.executable).with_name("voice-trainer")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(f"[listening]\nlearned_model = {'true' if on else 'false'}\n")
        walls = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([str(exe), "--config", str(cfg), "analyze", "--json", "--text",
                            "So the parcel is a week late. I'll chase the courier and call you back by five.",
                            "--caller-text", "My parcel is a week late and nobody tells me anything."],
                           capture_output=True, check=True, env={**os.environ, "VOICE_TRAINER_CONFIG": ""})
            walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cold-repeats", type=int, default=3)
    args = ap.parse_args()
    off, on = child(False, args.n), child(True, args.n)
    print(f"replies: {args.n} (1-4 sentences each, with the caller's line); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"warm per reply: rules {off['median_ms']:.1f} ms, rules + learned {on['median_ms']:.1f} ms median "
          f"(p90 {on['p90_ms']:.1f}); learned adds {on['median_ms'] - off['median_ms']:.1f} ms   [budget < 30 ms]")
    print(f"first reply in a process (loads the encoder and heads): {on['first_s']:.2f} s vs {off['first_s']:.2f} s")
    print(f"peak RSS: {off['maxrss_mib']:.0f} MiB -> {on['maxrss_mib']:.0f} MiB "
          f"(+{on['maxrss_mib'] - off['maxrss_mib']:.0f} MiB)   [budget < +150 MiB]")
    c_off, c_on = cold(False, args.cold_repeats), cold(True, args.cold_repeats)
    print(f"cold `voice-trainer analyze --text`: {c_off:.2f} s -> {c_on:.2f} s (+{c_on - c_off:.2f} s, median of "
          f"{args.cold_repeats})   [budget < +0.5 s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
