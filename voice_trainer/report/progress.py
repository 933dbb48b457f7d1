"""A trainee's progress: every session found under a folder, in time order, with the score per skill.

:func:`progress_rows` reads; :func:`trend` compares; :func:`write_csv` and :func:`progress_html` write. Session
folders that cannot be read are listed in ``skipped`` rather than stopping the table.
"""

from __future__ import annotations

import csv
import io
import os
from html import escape
from pathlib import Path

from ..atomic import write_text_atomic
from ..errors import UserError
from .record import SESSION_FILE, load_record
from .svg import line_chart

SKILLS = ("overall", "calmness", "listening", "turn_taking")
COLUMNS = ("created_at", "session_id", "scenario", "status", "turns", "outcome", *SKILLS, "path")
LABELS = {"overall": "Overall", "calmness": "Calmness", "listening": "Listening", "turn_taking": "Turn-taking"}


def find_sessions(folder: str | os.PathLike) -> list[Path]:
    """Session folders (holding ``session.json``) at or under ``folder``."""
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"{d}: no such folder; give the folder holding the trainee's session folders")
    if (d / SESSION_FILE).exists():
        return [d]
    return sorted(p.parent for p in d.rglob(SESSION_FILE) if ".tmp" not in p.parent.name)


def progress_rows(folder: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """One row per readable session under ``folder``, ordered by ``created_at`` (then folder name).

    Returns
    -------
    rows : list of dict
        Keys :data:`COLUMNS`; scores 0-100 or None.
    skipped : list of str
        One line per session folder that could not be read, with the reason.
    """
    rows, skipped = [], []
    for p in find_sessions(folder):
        try:
            rec = load_record(p)
        except UserError as exc:
            skipped.append(str(exc))
            continue
        s = rec.scores or {}
        rows.append({
            "created_at": rec.created_at, "session_id": rec.session_id,
            "scenario": str(rec.scenario.get("id") or rec.title), "status": rec.status, "turns": len(rec.turns),
            "outcome": rec.outcome or "", **{k: s.get(k) for k in SKILLS}, "path": str(p),
        })
    rows.sort(key=lambda r: (r["created_at"] or "", r["path"]))
    if not rows and not skipped:
        raise UserError(f"{folder}: no session folders found (none holds {SESSION_FILE})")
    return rows, skipped


def trend(rows: list[dict]) -> dict[str, dict]:
    """Per skill: first and last measured score, the change, and the least-squares slope in points per session."""
    out = {}
    for k in SKILLS:
        pts = [(i, float(r[k])) for i, r in enumerate(rows) if isinstance(r.get(k), int | float)]
        if not pts:
            out[k] = {"first": None, "last": None, "change": None, "slope_per_session": None, "sessions": 0}
            continue
        slope = None
        if len(pts) >= 2:
            mx = sum(i for i, _ in pts) / len(pts)
            my = sum(v for _, v in pts) / len(pts)
            den = sum((i - mx) ** 2 for i, _ in pts)
            slope = round(sum((i - mx) * (v - my) for i, v in pts) / den, 2) if den else None
        out[k] = {"first": pts[0][1], "last": pts[-1][1], "change": round(pts[-1][1] - pts[0][1], 1),
                  "slope_per_session": slope, "sessions": len(pts)}
    return out


def csv_text(rows: list[dict]) -> str:
    """The rows as CSV (header :data:`COLUMNS`; empty cell = not measured)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r.get(k) is None else r.get(k) for k in COLUMNS})
    return buf.getvalue()


def _write_atomic(path: str | os.PathLike, text: str) -> Path:
    out = Path(path)
    try:
        return write_text_atomic(out, text)
    except OSError as exc:
        raise UserError(f"{out}: cannot write ({exc.strerror})") from None


def write_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    return _write_atomic(path, csv_text(rows))


def progress_html(rows: list[dict], title: str = "Progress") -> str:
    """A self-contained HTML page: the trend plot (inline SVG) and the table."""
    from .html import CSS

    labels = [(r["created_at"] or "")[:10] or r["session_id"] for r in rows]
    series = {LABELS[k]: [r.get(k) for r in rows] for k in SKILLS}
    titles = {LABELS[k]: [f"{r['session_id']} ({r['scenario']}) {LABELS[k]}: "
                          + ("-" if r.get(k) is None else f"{r[k]:.0f}") for r in rows] for k in SKILLS}
    chart = line_chart(series, labels, title="Score per skill over the sessions", point_titles=titles,
                       css_class="chart progress")
    head = "".join(f"<th>{escape(c)}</th>" for c in ("date", "session", "scenario", "status", "turns",
                                                       *[LABELS[k] for k in SKILLS]))
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
            r["created_at"], r["session_id"], r["scenario"], r["status"], r["turns"],
            *["-" if r.get(k) is None else f"{r[k]:.0f}" for k in SKILLS])) + "</tr>" for r in rows)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
            f"{chart}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n")


def write_progress_html(rows: list[dict], path: str | os.PathLike, title: str = "Progress") -> Path:
    return _write_atomic(path, progress_html(rows, title))
