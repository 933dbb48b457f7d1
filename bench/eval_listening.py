"""Precision, recall and F1 of the listening analysis against human labels (development split).

Usage::

    .venv/bin/python bench/eval_listening.py [--embeddings] [--errors N]

Labels (read from ``eval_dir("listening-dev")``, never copied into the repository):

* paraphrase: ESConv supporter turns labelled "Restatement or Paraphrasing" or "Reflection of feelings" are
  positives, every other ESConv turn a negative; the seeker's previous message is given as the caller's line.
* questions: ESConv "Questions" and EmpatheticIntents "questioning" are positives.
* acknowledgement: EmpatheticIntents "acknowledging" and "sympathizing" are positives (no caller line exists).

The rows are split into two halves by a hash of their id ("tune" and "check") and both are reported, so a
lexicon tuned on one half can be checked on the other.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _eval import eval_dir  # noqa: E402

from voice_trainer.config import ListeningConfig  # noqa: E402
from voice_trainer.listening import analyze_listening  # noqa: E402

PARAPHRASE = {"Restatement or Paraphrasing", "Reflection of feelings"}


def half(row_id: str) -> str:
    return "tune" if zlib.crc32(row_id.encode()) % 2 == 0 else "check"


def prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float, int]:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1, sum(1 for y, _ in pairs if y)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--embeddings", action="store_true", help="also use the optional sentence-embedding model")
    ap.add_argument("--threshold", type=float, default=None, help="embedding similarity threshold")
    ap.add_argument("--errors", type=int, default=0, help="print this many false positives/negatives per task")
    args = ap.parse_args()
    d = eval_dir("listening-dev")
    cfg = ListeningConfig()
    embedder = None
    if args.embeddings:
        from voice_trainer.embeddings import load_embedder

        cfg.use_embeddings = True
        if args.threshold is not None:
            cfg.embedding_min_similarity = args.threshold
        embedder = load_embedder()

    results: dict[str, dict[str, list[tuple[bool, bool]]]] = {}
    errors: dict[str, list[tuple[str, bool, str, str]]] = {}

    def add(task: str, split: str, y: bool, p: bool, text: str, ctx: str = "") -> None:
        for s in (split, "all"):
            results.setdefault(task, {}).setdefault(s, []).append((y, p))
        if y != p:
            errors.setdefault(task, []).append((split, y, text, ctx))

    t0 = time.perf_counter()
    n = 0
    with open(d / "esconv_supporter_turns.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            r = analyze_listening(row["supporter_text"], caller_text=row["prev_seeker_text"], config=cfg,
                                  embedder=embedder)
            ids = {t.id for t in r.techniques}
            sp = half(row["id"])
            add("paraphrase (ESConv)", sp, row["strategy"] in PARAPHRASE, "paraphrase" in ids,
                row["supporter_text"], row["prev_seeker_text"])
            add("questions (ESConv)", sp, row["strategy"] == "Questions", "question" in ids, row["supporter_text"])
            n += 1
    with open(d / "empathetic_intents.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            r = analyze_listening(row["text"], config=cfg, embedder=embedder)
            ids = {t.id for t in r.techniques}
            sp = half(row["id"])
            add("questions (EmpatheticIntents)", sp, row["intent"] == "questioning", "question" in ids, row["text"])
            add("acknowledgement (EmpatheticIntents)", sp, row["intent"] in ("acknowledging", "sympathizing"),
                "acknowledge" in ids, row["text"])
            n += 1
    dt = time.perf_counter() - t0

    mode = "rules + embeddings" if embedder else "rules only"
    print(f"listening evaluation on {d} ({mode}; {n} replies in {dt:.1f} s)")
    print(f"{'task':38s} {'split':6s} {'n_pos':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}")
    for task, splits in results.items():
        for s in ("tune", "check", "all"):
            p, r, f1, npos = prf(splits[s])
            print(f"{task:38s} {s:6s} {npos:6d} {p:6.3f} {r:6.3f} {f1:6.3f}")
    print("reference: counsellor-reflection detection 0.73 P / 0.93 R; TF-IDF baseline reflection F1 0.645")
    if args.errors:
        for task, errs in errors.items():
            print(f"\n== {task}: errors on the tune half")
            for kind in (False, True):
                shown = [e for e in errs if e[0] == "tune" and e[1] == kind][: args.errors]
                print(f"  -- {'missed' if kind else 'false alarm'}")
                for _, _, text, ctx in shown:
                    print(f"     A: {text[:160]!r}")
                    if ctx:
                        print(f"        C: {ctx[:160]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
