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

from voice_trainer.analysis.listening.detect import _normalise, _sentences, analyze_listening  # noqa: E402
from voice_trainer.config import ListeningConfig  # noqa: E402

PARAPHRASE = {"Restatement or Paraphrasing", "Reflection of feelings"}


def half(row_id: str) -> str:
    return "tune" if zlib.crc32(row_id.encode()) % 2 == 0 else "check"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


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
    esconv = read_csv(d / "esconv_supporter_turns.csv")
    intents = read_csv(d / "empathetic_intents.csv")
    if args.embeddings:
        from _minilm import load_embedder

        cfg.use_embeddings = True
        cfg.embedding_min_similarity = -1.0  # record every candidate's similarity; thresholds are swept below
        embedder = load_embedder()
        t0 = time.perf_counter()
        texts = {_normalise(r["prev_seeker_text"]) for r in esconv}
        for r in esconv:
            norm = _normalise(r["supporter_text"])
            texts.update(norm[a:b] for a, b in _sentences(norm))
        order = sorted(texts, key=len)
        for i in range(0, len(order), 64):
            embedder(order[i:i + 64])
        print(f"embedded {len(order)} sentences in {time.perf_counter() - t0:.1f} s "
              f"({1000 * (time.perf_counter() - t0) / len(order):.1f} ms each on this machine)")
    # (split, label, rule-positive, best similarity of a non-rule candidate, best similarity of a rule detection)
    sweep: list[tuple[str, bool, bool, float, float]] = []

    results: dict[str, dict[str, list[tuple[bool, bool]]]] = {}
    errors: dict[str, list[tuple[str, bool, str, str]]] = {}

    def add(task: str, split: str, y: bool, p: bool, text: str, ctx: str = "") -> None:
        for s in (split, "all"):
            results.setdefault(task, {}).setdefault(s, []).append((y, p))
        if y != p:
            errors.setdefault(task, []).append((split, y, text, ctx))

    t0 = time.perf_counter()
    n = 0
    t0 = time.perf_counter()
    for row in esconv:
        r = analyze_listening(row["supporter_text"], caller_text=row["prev_seeker_text"], config=cfg,
                              embedder=embedder)
        paras = [t for t in r.techniques if t.id == "paraphrase"]
        rule_pos = any(t.detail.get("kind") != "embedding" for t in paras)
        ids = {t.id for t in r.techniques}
        sp = half(row["id"])
        y = row["strategy"] in PARAPHRASE
        if embedder is not None:
            sims = [(t.detail.get("kind") == "embedding", t.detail.get("similarity", -1.0)) for t in paras]
            sweep.append((sp, y, rule_pos, max((v for e, v in sims if e), default=-1.0),
                          max((v for e, v in sims if not e), default=-1.0)))
        add("paraphrase (ESConv)", sp, y, rule_pos, row["supporter_text"], row["prev_seeker_text"])
        add("questions (ESConv)", sp, row["strategy"] == "Questions", "question" in ids, row["supporter_text"])
        n += 1
    for row in intents:
        r = analyze_listening(row["text"], config=cfg)
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
    if sweep:
        thresholds = [x / 100 for x in range(20, 91, 5)]

        def f1_at(rows: list, rule: str, t: float) -> tuple[float, float, float, int]:
            if rule == "or":  # rules OR a similar sentence about "you"
                return prf([(y, rp or es >= t) for _, y, rp, es, _ in rows])
            if rule == "veto":  # rules, kept only when the restating sentence is similar to the caller's line
                return prf([(y, rp and rs >= t) for _, y, rp, _, rs in rows])
            return prf([(y, max(es, rs) >= t) for _, y, _, es, rs in rows])  # embedding alone

        tune = [r for r in sweep if r[0] == "tune"]
        check = [r for r in sweep if r[0] == "check"]
        base_t = prf([(y, rp) for _, y, rp, _, _ in tune])
        base_c = prf([(y, rp) for _, y, rp, _, _ in check])
        print("\nembedding experiment (paraphrase, ESConv; all-MiniLM-L6-v2 cosine between a reply sentence and the "
              "caller's line; threshold t chosen on the tune half)")
        print(f"  rules only:                          tune F1 {base_t[2]:.3f}   check P {base_c[0]:.3f} "
              f"R {base_c[1]:.3f} F1 {base_c[2]:.3f}")
        for rule, name in (("or", "rules OR similar sentence"), ("veto", "rules AND similar sentence"),
                           ("alone", "embedding alone")):
            curve = {t: f1_at(tune, rule, t)[2] for t in thresholds}
            best = max(curve, key=lambda t: curve[t])
            p, r, f1, _ = f1_at(check, rule, best)
            print(f"  {name:27s} t={best:.2f}: tune F1 {curve[best]:.3f}   check P {p:.3f} R {r:.3f} F1 {f1:.3f}"
                  f"   (check F1 vs rules {f1 - base_c[2]:+.3f})")
            print("     tune F1 by t: " + " ".join(f"{t:.2f}:{v:.3f}" for t, v in curve.items()))
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
