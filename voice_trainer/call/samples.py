"""The canned trainee answers in ``audio_samples/`` (see its README and ``manifest.toml``).

They drive ``voice-trainer demo`` and the golden tests: for a few scenarios, a good de-escalating set and a
poor set of answers, plus a calm baseline clip of the same voice.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .session import AnswerSpec


def samples_dir() -> Path:
    """``$VOICE_TRAINER_SAMPLES``, else ``audio_samples/`` of the source checkout this package runs from."""
    env = os.environ.get("VOICE_TRAINER_SAMPLES")
    d = Path(env) if env else Path(__file__).resolve().parents[2] / "audio_samples"
    if not (d / "manifest.toml").exists():
        raise UserError(
            f"canned answers not found in {d} (no manifest.toml); run from a clone of the voice-trainer repository "
            "or set VOICE_TRAINER_SAMPLES to its audio_samples folder"
        )
    return d


@dataclass(frozen=True)
class SampleSet:
    """The answers of one scenario and set, in turn order, and the baseline clip."""

    scenario: str
    set: str
    answers: tuple[AnswerSpec, ...]
    baseline: str | None
    texts: tuple[str, ...]


def load_manifest(d: Path | None = None) -> list[dict]:
    d = d or samples_dir()
    try:
        return tomllib.loads((d / "manifest.toml").read_text(encoding="utf-8")).get("answer", [])
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{d / 'manifest.toml'}: not valid TOML ({exc})") from None


def sample_set(scenario: str, which: str, d: Path | None = None) -> SampleSet:
    """The canned answers for ``scenario`` and ``which`` (``good`` or ``poor``)."""
    d = d or samples_dir()
    rows = load_manifest(d)
    chosen = sorted((r for r in rows if r.get("scenario") == scenario and r.get("set") == which),
                    key=lambda r: r.get("turn", 0))
    if not chosen:
        have = sorted({r["scenario"] for r in rows if r.get("scenario")})
        raise UserError(f"no '{which}' answers for scenario {scenario!r}; canned sets exist for: {', '.join(have)}")
    base = next((r for r in rows if r.get("set") == "baseline"), None)
    answers = tuple(
        AnswerSpec(str(d / r["file"]), float(r["start_offset_s"]) if r.get("talks_over_caller") else None)
        for r in chosen
    )
    return SampleSet(scenario, which, answers, str(d / base["file"]) if base else None,
                     tuple(r.get("text", "") for r in chosen))


def scenarios_with_samples(d: Path | None = None) -> list[str]:
    return sorted({r["scenario"] for r in load_manifest(d) if r.get("scenario")})
