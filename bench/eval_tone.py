"""Does calmness rank calm speech above angry speech, judged against each speaker's own neutral voice?

Data: ``eval_dir("emotion-speech-dev")`` (RAVDESS actors 01-08, labels.csv). For each actor, the first neutral
clip (lowest file name) is the baseline; every other clip of that actor is scored (neutral/calm = calm, angry =
angry). Reports ROC AUC of calmness (higher = calmer) overall and per actor, the AUC of each component alone,
and the same under simulated phone AGC (every clip normalised to the same active speech level, so loudness
carries no information and the score must rest on pitch, tilt and pace).

Thresholds are ToneConfig defaults, chosen from the principle (see config.py), not fitted to these actors.

    .venv/bin/python bench/eval_tone.py [--no-whisper] [--config FILE]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._eval import eval_dir  # noqa: E402
from voice_trainer.analysis import tone  # noqa: E402
from voice_trainer.audio import files as audio_io  # noqa: E402
from voice_trainer.config import load_config  # noqa: E402


def auc(calm: list[float], angry: list[float]) -> float:
    """Probability that a calm clip scores above an angry one (ties count half)."""
    if not calm or not angry:
        return float("nan")
    wins = sum((c > a) + 0.5 * (c == a) for c in calm for a in angry)
    return wins / (len(calm) * len(angry))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-whisper", action="store_true", help="skip transcription (pace is withheld)")
    ap.add_argument("--config", help="TOML config overriding ToneConfig")
    args = ap.parse_args()
    cfg = load_config(args.config)
    d = eval_dir("emotion-speech-dev")
    with open(d / "labels.csv", newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
    transcriber = None
    if not args.no_whisper:
        from voice_trainer.speech.transcribe import Transcriber

        transcriber = Transcriber(cfg.transcribe)
    sr = audio_io.ANALYSIS_RATE
    tone.warm_up(cfg.tone)

    by_actor: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_actor[r["actor"]].append(r)

    t0 = time.perf_counter()
    results: list[dict] = []
    for actor, clips in sorted(by_actor.items()):
        base_row = next(r for r in clips if r["emotion"] == "neutral")
        loaded = {}
        for r in clips:
            x = audio_io.load(d / r["file"], sample_rate=sr)
            words = transcriber.transcribe(x).words if transcriber else []
            frames = tone.measure_frames(x, sr, cfg.tone)
            loaded[r["file"]] = (x, words, frames)
        bx, bw, bf = loaded[base_row["file"]]
        base = tone.Baseline(tone.summarize(bf, bw, cfg.tone), "recording", base_row["file"])
        base_level = base.measures.level_dbfs
        for r in clips:
            if r is base_row:
                continue
            x, words, frames = loaded[r["file"]]
            res = tone.score_calmness(tone.summarize(frames, words, cfg.tone), base, cfg.tone)
            # Simulated AGC: scale the clip so its active level equals the baseline's.
            m = res.measures
            gain = 10 ** ((base_level - m.level_dbfs) / 20) if m.level_dbfs is not None else 1.0
            agc = tone.score_calmness(
                tone.summarize(tone.measure_frames(np.clip(x * gain, -1, 1), sr, cfg.tone), words, cfg.tone),
                base, cfg.tone,
            )
            comps = {c.id: (None if c.withheld else c.points / c.weight) for c in res.calmness.components}
            results.append({
                "actor": actor, "file": r["file"], "label": r["calm_or_angry"], "emotion": r["emotion"],
                "intensity": r["intensity"], "calmness": res.calmness.value, "agc": agc.calmness.value,
                "comps": comps, "deltas": res.deltas(),
            })
    elapsed = time.perf_counter() - t0

    def split(rs: list[dict], key) -> tuple[list[float], list[float]]:
        calm = [key(r) for r in rs if r["label"] == "calm" and key(r) is not None]
        angry = [key(r) for r in rs if r["label"] == "angry" and key(r) is not None]
        return calm, angry

    print(f"{len(results)} clips scored against each actor's first neutral clip in {elapsed:.1f} s "
          f"(pace from Whisper: {'no' if args.no_whisper else 'yes'})\n")
    print("clip                      label  emotion  intensity  calmness  AGC   dPitch  dLevel  dTilt  dSD   pace")
    for r in results:
        dl = r["deltas"]

        def f(v, fmt="{:+6.1f}"):
            return "   n/a" if v is None else fmt.format(v)

        print(f"{r['file']:25s} {r['label']:6s} {r['emotion']:8s} {r['intensity']:9s} {r['calmness']:8.1f} "
              f"{r['agc']:5.1f}  {f(dl['pitch_st'])}  {f(dl['level_db'])}  {f(dl['tilt_db'])} {f(dl['pitch_sd_st'])}"
              f"  {f(dl['pace_ratio'], '{:5.2f}')}")
    print()
    overall = auc(*split(results, lambda r: r["calmness"]))
    overall_agc = auc(*split(results, lambda r: r["agc"]))
    print(f"ROC AUC overall: {overall:.3f}   (simulated phone AGC, loudness equalised: {overall_agc:.3f})")
    print("per actor:      " + "  ".join(
        f"{a}:{auc(*split([r for r in results if r['actor'] == a], lambda r: r['calmness'])):.2f}"
        for a in sorted(by_actor)))
    print("per actor (AGC):" + "  ".join(
        f"{a}:{auc(*split([r for r in results if r['actor'] == a], lambda r: r['agc'])):.2f}"
        for a in sorted(by_actor)))
    print("component alone (AUC of its kept share of points; ties count half):")
    for cid in results[0]["comps"]:
        calm, angry = split(results, lambda r, cid=cid: r["comps"][cid])
        print(f"  {cid:14s} {auc(calm, angry):.3f}  (judged on {len(calm) + len(angry)} clips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
