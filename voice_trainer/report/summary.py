"""The JSON summary of a session (what ``voice-trainer report --json`` prints and the batch job records)."""

from __future__ import annotations

import os
from typing import Any

from ..config import Config
from .composer import compose
from .feedback import TECHNIQUE_TEXT, technique_name
from .record import ReportRecord, load_record

SKILLS = ("overall", "calmness", "listening", "turn_taking", "outcome_score")


def record_summary(rec: ReportRecord, cfg: Config | None = None) -> dict[str, Any]:
    """Summarise a loaded session or reviewed call: scores, anger, and per turn what went well / what to change."""
    cfg = cfg or Config()
    composed = compose(rec, cfg.report)
    turns = []
    for t in rec.turns:
        pts = composed.for_turn(t.index)
        good, change = (pts.went_well, pts.to_change) if pts else ([], [])
        turns.append({
            "index": t.index,
            "caller_text": t.caller_text,
            "transcript": t.transcript,
            "scores": {k: t.scores.get(k) for k in ("calmness", "listening", "turn_taking")},
            "anger_before": t.anger_before,
            "anger_after": t.anger_after,
            "anger_changes": t.anger_changes,
            "stage": pts.stage if pts else None,
            "went_well": [i.to_dict() for i in good],
            "to_change": [i.to_dict() for i in change],
            "audio": None if t.audio is None else t.audio.name,
            "notes": [n for n in rec.notes if n.get("turn") == t.index],
        })
    anger = rec.anger_points()
    vals = [a for _, a in anger]
    s = rec.scores or {}
    return {
        "kind": rec.kind,
        "path": str(rec.path),
        "session_id": rec.session_id,
        "title": rec.title,
        "scenario": {k: rec.scenario.get(k) for k in ("id", "title", "difficulty")} if rec.scenario else None,
        "status": rec.status,
        "mode": rec.mode,
        "created_at": rec.created_at,
        "model": rec.model,
        "model_files": rec.model_files,
        "outcome": rec.outcome,
        "scores": {k: s.get(k) for k in SKILLS},
        "focus": [f.to_dict() for f in composed.focus],
        "scores_source": rec.scores_source,
        "components": s.get("components") or {},
        "contagion": s.get("contagion"),
        "anger": {
            "start": vals[0] if vals else None,
            "end": vals[-1] if vals else None,
            "peak": max(vals) if vals else None,
            "trajectory": [{"turn": i, "anger": a} for i, a in anger],
        },
        "turns": turns,
        "notes": [n for n in rec.notes if n.get("turn") is None],
        "techniques": {str(n): technique_name(n) for n in range(1, 11)},
        "technique_text": {str(n): TECHNIQUE_TEXT[n] for n in range(1, 11)},
        "recovered": rec.recovered,
        "warnings": rec.warnings,
    }


def session_summary(session_dir: str | os.PathLike, cfg: Config | None = None) -> dict[str, Any]:
    """The summary dict of a session folder (or a ``review --json`` file): ``report --json`` prints it.

    Raises
    ------
    UserError
        Not a session folder / review result, or a corrupted one.
    """
    return record_summary(load_record(session_dir), cfg)
