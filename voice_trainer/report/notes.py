"""Trainer notes: comments stored beside a session (``notes.json`` in its folder) or a review result
(``<file>.notes.json``), written atomically, shown in the terminal and HTML reports.

Format::

    {"schema_version": 1, "notes": [{"turn": 2, "text": "...", "author": "...", "created_at": "..."}, ...]}

``turn`` is the 1-based turn number, or null for a note on the whole session.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from ..errors import UserError
from .record import notes_path

SCHEMA_VERSION = 1
MAX_NOTE_CHARS = 4000


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
        data = json.loads(p.read_text(encoding="utf-8"))
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


def add_note(path: str | os.PathLike, turn: int | None, text: str, author: str = "") -> dict:
    """Append a note to a session folder or review result (atomic rewrite of the notes file).

    Parameters
    ----------
    path : path-like
        Session folder or ``review --json`` result file.
    turn : int or None
        1-based turn number; None for the whole session. Must exist in the session.
    text : str
        The comment (plain text; it is escaped wherever it is shown).
    author : str
        Who wrote it (optional).

    Raises
    ------
    UserError
        Not a session, an unknown turn, or an empty note.
    """
    from ..store import write_json_atomic
    from .record import load_record

    text = text.strip()
    if not text:
        raise UserError("the note is empty; give its text in quotes")
    if len(text) > MAX_NOTE_CHARS:
        raise UserError(f"the note is {len(text)} characters long; keep it under {MAX_NOTE_CHARS}")
    rec = load_record(path)
    if rec.notes_error:  # never overwrite notes that could not be read
        raise UserError(rec.notes_error)
    if turn is not None and turn not in {t.index for t in rec.turns}:
        have = ", ".join(str(t.index) for t in rec.turns) or "none"
        raise UserError(f"{path}: has no turn {turn} (turns: {have}); use '-' for a note on the whole session")
    note = {"turn": turn, "text": text, "author": author,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    notes = rec.notes + [note]
    p = notes_path(path)
    try:
        write_json_atomic(p, {"schema_version": SCHEMA_VERSION, "notes": notes})
    except OSError as exc:
        raise UserError(f"{p}: cannot write the notes ({exc.strerror})") from None
    return note
