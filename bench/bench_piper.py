"""Piper vs pyttsx3 for the caller's voice, on one core: real-time factor and the latency a reply gains.

Usage: .venv/bin/python bench/bench_piper.py [--rounds N] [--core C] [--threads T]

The process is pinned to one CPU core (``sched_setaffinity``, like ``taskset -c C``) and piper's onnxruntime
runs with ``T`` intra-op threads (default 1), so both engines get the same single core. Lines: every scenario's
opening line at its persona's starting anger plus its furious ``vent`` line. Each round renders every line
with pyttsx3 then piper, alternating, uncached (fresh files, no cache). Reported, as medians over lines and
rounds:

* RTF: render wall time / audio duration (below 1: faster than real time);
* first audio ready: the time from asking for a line to a playable file (what a caller's reply waits for; the
  session renders whole lines), and the difference piper - pyttsx3 (the latency a reply gains);
* piper's first sentence: when its first sentence's audio exists (what a streamed render could start with).

The one-minute load average before and after is printed: the machine may be shared. Prints numbers only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import soundfile as sf  # noqa: E402

from voice_trainer.call import tts  # noqa: E402
from voice_trainer.call.scenarios import load_library  # noqa: E402


def lines() -> list[tuple[str, str, float]]:
    out = []
    for sid, sc in sorted(load_library().items()):
        out.append((sid, sc.lines_for("opening", "upset")[0], float(sc.persona.anger)))
        out.append((sid, sc.lines_for("vent", "furious")[0], 90.0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--core", type=int, default=None, help="CPU core to pin to (default: the last allowed one)")
    ap.add_argument("--threads", type=int, default=1, help="piper onnxruntime intra-op threads (default 1)")
    args = ap.parse_args()
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    print(f"pinned to core {core}; piper threads {args.threads}; load average before: "
          f"{os.getloadavg()[0]:.2f} (of {os.cpu_count()} cores)")
    if not tts.piper_available():
        sys.exit("the voice extra is not installed: pip install '.[voice]'")
    tts.set_piper_threads(args.threads)
    t0 = time.perf_counter()
    pv = tts.piper_voice(tts.PIPER_VOICE, args.threads)
    print(f"piper voice load (manifest check + onnxruntime session): {time.perf_counter() - t0:.2f} s")
    scenarios = load_library()
    work = lines()
    rtf: dict[str, list[float]] = {"pyttsx3": [], "piper": []}
    ready: dict[str, list[float]] = {"pyttsx3": [], "piper": []}
    gained, first_sentence = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: one line each (espeak-ng's start, onnxruntime's first run)
        sid, text, anger = work[0]
        for engine in ("pyttsx3", "piper"):
            tts.render_line(text, tts.voice_for(scenarios[sid].persona, anger, engine=engine), cache=False,
                            out=Path(tmp) / f"warm-{engine}.wav")
        n = 0
        for _ in range(args.rounds):
            for sid, text, anger in work:
                per = {}
                for engine in ("pyttsx3", "piper"):
                    n += 1
                    out = Path(tmp) / f"{n}.wav"
                    voice = tts.voice_for(scenarios[sid].persona, anger, engine=engine)
                    t = time.perf_counter()
                    tts.render_line(text, voice, cache=False, out=out)
                    dt = time.perf_counter() - t
                    dur = sf.info(str(out)).duration
                    rtf[engine].append(dt / dur)
                    ready[engine].append(dt)
                    per[engine] = dt
                gained.append(per["piper"] - per["pyttsx3"])
                from piper.config import SynthesisConfig

                t = time.perf_counter()
                next(iter(pv.synthesize(text, SynthesisConfig())))  # type: ignore[attr-defined]
                first_sentence.append(time.perf_counter() - t)
    med = statistics.median
    print(f"{len(work)} lines x {args.rounds} rounds, alternating engines, uncached")
    for engine in ("pyttsx3", "piper"):
        print(f"  {engine:8s} RTF median {med(rtf[engine]):.3f} (max {max(rtf[engine]):.3f}); "
              f"first audio ready median {med(ready[engine]) * 1000:.0f} ms (max {max(ready[engine]) * 1000:.0f} ms)")
    print(f"  a reply gains with piper: median {med(gained) * 1000:+.0f} ms (max {max(gained) * 1000:+.0f} ms)")
    print(f"  piper first sentence ready: median {med(first_sentence) * 1000:.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
