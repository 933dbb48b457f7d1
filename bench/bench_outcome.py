"""Do the scores agree with how the calls went? Overall score vs the caller's final anger over scripted calls.

Runs whole practice calls in file mode (real Whisper, real TTS, the same call loop as live practice) for every
scenario that has canned answers, with five answer sets each:

* ``good``    - the de-escalating canned answers;
* ``poor``    - the defensive canned answers (the first one talks over the caller);
* ``silent``  - three answers of faint room noise (-60 dBFS) and no speech;
* ``mixed-a`` - good, poor, good;
* ``mixed-b`` - poor, good, good.

and prints one row per call (overall, the skill scores, final anger, outcome) and Spearman's rho between the
overall score and the caller's final anger (the target is rho <= -0.7: a higher overall score goes with a
calmer caller at the end). Session folders are not kept.

Usage::

    .venv/bin/python bench/bench_outcome.py [--model tiny.en] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from voice_trainer.call.samples import sample_set, scenarios_with_samples  # noqa: E402
from voice_trainer.call.script import RunScript, execute  # noqa: E402
from voice_trainer.call.session import AnswerSpec  # noqa: E402
from voice_trainer.config import Config  # noqa: E402
from voice_trainer.speech.transcribe import Transcriber  # noqa: E402

SR = 16000


def _silent_answer(folder: Path, seconds: float = 6.0, seed: int = 0) -> str:
    """Faint room noise, no speech: what a trainee who says nothing sends."""
    rng = np.random.default_rng(seed)
    noise = (rng.standard_normal(int(seconds * SR)) * 10 ** (-60 / 20)).astype(np.float32)
    path = folder / f"silent_{seed}.wav"
    sf.write(path, noise, SR, subtype="PCM_16")
    return str(path)


def answer_sets(scenario: str, tmp: Path) -> dict[str, list[AnswerSpec]]:
    good = list(sample_set(scenario, "good").answers)
    poor = list(sample_set(scenario, "poor").answers)
    silent = [AnswerSpec(_silent_answer(tmp, seed=i)) for i in range(3)]
    return {
        "good": good,
        "poor": poor,
        "silent": silent,
        "mixed-a": [good[0], poor[1], good[2]],
        "mixed-b": [poor[0], good[1], good[2]],
    }


def spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="Whisper model (default: the configured one)")
    ap.add_argument("--json", action="store_true", help="print the rows and rho as JSON")
    args = ap.parse_args()
    cfg = Config()
    if args.model:
        cfg.transcribe.model = args.model
    transcriber = Transcriber(cfg.transcribe)
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for scn in scenarios_with_samples():
            base = sample_set(scn, "good").baseline
            for name, answers in answer_sets(scn, Path(tmp)).items():
                script = RunScript(path=f"bench:{scn}:{name}", scenario=scn, answers=answers, baseline=base)
                result, _checks, _folder = execute(script, cfg, transcriber, session_dir=None, mode="file")
                card = result.scorecard
                rows.append({
                    "scenario": scn, "answers": name, "overall": card.overall,
                    "calmness": card.calmness.value, "listening": card.listening.value,
                    "turn_taking": card.turn_taking.value,
                    "outcome_score": None if card.outcome_score is None else card.outcome_score.value,
                    "final_anger": result.caller.anger, "outcome": result.caller.outcome or "unfinished",
                })
                r = rows[-1]
                if not args.json:
                    def f(v):
                        return "  n/a" if v is None else f"{v:5.1f}"
                    print(f"{scn:<20} {name:<8} overall {f(r['overall'])}  calm {f(r['calmness'])}  "
                          f"listen {f(r['listening'])}  turns {f(r['turn_taking'])}  "
                          f"final anger {r['final_anger']:5.1f}  {r['outcome']}", flush=True)
    pairs = [(r["overall"], r["final_anger"]) for r in rows if r["overall"] is not None]
    rho = spearman([p[0] for p in pairs], [p[1] for p in pairs])
    silent = [r["overall"] for r in rows if r["answers"] == "silent"]
    summary = {"calls": len(rows), "spearman_overall_vs_final_anger": round(rho, 3),
               "silent_max_overall": None if not silent or None in silent else round(max(silent), 1),
               "seconds": round(time.perf_counter() - t0, 1)}
    if args.json:
        print(json.dumps({"rows": rows, **summary}))
    else:
        print(f"overall vs final anger: Spearman rho = {rho:.3f} over {len(pairs)} calls (target <= -0.7); "
              f"silent calls score at most {summary['silent_max_overall']}; {summary['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
