"""Does telling Whisper what the call is about help? Word error rate with and without call context.

Context = what the trainee's answer is likely about: the caller's lines of the scenario (opening and details)
as ``initial_prompt``, and the scenario's names and numbers as ``hotwords``. Measured on

* the canned answers in ``audio_samples/`` (their scenario's context; reference = manifest text);
* the read speech of ``eval/transcribed-speech-dev`` with an UNRELATED scenario's context (it must not hurt
  speech that is about something else);
* faint noise with context (it must still give an empty transcript: a prompt can make Whisper hallucinate).

The decoding options are the product's own (``voice_trainer.transcribe.Transcriber``); only the context
changes. Prints corpus WER per set and condition.

    .venv/bin/python bench/eval_asr_context.py [--model tiny.en]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tomllib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _eval import eval_dir  # noqa: E402
from textnorm import edit_distance, normalize  # noqa: E402

from voice_trainer.audio.files import load  # noqa: E402
from voice_trainer.call.scenarios import get_scenario  # noqa: E402
from voice_trainer.config import TranscribeConfig  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SR = 16000


def context_of(scenario_id: str) -> tuple[str, str]:
    """(initial_prompt, hotwords) for a scenario: its caller's opening/details lines; names and numbers."""
    sc = get_scenario(scenario_id)
    lines = [*sc.lines_for("opening", "upset"), *sc.lines_for("details", "upset")]
    prompt = " ".join(lines)
    tokens = re.findall(r"\b(?:[A-Z][a-z]+|\d[\d.,]*|[a-z]+(?:-[a-z]+)+)\b", " ".join([*sc.facts, *sc.resolutions,
                                                                                      sc.persona.name]))
    return prompt, " ".join(dict.fromkeys(tokens))


def decode(tr: Transcriber, audio: np.ndarray, prompt: str | None, hotwords: str | None) -> str:
    c = tr.config
    segs, _ = tr.model.transcribe(
        np.ascontiguousarray(audio, dtype=np.float32), language=c.language or None, beam_size=c.beam_size,
        word_timestamps=True, condition_on_previous_text=False, vad_filter=c.vad_filter,
        vad_parameters={"min_silence_duration_ms": c.vad_min_silence_ms}, no_speech_threshold=c.no_speech_prob_max,
        log_prob_threshold=c.low_logprob, initial_prompt=prompt or None, hotwords=hotwords or None)
    kept = [s.text.strip() for s in segs
            if not (s.no_speech_prob > c.no_speech_prob_max and s.avg_logprob < c.low_logprob)]
    return " ".join(t for t in kept if t)


def wer(pairs: list[tuple[str, str]]) -> float:
    errs = sum(edit_distance(normalize(ref), normalize(hyp)) for ref, hyp in pairs)
    return errs / max(1, sum(len(normalize(ref)) for ref, _ in pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny.en")
    args = ap.parse_args()
    tr = Transcriber(TranscribeConfig(model=args.model))
    manifest = tomllib.loads((REPO / "audio_samples" / "manifest.toml").read_text())["answer"]
    canned = [(REPO / "audio_samples" / r["file"], r["text"], r["scenario"]) for r in manifest if r.get("scenario")]
    d = eval_dir("transcribed-speech-dev")
    dev = [(d / "jfk.wav", (d / "jfk.txt").read_text(), "late-package")]
    with open(d / "transcripts.csv", newline="") as fh:
        dev += [(d / row["file"], row["transcript_original"], "double-charge") for row in csv.DictReader(fh)]
    conditions = {"none": (False, False), "prompt": (True, False), "hotwords": (False, True), "both": (True, True)}
    for name, items in (("canned answers", canned), ("read speech, unrelated context", dev)):
        audio = {p: load(p, sample_rate=SR) for p, _, _ in items}
        for cond, (use_p, use_h) in conditions.items():
            pairs = []
            for p, ref, scn in items:
                prompt, hot = context_of(scn)
                pairs.append((ref, decode(tr, audio[p], prompt if use_p else None, hot if use_h else None)))
            print(f"{name:<32} {cond:<9} WER {100 * wer(pairs):5.1f}%  ({len(pairs)} clips)", flush=True)
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(6 * SR) * 10 ** (-60 / 20)).astype(np.float32)
    for cond, (use_p, use_h) in conditions.items():
        prompt, hot = context_of("double-charge")
        out = decode(tr, noise, prompt if use_p else None, hot if use_h else None)
        print(f"{'faint noise':<32} {cond:<9} transcript {out!r}")


if __name__ == "__main__":
    main()
