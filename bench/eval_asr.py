"""Word error rate of voice-trainer's transcription on real read speech.

Data: ``eval/transcribed-speech-dev`` (JFK's 11 s inaugural excerpt + 40 Hi-Fi TTS clips of one speaker).
Runs the same path as ``voice-trainer analyze`` (decode -> 16 kHz -> Transcriber with VAD and word timings),
normalises case, punctuation and numbers, and reports the corpus WER per model.

    .venv/bin/python bench/eval_asr.py [--models tiny.en base]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402
from textnorm import edit_distance, normalize  # noqa: E402

from voice_trainer.config import Config  # noqa: E402
from voice_trainer.errors import UserError  # noqa: E402
from voice_trainer.pipeline import analyze_file  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber  # noqa: E402


def clips() -> list[tuple[Path, str]]:
    d = eval_dir("transcribed-speech-dev")
    items = [(d / "jfk.wav", (d / "jfk.txt").read_text())]
    with open(d / "transcripts.csv", newline="") as fh:
        items += [(d / row["file"], row["transcript_original"]) for row in csv.DictReader(fh)]
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument("--beam-size", type=int, nargs="+", default=[5], help="beam sizes to compare (1 = greedy)")
    args = ap.parse_args()
    items = clips()
    for model, beam in [(m, b) for m in args.models for b in args.beam_size]:
        cfg = Config()
        cfg.transcribe.model = model
        cfg.transcribe.beam_size = beam
        try:
            tr = Transcriber(cfg.transcribe)
            tr.model  # noqa: B018 - load before timing
        except UserError as exc:
            print(f"{model}: skipped ({exc})")
            continue
        errors = ref_words = 0
        worst: list[tuple[float, str, str, str]] = []
        t0 = time.perf_counter()
        audio_s = 0.0
        for path, ref in items:
            res = analyze_file(path, cfg, tr)
            audio_s += res.duration_s
            r, h = normalize(ref), normalize(res.transcript.text)
            e = edit_distance(r, h)
            errors += e
            ref_words += len(r)
            worst.append((e / max(1, len(r)), path.name, " ".join(r), " ".join(h)))
        dt = time.perf_counter() - t0
        print(f"{model} beam {beam}: WER {100 * errors / ref_words:.2f}% ({errors} errors / {ref_words} words, "
              f"{len(items)} clips, {audio_s:.0f} s audio in {dt:.1f} s, RTF {dt / audio_s:.3f})")
        for rate, name, r, h in sorted(worst, reverse=True)[:3]:
            print(f"   worst {rate:.0%} {name}\n     ref: {r}\n     hyp: {h}")


if __name__ == "__main__":
    main()
