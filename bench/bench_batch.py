"""Batch throughput: audio hours scored per hour of wall time, with 1 and 2 workers (and Ray with --ray).

Scores the 41 read-speech clips of ``eval/transcribed-speech-dev`` plus the 3-minute stereo call of
``eval/phone-call-dev`` (reviewed as a call) into a fresh results file each run; model loading is included.

    .venv/bin/python bench/bench_batch.py [--ray]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402

from voice_trainer.batch import run_batch  # noqa: E402
from voice_trainer.config import Config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ray", action="store_true", help="also run the Ray executor (local Ray, 2 actors)")
    args = ap.parse_args()
    speech = eval_dir("transcribed-speech-dev")
    inputs = [speech / "jfk.wav", *sorted((speech / "audio").glob("*.wav")),
              eval_dir("phone-call-dev") / "MUL1011_16k_stereo.wav"]
    audio_s = sum(sf.info(str(p)).duration for p in inputs)
    runs = [("local", 1), ("local", 2)] + ([("ray", 2)] if args.ray else [])
    base = None
    for executor, workers in runs:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            rows = run_batch(inputs, Path(tmp) / "r.jsonl", Config(), workers=workers, executor=executor)
            dt = time.perf_counter() - t
        ok = sum(r["status"] == "ok" for r in rows)
        rate = audio_s / dt
        base = base or rate
        print(f"{executor} x{workers}: {len(inputs)} inputs ({ok} ok), {audio_s / 60:.1f} min audio in {dt:.1f} s "
              f"= {rate:.0f} audio hours per hour; scaling vs 1 worker {rate / base:.2f}x")


if __name__ == "__main__":
    main()
