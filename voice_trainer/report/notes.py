"""Trainer notes: comments stored beside a session (``notes.json`` in its folder) or a review result
(``<file>.notes.json``), written atomically, shown in the terminal and HTML reports.

Format::

    {"schema_version": 1, "notes": [{"turn": 2, "text": "...", "author": "...", "created_at": "..."}, ...]}

``turn`` is the 1-based turn number, or null for a note on the whole session.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import write_json_atomic
from ..errors import UserError
from ..inputs import loads_json, read_input_text

NOTES_FILE = "notes.json"

SCHEMA_VERSION = 1
MAX_NOTE_CHARS = 4000


def notes_path(path: str | os.PathLike) -> Path:
    """Where the trainer notes of a session folder (``notes.json`` inside) or a review file (beside it) live."""
    p = Path(path)
    return p / NOTES_FILE if p.is_dir() else p.with_name(p.name + ".notes.json")


def load_notes(path: str | os.PathLike) -> list[dict]:
    """The notes of a session folder or review file (empty when there are none).

    Raises
    ------
    UserError
        The notes file exists but is corrupted.
    """
    p = notes_path(path)
    if not p.exists():
        return []
    try:
        data = loads_json(read_input_text(p))
        notes = data["notes"]
        if not isinstance(notes, list):
            raise ValueError("'notes' is not a list")
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: corrupted notes file ({str(exc)[:80]}); fix or remove it") from None
    out = []
    for n in notes:
        if isinstance(n, dict) and isinstance(n.get("text"), str):
            turn = n.get("turn")
            out.append({"turn": turn if isinstance(turn, int) and turn > 0 else None, "text": n["text"],
                        "author": str(n.get("author") or ""), "created_at": str(n.get("created_at") or "")})
    return out


def parse_turn(text: str) -> int | None:
    """``"3"`` -> 3; ``"-"``, ``"0"``, ``"all"`` or ``"session"`` -> None (a note on the whole session)."""
    t = text.strip().lower()
    if t in ("-", "0", "all", "session", ""):
        return None
    try:
        n = int(t)
    except ValueError:
        raise UserError(f"turn must be a number (1, 2, ...) or '-' for the whole session, not {text!r}") from None
    if n < 0:
        raise UserError(f"turn must be a number (1, 2, ...) or '-' for the whole session, not {text!r}")
    return n or None


def write_notes(path: str | os.PathLike, notes: list[dict]) -> Path:
    """Atomically rewrite the notes file of a session folder or review file; returns its path.

    Raises
    ------
    UserError
        The file cannot be written.
    """
    p = notes_path(path)
    try:
        write_json_atomic(p, {"schema_version": SCHEMA_VERSION, "notes": notes})
    except OSError as exc:
        raise UserError(f"{p}: cannot write the notes ({exc.strerror})") from None
    return p
