"""Caller voice benchmark: render every scenario's opening line cold, then again from the cache; and measure how
anger 90 differs from anger 10 on the rendered audio with the tone module.

Usage: .venv/bin/python bench/bench_tts.py [--no-measure] [--repeat N]

Uses a fresh temporary cache, so the numbers do not depend on what is already cached. Prints numbers only; no
thresholds are asserted here (tests check behaviour).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import soundfile as sf  # noqa: E402

from voice_trainer.call.caller import Caller  # noqa: E402
from voice_trainer.call.scenarios import load_library  # noqa: E402
from voice_trainer.call.tts import load_rendered, render_line, voice_for  # noqa: E402


def opening_lines() -> list[tuple[str, str, object]]:
    out = []
    for sid, sc in sorted(load_library().items()):
        line = Caller(sc, seed=0).opening()
        out.append((sid, line.text, voice_for(sc.persona, line.anger)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-measure", action="store_true", help="skip the anger 90 vs 10 measurements")
    ap.add_argument("--repeat", type=int, default=3, help="cached passes to time (default 3)")
    args = ap.parse_args()
    lines = opening_lines()
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as cache:
        t0 = time.perf_counter()
        per = []
        audio_s = 0.0
        for _sid, text, voice in lines:
            t1 = time.perf_counter()
            p = render_line(text, voice, cache_root=cache)
            per.append(time.perf_counter() - t1)
            audio_s += sf.info(str(p)).duration
        cold = time.perf_counter() - t0
        print(f"cold: {len(lines)} opening lines, {audio_s:.1f} s of audio rendered in {cold * 1000:.0f} ms "
              f"(median {statistics.median(per) * 1000:.1f} ms/line, max {max(per) * 1000:.1f} ms; "
              f"{audio_s / cold:.0f}x real time; first line includes engine start-up {per[0] * 1000:.0f} ms)")
        warm = []
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            for _sid, text, voice in lines:
                render_line(text, voice, cache_root=cache)
            warm.append(time.perf_counter() - t0)
        best = min(warm)
        print(f"cached: {len(lines)} lines in {best * 1000:.2f} ms (best of {len(warm)}; "
              f"{best / len(lines) * 1e6:.0f} us/line; {cold / best:.0f}x faster than cold)")

        if args.no_measure:
            return
        from voice_trainer.analysis import tone

        print("\nanger 90 vs anger 10, same text (the opening line), measured with voice_trainer.tone:")
        print(f"{'scenario':22} {'voice':18} {'speech s 10->90':>16} {'faster':>7} {'level dB':>15} {'louder':>7} "
              f"{'F0 Hz':>13} {'higher st':>9}")
        speed, loud, high = [], [], []
        for sid, text, voice in lines:
            m = {}
            for anger in (10, 90):
                y = load_rendered(render_line(text, voice_for(voice.voice, anger), cache_root=cache), 16_000)
                m[anger] = tone.summarize(tone.measure_frames(y, 16_000))
            a, b = m[10], m[90]
            ratio = a.active_s / b.active_s
            d_db = b.level_dbfs - a.level_dbfs
            d_st = 12 * math.log2(b.pitch_median_hz / a.pitch_median_hz)
            speed.append(ratio)
            loud.append(d_db)
            high.append(d_st)
            print(f"{sid:22} {voice.voice:18} {a.active_s:7.2f}->{b.active_s:5.2f}  {ratio:6.2f}x "
                  f"{a.level_dbfs:6.1f}->{b.level_dbfs:6.1f} {d_db:+6.1f} {a.pitch_median_hz:5.0f}->"
                  f"{b.pitch_median_hz:4.0f}  {d_st:+8.1f}")
        print(f"median: {statistics.median(speed):.2f}x faster, {statistics.median(loud):+.1f} dB louder, "
              f"{statistics.median(high):+.1f} semitones higher (min over scenarios: {min(speed):.2f}x, "
              f"{min(loud):+.1f} dB, {min(high):+.1f} st)")


if __name__ == "__main__":
    main()
