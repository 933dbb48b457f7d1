"""Where the evaluation data lives. It is never copied into this repository (non-commercial licences).

Default: ``../shared/eval`` next to the repository; override with ``$VOICE_TRAINER_EVAL``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def eval_dir(sub: str = "") -> Path:
    base = Path(os.environ.get("VOICE_TRAINER_EVAL") or REPO.parent / "shared" / "eval")
    d = base / sub if sub else base
    if not d.exists():
        sys.exit(f"evaluation data not found at {d}; set VOICE_TRAINER_EVAL to the folder holding it")
    return d


@contextlib.contextmanager
def busy_cores(k: int) -> Iterator[None]:
    """Keep ``k`` processes spinning on the CPU while the block runs (``--cpu-load K``); stopped afterwards."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(0, k))]
    try:
        yield
    finally:
        for p in busy:
            p.kill()
            p.wait()
