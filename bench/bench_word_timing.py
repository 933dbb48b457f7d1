"""Whisper's word times against the voice onset, before and after :func:`analysis.word_timing.clamp_to_speech`.

Each canned answer (``audio_samples/``, espeak-ng: digital silence around the speech, so its onset and offset are
known to the sample) is placed after ``--lead`` seconds of silence, as an answer window that opens before the
trainee speaks (file mode places the answer so; the browser's and the terminal's turn records start at the
caller's line). The track is decoded whole with file mode's settings (Whisper's 30 s window, ``beam_size``,
temperature fallback), the VAD runs on it as in :func:`analysis.core.analyze_turn`, and the script prints, over
the files, the first word's start minus the true onset and the last word's end minus the true offset (s), from
Whisper and after the clamp, and how many word starts/ends the clamp moved.

With ``--eval DIR`` the read-speech clips of ``transcribed-speech-dev`` (real recordings) are measured the same
way; their onset/offset is the first/last 10 ms frame within ``--floor-db`` dB of the clip's loudest frame (less
exact than the canned answers: breaths and room noise).

    .venv/bin/python bench/bench_word_timing.py [--lead 2.0 4.0] [--eval ../shared/eval] [--cpu-load 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from _eval import busy_cores  # noqa: E402

from voice_trainer.analysis.activity import frame_levels_db  # noqa: E402
from voice_trainer.analysis.vad import speech_segments  # noqa: E402
from voice_trainer.analysis.word_timing import clamp_to_speech  # noqa: E402
from voice_trainer.audio import files as audio_io  # noqa: E402
from voice_trainer.config import Config  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber  # noqa: E402

SR = 16_000
HOP_S = 0.01


def true_span(x: np.ndarray, floor_db: float) -> tuple[float, float]:
    """First and last 10 ms frame (s) within ``floor_db`` dB of the loudest frame: the speech's onset and offset."""
    db = frame_levels_db(x, SR, frame_s=HOP_S)
    loud = np.flatnonzero(db > db.max() - floor_db)
    return float(loud[0] * HOP_S), float((loud[-1] + 1) * HOP_S)


def clips(eval_dir: Path | None) -> list[tuple[str, Path]]:
    out = [("canned", p) for p in sorted((REPO / "audio_samples").glob("*_*_[0-9].wav"))]
    if eval_dir is not None:
        out += [("read", p) for p in sorted((eval_dir / "transcribed-speech-dev").rglob("*.wav"))]
    return out


def _stats(v: list[float]) -> str:
    a = np.asarray(v)
    return (f"mean {a.mean():+.3f}  median {np.median(a):+.3f}  min {a.min():+.3f}  max {a.max():+.3f}  "
            f"|err|>0.1 s: {int(np.sum(np.abs(a) > 0.1))}/{len(a)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lead", type=float, nargs="+", default=[2.0, 4.0], help="silence before the answer (s)")
    ap.add_argument("--eval", type=Path, default=None, help="the evaluation data folder (../shared/eval)")
    ap.add_argument("--floor-db", type=float, default=40.0, help="onset/offset: frames within this of the peak")
    ap.add_argument("--cpu-load", type=int, default=0, help="busy processes running alongside")
    args = ap.parse_args()
    with busy_cores(args.cpu_load):
        cfg = Config()
        tr = Transcriber(cfg.transcribe)
        slack = cfg.turns.word_voice_slack_s
        rows: dict[str, dict[str, list[float]]] = {}
        moved = {"starts": 0, "ends": 0, "words": 0}
        t0 = time.perf_counter()
        for kind, path in clips(args.eval):
            x = audio_io.load(path, sample_rate=SR)
            on, off = true_span(x, args.floor_db)
            for lead in args.lead:
                mic = np.concatenate([np.zeros(int(lead * SR), np.float32), x, np.zeros(SR, np.float32)])
                tx = tr.transcribe(mic)
                if not tx.words:
                    continue
                segs = speech_segments(mic, SR, cfg.turns)
                cl = clamp_to_speech(tx, segs, slack_s=slack)
                r = rows.setdefault(f"{kind} lead {lead:g} s", {k: [] for k in ("ws", "cs", "we", "ce")})
                r["ws"].append(tx.words[0].start - (lead + on))
                r["cs"].append(cl.words[0].start - (lead + on))
                r["we"].append(tx.words[-1].end - (lead + off))
                r["ce"].append(cl.words[-1].end - (lead + off))
                moved["starts"] += cl.word_timing.get("moved_starts", 0)
                moved["ends"] += cl.word_timing.get("moved_ends", 0)
                moved["words"] += len(tx.words)
        took = time.perf_counter() - t0
    print(f"word_voice_slack_s {slack}; decoded with file mode's settings ({Config().transcribe.model}); "
          f"load average {os.getloadavg()[0]:.2f} (--cpu-load {args.cpu_load}); {took:.0f} s")
    for name, r in rows.items():
        print(f"{name} ({len(r['ws'])} answers), seconds:")
        print(f"  first word start - onset   whisper: {_stats(r['ws'])}")
        print(f"                             clamped: {_stats(r['cs'])}")
        print(f"  last word end - offset     whisper: {_stats(r['we'])}")
        print(f"                             clamped: {_stats(r['ce'])}")
    print(f"moved: {moved['starts']} starts, {moved['ends']} ends of {moved['words']} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
