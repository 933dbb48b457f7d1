"""Turn segmentation on a real phone call against human turn times, for each VAD backend.

Data: ``eval_dir("phone-call-dev")``: ``MUL1011_16k_stereo.wav`` (16 kHz stereo, one speaker per channel) and
``turns_speechbrain.csv`` (start/end in samples at 8 kHz of the original). Each row there spans the agent's
reply to the previous user turn followed by the user's turn (the first row holds only the user's opening), so
a row's start is where an agent turn begins (row 0 excepted: it starts at the beginning of the recording) and
its end is where a user (caller) turn ends. Listening to the channels puts the user on the left.

For every backend the tracks go through the same path as ``voice-trainer review`` without Whisper
(echo check -> VAD -> floor turns) and each reference boundary is paired one-to-one with the nearest
predicted boundary of the same kind (agent turn start / caller turn end) within ``--tolerance`` seconds.

Usage: .venv/bin/python bench/eval_turns.py [--tolerance 1.5] [--backends silero,energy,webrtc]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _eval import eval_dir  # noqa: E402

from voice_trainer.analysis.echo import suppress_echo  # noqa: E402
from voice_trainer.analysis.turns import AGENT, CALLER, analyze_turns  # noqa: E402
from voice_trainer.analysis.vad import speech_segments  # noqa: E402
from voice_trainer.audio.files import load_tracks  # noqa: E402
from voice_trainer.config import TurnsConfig  # noqa: E402

REF_RATE = 8000


def reference(csv_path: Path) -> tuple[list[float], list[float]]:
    """(agent turn starts, caller turn ends) in seconds."""
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: int(r["start"]))
    agent_starts = [int(r["start"]) / REF_RATE for r in rows[1:]]
    caller_ends = [int(r["end"]) / REF_RATE for r in rows]
    return agent_starts, caller_ends


def match(ref: list[float], pred: list[float], tol: float) -> tuple[list[float], int, int]:
    """Greedy one-to-one pairing by distance; returns (signed differences pred - ref, missed, extra)."""
    cands = sorted((abs(r - p), i, j) for i, r in enumerate(ref) for j, p in enumerate(pred) if abs(r - p) <= tol)
    used_r, used_p, diffs = set(), set(), []
    for _, i, j in cands:
        if i in used_r or j in used_p:
            continue
        used_r.add(i)
        used_p.add(j)
        diffs.append(pred[j] - ref[i])
    return diffs, len(ref) - len(used_r), len(pred) - len(used_p)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tolerance", type=float, default=1.5, help="seconds within which boundaries may pair")
    ap.add_argument("--backends", default="silero,energy,webrtc")
    args = ap.parse_args()
    d = eval_dir("phone-call-dev")
    caller, agent = load_tracks(d / "MUL1011_16k_stereo.wav", sample_rate=16_000, channels=("left", "right"))
    sr = 16_000
    ref_agent, ref_caller = reference(d / "turns_speechbrain.csv")
    print(f"reference: {len(ref_caller)} caller turn ends, {len(ref_agent)} agent turn starts; "
          f"call {len(caller) / sr:.1f} s; tolerance {args.tolerance} s")
    print(f"{'backend':8s} {'n':>4s} {'median':>7s} {'mean':>7s} {'p90':>7s} {'missed':>6s} {'extra':>6s} "
          f"{'turns c/a':>9s} {'vad s':>6s}")
    for backend in args.backends.split(","):
        cfg = TurnsConfig(vad_backend=backend)
        t0 = time.perf_counter()
        try:
            a_clean, est = suppress_echo(agent, caller, sr, cfg)
            c_clean, est2 = suppress_echo(caller, agent, sr, cfg)
            cs = speech_segments(c_clean, sr, cfg)
            ags = speech_segments(a_clean, sr, cfg)
        except Exception as exc:  # webrtcvad not installed
            print(f"{backend:8s} skipped: {exc}")
            continue
        dt = time.perf_counter() - t0
        res = analyze_turns(cs, ags, config=cfg, duration_s=len(caller) / sr)
        pred_agent = [t.start for t in res.turns if t.speaker == AGENT]
        pred_caller = [t.end for t in res.turns if t.speaker == CALLER]
        da, ma, xa = match(ref_agent, pred_agent, args.tolerance)
        dc, mc, xc = match(ref_caller, pred_caller, args.tolerance)
        diffs = np.abs(np.array(da + dc))
        med, mean, p90 = (np.median(diffs), diffs.mean(), np.percentile(diffs, 90)) if len(diffs) else (np.nan,) * 3
        print(f"{backend:8s} {len(diffs):4d} {med:7.3f} {mean:7.3f} {p90:7.3f} {ma + mc:6d} {xa + xc:6d} "
              f"{len(pred_caller):4d}/{len(pred_agent):<4d} {dt:6.2f}")
        if da and dc:
            centred = np.abs(np.r_[np.array(da) - np.median(da), np.array(dc) - np.median(dc)])
            print(f"    after removing each kind's median offset (the reference pads turns): |error| median "
                  f"{np.median(centred):.3f}  mean {centred.mean():.3f}  p90 {np.percentile(centred, 90):.3f}")
        for name, dd in (("agent starts", da), ("caller ends", dc)):
            if dd:
                ad = np.abs(dd)
                print(f"    {name:13s} |error| median {np.median(ad):.3f}  mean {np.mean(ad):.3f}  "
                      f"p90 {np.percentile(ad, 90):.3f}; signed mean (predicted - reference) {np.mean(dd):+.3f}")
        if est.detected or est2.detected:
            print(f"    echo/crosstalk found: agent<-caller {est.to_dict()}, caller<-agent {est2.to_dict()}")


if __name__ == "__main__":
    main()
