"""Word error and decode time of live practice's Whisper settings, against file mode's.

Live practice transcribes an answer in pieces while the trainee speaks: at each pause (``early_asr_after_s`` of
silence after speech, found here with the live energy endpointer's threshold) what was said since the previous
pause is decoded, and at the end only the last piece. This script decodes the canned answers
(``audio_samples/``, 18 files, and the 40 read-speech clips of ``transcribed-speech-dev`` as single pieces when
``--eval`` points at the evaluation data) two ways and prints the word error rate (``bench/textnorm.py``) and
the time per piece:

* ``file``: whole files, Whisper's 30 s window, temperature fallback, ``transcribe.beam_size`` (file mode,
  ``analyze``, and live practice's turn record: ``practice.redecode_answer``);
* ``file-live-beam``: the same with live practice's ``practice.live_beam_size``;
* ``pieces-30s``: the pieces, the 30 s window and temperature fallback, the live beam (live practice before);
* ``pieces-live``: the pieces with :class:`~voice_trainer.speech.transcribe.LiveDecoding` from the config
  (a short encoder window, no temperature retries, the live beam).

    .venv/bin/python bench/bench_live_asr.py [--eval ../shared/eval] [--cpu-load 1]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from _eval import busy_cores  # noqa: E402
from textnorm import edit_distance, normalize  # noqa: E402

from voice_trainer.analysis.activity import level_dbfs  # noqa: E402
from voice_trainer.analysis.transcript import merge  # noqa: E402
from voice_trainer.audio import files as audio_io  # noqa: E402
from voice_trainer.config import Config  # noqa: E402
from voice_trainer.speech.transcribe import LiveDecoding, Transcriber  # noqa: E402

SR = 16_000


def pause_cuts(x: np.ndarray, cfg: Config) -> list[int]:
    """Sample indices where live practice would start a decode: ``early_asr_after_s`` into each pause."""
    pc, frame = cfg.practice, int(0.02 * SR)
    after = int(round(cfg.session.early_asr_after_s / 0.02))
    loud = [level_dbfs(x[i: i + frame]) > pc.speech_threshold_dbfs for i in range(0, len(x) - frame, frame)]
    cuts, quiet, spoke = [], 0, False
    for i, v in enumerate(loud):
        quiet = 0 if v else quiet + 1
        spoke = spoke or v
        if spoke and quiet == after:
            cuts.append((i + 1) * frame)
    return cuts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    ap.add_argument("--cpu-load", type=int, default=0, metavar="K")
    args = ap.parse_args()
    cfg = Config()
    whole = Transcriber(cfg.transcribe)
    base = Transcriber(dataclasses.replace(cfg.transcribe, beam_size=cfg.practice.live_beam_size or
                                           cfg.transcribe.beam_size))
    live = Transcriber(cfg.transcribe)
    live.live = LiveDecoding(min_s=cfg.practice.live_window_min_s, pad_s=cfg.practice.live_window_pad_s,
                             temperature_fallback=cfg.practice.live_temperature_fallback,
                             beam_size=cfg.practice.live_beam_size or None)
    whole.model  # noqa: B018 - load before timing
    items = []
    for a in tomllib.loads((REPO / "audio_samples" / "manifest.toml").read_text())["answer"]:
        if a.get("scenario"):
            items.append((REPO / "audio_samples" / a["file"], a["text"]))
    tsd = args.eval / "transcribed-speech-dev"
    if (tsd / "transcripts.csv").exists():
        with open(tsd / "transcripts.csv", newline="") as f:
            items += [(tsd / r["file"], r["transcript_normalized"]) for r in csv.DictReader(f)]
    rows: dict[str, list] = {"file": [], "file-live-beam": [], "pieces-30s": [], "pieces-live": []}
    with busy_cores(args.cpu_load):
        load0 = os.getloadavg()[0]
        for path, ref in items:
            x = audio_io.load(path, sample_rate=SR)
            bounds = [0, *pause_cuts(x, cfg), len(x)]
            pieces = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b - a > SR // 10]
            for name in rows:
                tr = {"file": whole, "pieces-live": live}.get(name, base)
                parts, times = [], []
                for a, b in ([(0, len(x))] if name.startswith("file") else pieces):
                    t = time.perf_counter()
                    parts.append(tr.transcribe(x[a:b], offset_s=a / SR))
                    times.append(time.perf_counter() - t)
                hyp = merge(parts).text
                rows[name].append((edit_distance(normalize(ref), normalize(hyp)), len(normalize(ref)), times))
    print(f"{len(items)} answers/clips; load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"--cpu-load {args.cpu_load}")
    for name, rs in rows.items():
        err, n = sum(r[0] for r in rs), sum(r[1] for r in rs)
        ts = [t for r in rs for t in r[2]]
        print(f"{name:12s} WER {100 * err / n:5.1f} % ({err}/{n} words); {len(ts)} decodes, "
              f"p50 {np.median(ts):.3f} s, p95 {np.percentile(ts, 95):.3f} s, max {max(ts):.3f} s")


if __name__ == "__main__":
    main()
