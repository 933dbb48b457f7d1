"""Speed and memory of ``voice-trainer analyze``, measured in one run on the same files.

1. Overhead: bare faster-whisper (same model, same options) vs ``analyze`` (decode + transcribe + analysis
   stages), warm, on JFK + 10 read-speech clips. Reports the wall-time ratio and the CPU-time ratio (the
   latter holds steady when other work shares the cores; the wall ratio swung 0.66-1.19 at load 3-8).
2. Cold start: wall time of one ``voice-trainer analyze`` process on the 11 s JFK clip (median of 3).
3. Peak RSS of one ``analyze`` process: on the 11 s clip and on a 2-hour file (speech every 5 minutes, silence
   between), which must stay bounded because the file is decoded and transcribed in chunks.

    .venv/bin/python bench/bench_analyze.py [--skip-long]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402

from voice_trainer.audio import files as audio  # noqa: E402
from voice_trainer.config import Config  # noqa: E402
from voice_trainer.pipeline import analyze_file  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber, default_threads, resolve_model  # noqa: E402


def child_run(args: list[str]) -> tuple[float, float]:
    """Run a command in a fresh process; return (wall seconds, peak RSS MiB of that process)."""
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "dt = time.perf_counter() - t; "
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    dt, rss, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"command failed: {' '.join(args)}")
    return float(dt), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-long", action="store_true", help="skip the 2-hour memory run")
    args = ap.parse_args()
    d = eval_dir("transcribed-speech-dev")
    files = [d / "jfk.wav"] + sorted((d / "audio").glob("*.wav"))[:10]
    cfg = Config()
    tr = Transcriber(cfg.transcribe)
    model = tr.model
    c = cfg.transcribe
    audio_s = sum(sf.info(str(f)).duration for f in files)

    def bare() -> None:
        for f in files:
            segs, _ = model.transcribe(
                str(f), language=c.language, beam_size=c.beam_size, word_timestamps=True,
                condition_on_previous_text=False, vad_filter=c.vad_filter,
                vad_parameters={"min_silence_duration_ms": c.vad_min_silence_ms},
            )
            list(segs)

    def ours() -> None:
        for f in files:
            analyze_file(f, cfg, tr)

    bare(), ours()  # warm both paths
    tb, to, cb, co = [], [], [], []
    for _ in range(3):
        for fn, wall, cpu in ((bare, tb, cb), (ours, to, co)):
            t, p = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - p)
    b, o = statistics.median(tb), statistics.median(to)
    name = resolve_model(c.model).name
    print(f"model {name}, {default_threads()} threads, {len(files)} files, {audio_s:.1f} s audio, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"bare faster-whisper: {b:.2f} s   analyze: {o:.2f} s   ratio analyze/bare: {o / b:.2f}")
    # CPU time of this process (all threads): steadier than wall time when other work shares the cores
    cb_, co_ = statistics.median(cb), statistics.median(co)
    print(f"CPU time: bare {cb_:.2f} s   analyze {co_:.2f} s   ratio analyze/bare: {co_ / cb_:.2f}")

    exe = str(Path(sys.executable).with_name("voice-trainer"))
    runs = [child_run([exe, "analyze", str(d / "jfk.wav"), "--json"]) for _ in range(3)]
    print(f"cold start, one analyze process on 11 s clip: {statistics.median(r[0] for r in runs):.2f} s wall "
          f"(runs: {', '.join(f'{r[0]:.2f}' for r in runs)}), peak RSS {max(r[1] for r in runs):.0f} MiB")

    if not args.skip_long:
        speech = audio.load(d / "jfk.wav")
        sr = 16000
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "two_hours.wav"
            with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as fh:
                block = np.zeros(sr * 300, np.float32)
                block[: len(speech)] = speech
                for _ in range(24):  # 24 x 5 min = 2 h
                    fh.write(block)
            hours = sf.info(str(path)).duration / 3600
            dt, rss = child_run([exe, "analyze", str(path), "--json"])
            print(f"{hours:.1f} h file ({path.stat().st_size / 2**20:.0f} MiB on disk): {dt:.1f} s, "
                  f"peak RSS {rss:.0f} MiB (whole file as float32 would be {hours * 3600 * sr * 4 / 2**20:.0f} MiB)")
    print(f"this process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    os.environ.pop("_", None)


if __name__ == "__main__":
    main()
