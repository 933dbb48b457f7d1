"""Precision, recall and F1 of the listening analysis against human labels (development split).

Usage::

    .venv/bin/python bench/eval_listening.py [--rules-only] [--limit N] [--errors N] [--annomi-cv] [--reflection-only]

Labels (read from ``eval_dir("listening-dev")``, never copied into the repository), each run with the rules alone
and with the rules plus the learned detectors (``listening_model.py``; trained only on the team's own sentences in
``training/data/``, never on these files):

* reflection (AnnoMI): counsellor utterances with the client's previous utterance as the caller's line; positive
  when the experts coded a reflection. Reported on two halves split by conversation (``transcript_id``), so no
  conversation is in both.
* paraphrase (ESConv): supporter turns labelled "Restatement or Paraphrasing" or "Reflection of feelings" are
  positives, every other turn a negative; the seeker's previous message is the caller's line.
* questions (ESConv "Questions", EmpatheticIntents "questioning") and acknowledgement (EmpatheticIntents
  "acknowledging" and "sympathizing").
* red flags on good replies: the share of ESConv and EmpatheticIntents replies (supportive listeners) that get any
  red flag (they are good replies; a flag on one is a false alarm).
* red flags and ranking on the team's held-out replies (``bench/data/listening_replies.psv``: poor and good agent
  replies in situations beyond the scenarios, written for evaluation and not used in training): recall of poor
  replies (any red flag), share of good replies flagged, ROC AUC of the listening score (good above poor).

``--reflection-only`` runs the AnnoMI reflection task alone (about 2.5 minutes instead of 7-11), for a quick look at
the restating detectors; the other targets need the full run.

``--annomi-cv`` adds an experiment that is NOT shipped: the restatement pair head retrained on AnnoMI's own
conversations (2 folds by transcript) to show what in-domain data would give (needs scikit-learn).
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

from voice_trainer.analysis.listening.detect import analyze_listening  # noqa: E402
from voice_trainer.config import ListeningConfig  # noqa: E402

PARAPHRASE = {"Restatement or Paraphrasing", "Reflection of feelings"}
REPLIES = Path(__file__).resolve().parent / "data" / "listening_replies.psv"


def half(key: str) -> str:
    return "tune" if zlib.crc32(key.encode()) % 2 == 0 else "check"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_replies() -> list[tuple[str, str, str]]:
    rows = []
    for line in REPLIES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            q, caller, reply = line.split("|")
            rows.append((q, caller, reply))
    return rows


def prf(pairs: list[tuple[bool, bool]]) -> tuple[float, float, float, int]:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1, sum(1 for y, _ in pairs if y)


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a positive scores above a negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    s = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return s / (len(pos) * len(neg))


def thin(rows: list, limit: int) -> list:
    return rows if not limit or len(rows) <= limit else rows[:: max(1, len(rows) // limit)][:limit]


def run(mode: str, cfg: ListeningConfig, d: Path, limit: int, errors: dict, reflection_only: bool = False) -> dict:
    results: dict[str, dict[str, list[tuple[bool, bool]]]] = {}

    def add(task: str, split: str, y: bool, p: bool, text: str = "", ctx: str = "") -> None:
        for s in (split, "all"):
            results.setdefault(task, {}).setdefault(s, []).append((y, p))
        if y != p:
            errors.setdefault((mode, task), []).append((split, y, text, ctx))

    annomi = thin(read_csv(d / "annomi_dev.csv"), limit)
    for row in annomi:
        r = analyze_listening(row["text"], caller_text=row["prev_text"] if row["prev_speaker"] == "client" else "",
                              config=cfg)
        add("reflection (AnnoMI)", half("t" + row["transcript_id"]), row["is_reflection"] == "1",
            any(t.id == "paraphrase" for t in r.techniques), row["text"], row["prev_text"])
    flagged_good: list[bool] = []
    if reflection_only:
        return {"results": results, "flagged_good": flagged_good, "replies": []}
    for row in thin(read_csv(d / "esconv_supporter_turns.csv"), limit):
        r = analyze_listening(row["supporter_text"], caller_text=row["prev_seeker_text"], config=cfg)
        ids = {t.id for t in r.techniques}
        sp = half(row["id"])
        add("paraphrase (ESConv)", sp, row["strategy"] in PARAPHRASE, "paraphrase" in ids, row["supporter_text"],
            row["prev_seeker_text"])
        add("questions (ESConv)", sp, row["strategy"] == "Questions", "question" in ids, row["supporter_text"])
        flagged_good.append(any(f.id != "stock_phrase" for f in r.red_flags))
    for row in read_csv(d / "empathetic_intents.csv"):
        r = analyze_listening(row["text"], config=cfg)
        ids = {t.id for t in r.techniques}
        sp = half(row["id"])
        add("questions (EmpatheticIntents)", sp, row["intent"] == "questioning", "question" in ids, row["text"])
        add("acknowledgement (EmpatheticIntents)", sp, row["intent"] in ("acknowledging", "sympathizing"),
            "acknowledge" in ids, row["text"])
        flagged_good.append(any(f.id != "stock_phrase" for f in r.red_flags))
    replies = []
    for q, caller, reply in read_replies():
        r = analyze_listening(reply, caller_text=caller, config=cfg)
        flags = [f for f in r.red_flags if f.id != "stock_phrase"]
        ids = [f.id + ("*" if f.detail.get("kind") == "learned" else "") for f in flags]
        replies.append((q, bool(flags), r.score.value, reply, ids))
    return {"results": results, "flagged_good": flagged_good, "replies": replies}


def annomi_cv(d: Path) -> None:
    """Not shipped: the pair head retrained on AnnoMI (2 folds by conversation), to size the domain gap."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from voice_trainer.analysis.listening.listening_model import lexical_pair_features, pair_features
    from voice_trainer.analysis.listening.sentence_encoder import get_encoder

    rows = [r for r in read_csv(d / "annomi_dev.csv") if r["prev_speaker"] == "client"]
    enc = get_encoder()
    u, v = enc([r["text"] for r in rows]), enc([r["prev_text"] for r in rows])
    x = np.stack([pair_features(u[i], v[i], lexical_pair_features(r["prev_text"], r["text"])[0])
                  for i, r in enumerate(rows)])
    y = np.array([r["is_reflection"] == "1" for r in rows], dtype=int)
    fold = np.array([half("t" + r["transcript_id"]) == "tune" for r in rows])
    print("\nIN-DOMAIN EXPERIMENT (not shipped; AnnoMI is evaluation-only): pair head trained on one half of "
          "AnnoMI's conversations, tested on the other")
    for train_on, test_on in ((fold, ~fold), (~fold, fold)):
        m = LogisticRegression(C=1.0, max_iter=5000).fit(x[train_on], y[train_on])
        p = m.predict_proba(x[test_on])[:, 1]
        best = max((prf(list(zip(y[test_on].astype(bool), p >= t, strict=True)))[2], t)
                   for t in np.arange(0.2, 0.8, 0.05))
        p5 = prf(list(zip(y[test_on].astype(bool), p >= 0.5, strict=True)))
        print(f"  utterance-level, threshold 0.5: P {p5[0]:.3f} R {p5[1]:.3f} F1 {p5[2]:.3f}  "
              f"(best threshold on the test half {best[1]:.2f}: F1 {best[0]:.3f}, optimistic)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules-only", action="store_true", help="skip the run with the learned detectors")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many AnnoMI and ESConv rows each")
    ap.add_argument("--errors", type=int, default=0, help="print this many false positives/negatives per task")
    ap.add_argument("--annomi-cv", action="store_true", help="in-domain experiment on AnnoMI (not shipped)")
    ap.add_argument("--reflection-only", action="store_true", help="only the AnnoMI reflection task (quick)")
    args = ap.parse_args()
    d = eval_dir("listening-dev")
    modes = [("rules only", ListeningConfig(learned_model=False))]
    if not args.rules_only:
        modes.append(("rules + learned", ListeningConfig()))
    errors: dict = {}
    for mode, cfg in modes:
        t0 = time.perf_counter()
        out = run(mode, cfg, d, args.limit, errors, args.reflection_only)
        dt = time.perf_counter() - t0
        print(f"\n=== {mode} ({dt:.0f} s) on {d}")
        print(f"{'task':38s} {'split':6s} {'n_pos':>6s} {'P':>6s} {'R':>6s} {'F1':>6s}")
        for task, splits in out["results"].items():
            for s in ("tune", "check", "all"):
                p, r, f1, npos = prf(splits[s])
                print(f"{task:38s} {s:6s} {npos:6d} {p:6.3f} {r:6.3f} {f1:6.3f}")
        fg = out["flagged_good"]
        if args.reflection_only:
            continue
        print(f"good replies (ESConv + EmpatheticIntents) with any red flag: {sum(fg) / len(fg):.3f} of {len(fg)}")
        rep = out["replies"]
        poor = [x for x in rep if x[0] == "poor"]
        good = [x for x in rep if x[0] == "good"]
        print(f"held-out replies (bench/data/listening_replies.psv): red-flag recall of poor replies "
              f"{sum(x[1] for x in poor) / len(poor):.3f} ({len(poor)}), good replies flagged "
              f"{sum(x[1] for x in good) / len(good):.3f} ({len(good)}), ROC AUC good-vs-poor by listening score "
              f"{auc([x[2] for x in good], [x[2] for x in poor]):.3f}")
        if args.errors:
            for q, flagged, score, reply, ids in rep:
                if flagged != (q == "poor"):
                    print(f"   {q:4s} score {score:5.1f} flags {ids}: {reply[:110]!r}")
    print("\nreference: counsellor-reflection detection 0.73 P / 0.93 R; TF-IDF baseline reflection F1 0.645")
    if args.errors:
        for (mode, task), errs in errors.items():
            print(f"\n== {mode}: {task}: errors on the tune half")
            for kind in (False, True):
                shown = [e for e in errs if e[0] == "tune" and e[1] == kind][: args.errors]
                print(f"  -- {'missed' if kind else 'false alarm'}")
                for _, _, text, ctx in shown:
                    print(f"     A: {text[:160]!r}")
                    if ctx:
                        print(f"        C: {ctx[:160]!r}")
    if args.annomi_cv:
        annomi_cv(d)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
