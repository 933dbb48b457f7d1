"""voice-trainer: rehearse de-escalating angry callers and get explainable feedback on tone and listening.

The public API is four names, imported on first use so that ``import voice_trainer`` stays cheap:

``analyze_turn(audio, context, cfg, transcriber)``
    The one analysis of a trainee's turn (:mod:`voice_trainer.analysis.core`) -> ``TurnAnalysis``.
``analyze_file(path, cfg, transcriber)``
    One recorded answer (any length, any format) -> ``AnalysisResult`` (:mod:`voice_trainer.pipeline`).
``review_call(path, cfg, transcriber)``
    A recorded two-party stereo call -> ``ReviewResult`` (:mod:`voice_trainer.review`).
``Session(scenario, answers).run()``
    A whole practice call with the simulated caller -> ``SessionResult`` (:mod:`voice_trainer.call.session`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "analyze_turn": "voice_trainer.analysis.core",
    "analyze_file": "voice_trainer.pipeline",
    "review_call": "voice_trainer.review",
    "Session": "voice_trainer.call.session",
}
__all__ = ["Session", "__version__", "analyze_file", "analyze_turn", "review_call"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'voice_trainer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
