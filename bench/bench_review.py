"""Speed of ``voice-trainer review`` on a 3-minute stereo call (target: under 10 s on 2 cores with tiny.en).

Measures, on the real 3-minute call in ``eval_dir("phone-call-dev")`` (or ``--file``):

1. warm: ``review_file`` with the model already loaded (what a batch job pays per call), median of ``--runs``,
   with the time of each stage (decode, echo check, VAD, Whisper, turns, tone, listening);
2. cold: one ``voice-trainer review --json`` process (imports + model load + review), wall time.

Run it pinned to 2 cores to match the target:  taskset -c 0,1 .venv/bin/python bench/bench_review.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402

from voice_trainer import review  # noqa: E402
from voice_trainer.analysis.echo import estimate_echo, suppress_echo  # noqa: E402
from voice_trainer.analysis.turns import analyze_turns  # noqa: E402
from voice_trainer.analysis.vad import speech_segments  # noqa: E402
from voice_trainer.audio import files as audio_io  # noqa: E402
from voice_trainer.config import Config  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber, default_threads  # noqa: E402

TARGET_S = 10.0


def stages(path: Path, cfg: Config, tr: Transcriber) -> dict[str, float]:
    """Wall time of each stage of review_file, in order."""
    out: dict[str, float] = {}
    sr = audio_io.ANALYSIS_RATE
    t = time.perf_counter()
    caller, agent = audio_io.load_tracks(path, sample_rate=sr, channels=("left", "right"))
    out["decode"] = time.perf_counter() - t
    t = time.perf_counter()
    est_a = estimate_echo(agent, caller, sr, cfg.turns)
    est_c = estimate_echo(caller, agent, sr, cfg.turns)
    ag, _ = suppress_echo(agent, caller, sr, cfg.turns, estimate=est_a)
    cg, _ = suppress_echo(caller, agent, sr, cfg.turns, estimate=est_c)
    out["echo"] = time.perf_counter() - t
    t = time.perf_counter()
    cs, ags = speech_segments(cg, sr, cfg.turns), speech_segments(ag, sr, cfg.turns)
    out["vad"] = time.perf_counter() - t
    t = time.perf_counter()
    beam = cfg.turns.review_beam_size
    ctx = review.transcribe_speech(tr, caller, sr, cs, beam_size=beam)
    atx = review.transcribe_speech(tr, agent, sr, ags, beam_size=beam)
    out["whisper"] = time.perf_counter() - t
    t = time.perf_counter()
    turns = analyze_turns(cs, ags, atx.words, ctx.words, cfg.turns, duration_s=len(caller) / sr)
    out["turns"] = time.perf_counter() - t
    t = time.perf_counter()
    review.agent_tone(agent, caller, sr, turns, atx.words, cfg)
    out["tone"] = time.perf_counter() - t
    t = time.perf_counter()
    review.agent_listening(turns, ctx.words, atx.words, cfg)
    out["listening"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", help="a stereo call (default: the 3-minute eval call)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    path = Path(args.file) if args.file else eval_dir("phone-call-dev") / "MUL1011_16k_stereo.wav"
    cfg = Config()
    info = audio_io.probe(path)
    print(f"file {path.name}: {info.duration_s:.1f} s, {info.channels} channels; cores usable: {default_threads()}; "
          f"model {cfg.transcribe.model} ({cfg.transcribe.compute_type}, review beam {cfg.turns.review_beam_size})")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other work on these cores inflates wall times)")
    tr = Transcriber(cfg.transcribe)
    t = time.perf_counter()
    tr.model  # noqa: B018  (load once)
    print(f"model load: {time.perf_counter() - t:.2f} s")
    times, cpu = [], []
    for _ in range(args.runs):
        c0 = time.process_time()
        t = time.perf_counter()
        r = review.review_file(path, cfg, tr)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    print(f"CPU time per review: median {statistics.median(cpu):.2f} s (wall above {med:.2f} s; if wall is much "
          "more than CPU/2 the cores are shared with other work)")
    print(f"warm review_file: median {med:.2f} s over {args.runs} runs ({', '.join(f'{x:.2f}' for x in times)}); "
          f"{info.duration_s / med:.0f}x real time; {len(r.turns.turns)} turns, "
          f"{len(r.turns.interruptions)} agent interruptions")
    st = stages(path, cfg, tr)
    print("stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items()))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "voice_trainer", "review", "--json", str(path)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    cold = time.perf_counter() - t
    if proc.returncode:
        print(f"cold run failed: {proc.stderr.strip()}")
    print(f"cold `voice-trainer review --json` (imports + model load + review): {cold:.2f} s")
    verdict = "PASS" if med < TARGET_S else "FAIL"
    print(f"{verdict}: warm review {med:.2f} s vs target {TARGET_S:.0f} s for a {info.duration_s / 60:.1f}-minute call")


if __name__ == "__main__":
    main()
