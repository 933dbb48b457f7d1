"""Cost of checking the model files against the manifest before loading them (voice_trainer.model_files).

Each run is a fresh Python process (as a CLI start is) that imports ``voice_trainer.model_files`` and verifies the
models a default ``analyze`` loads (whisper-tiny.en, silero-vad-v6, swift-f0; plus whisper-base when installed
and joined). Reported:

* cold: an empty hash cache (every file hashed once; what the first run after an install pays);
* warm: the hash cache filled by an earlier run (sizes and stamps are compared, nothing is hashed): the target
  is under 50 ms.

The time measured is inside the process, from before the import of ``model_files`` to after the last verify
(``voice_trainer.config``, which every command imports, is imported first and not counted), so interpreter
start-up is left out. The hash cache lives in a temporary ``XDG_CACHE_HOME``; the user's is not touched.

    .venv/bin/python bench/bench_model_check.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time
import voice_trainer.config  # every command imports it anyway: not part of the check's cost
t0 = time.perf_counter()
from voice_trainer import model_files
t1 = time.perf_counter()
ids = ["whisper-tiny.en", "silero-vad-v6", "swift-f0"]
base = model_files.entry("whisper-base")
if model_files.installed(base) and (model_files.locate(base) / "model.bin").exists():
    ids.append("whisper-base")
for i in ids:
    model_files.verify(i)
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "verify_ms": (t2 - t1) * 1e3, "total_ms": (t2 - t0) * 1e3,
                  "hashed": model_files.hash_cache().hashed, "models": ids,
                  "bytes": sum(model_files.entry(i).size for i in ids)}))
"""


def run_child(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, cwd=ROOT,
                         check=True, timeout=600)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="warm runs (default 20)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp}
        real_cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        joined = Path(real_cache) / "voice-trainer" / "models" / "base"
        if (joined / "model.bin").exists():  # check the user's joined base too, through a link (not copied)
            (Path(tmp) / "voice-trainer" / "models").mkdir(parents=True)
            os.symlink(joined, Path(tmp) / "voice-trainer" / "models" / "base")
        cold = run_child(env)
        warm = [run_child(env) for _ in range(args.runs)]
    assert all(w["hashed"] == 0 for w in warm), "a warm run hashed a file: the hash cache missed"
    mib = cold["bytes"] / 2**20
    print(f"models checked: {', '.join(cold['models'])} ({mib:.0f} MiB in {len(cold['models'])} models)")
    print(f"cold (empty hash cache): {cold['total_ms']:.0f} ms, {cold['hashed']} files hashed")
    for key in ("verify_ms", "total_ms"):
        vals = sorted(w[key] for w in warm)
        p90 = vals[min(len(vals) - 1, int(round(0.9 * (len(vals) - 1))))]
        label = "check only" if key == "verify_ms" else "import + check"
        print(f"warm, {label}: median {statistics.median(vals):.1f} ms, p90 {p90:.1f} ms, max {vals[-1]:.1f} ms "
              f"({len(vals)} processes)")


if __name__ == "__main__":
    main()
