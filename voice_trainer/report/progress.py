"""A trainee's progress: every session found under a folder, in time order, with the score per skill.

:func:`progress_rows` reads; :func:`trend` compares; :func:`write_csv` and :func:`progress_html` write. Session
folders that cannot be read are listed in ``skipped`` rather than stopping the table.
"""

from __future__ import annotations

import csv
import io
import os
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from ..atomic import write_text_atomic
from ..config import Config
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


def _bad_field(row: dict) -> str | None:
    """What is wrong with a row read from a hand-edited or damaged ``session.json`` (a number where text belongs,
    text where a score belongs), or None."""
    keys = {"created_at": "started_at", "scenario": "scenario.id"}  # the row's name -> the key in session.json
    for k in ("created_at", "session_id", "scenario", "status", "outcome"):
        if not isinstance(row[k], str) and not (k == "created_at" and row[k] is None):
            return f"{keys.get(k, k)} is {type(row[k]).__name__}, not text"
    for k in SKILLS:
        v = row[k]
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 100):
            return f"scores.{k} is {v!r:.40}, not a number from 0 to 100"
    return None


def progress_rows(folder: str | os.PathLike,
                  check: Callable[[Path], object] | None = None) -> tuple[list[dict], list[str]]:
    """One row per readable session under ``folder``, ordered by ``created_at`` (then folder name).

    ``check(session_folder)``, when given, runs before a folder is read; a :class:`UserError` from it skips the
    folder (the web app refuses folders holding links that lead out of its session root).

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
            if check is not None:
                check(p)
            rec = load_record(p)
        except UserError as exc:
            skipped.append(str(exc))
            continue
        s = rec.scores if isinstance(rec.scores, dict) else {}
        row = {
            "created_at": rec.created_at, "session_id": rec.session_id,
            "scenario": str(rec.scenario.get("id") or rec.title), "status": rec.status, "turns": len(rec.turns),
            "outcome": rec.outcome or "", **{k: s.get(k) for k in SKILLS}, "path": str(p),
        }
        bad = _bad_field(row)
        if bad:
            skipped.append(f"{p / SESSION_FILE}: unreadable ({bad}); fix or remove it")
            continue
        rows.append(row)
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


def trend_text(t: dict) -> str:
    """One skill's trend in words that never contradict each other: first and last score, the change, and the
    fitted slope only when it points the same way as the change (else "no steady trend")."""
    if t.get("change") is None or t.get("sessions", 0) < 2:
        return "-" if t.get("last") is None else f"{t['last']:.0f} (one session)"
    head = f"{t['first']:.0f} -> {t['last']:.0f} ({t['change']:+.0f} over {t['sessions']} sessions"
    slope = t.get("slope_per_session")
    change = round(t["change"])
    if change == 0 and (slope is None or round(slope, 1) == 0):
        return head + "; unchanged)"
    if slope is None or change == 0 or round(slope, 1) == 0 or (slope > 0) != (change > 0):
        return head + ("; no steady trend)" if t["sessions"] > 2 else ")")
    return head + f"; {'rising' if slope > 0 else 'falling'} {slope:+.1f}/session)"


def _when(r: dict) -> datetime | None:
    try:
        d = datetime.fromisoformat(str(r.get("created_at") or ""))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _time_axis(rows: list[dict]) -> tuple[list[float] | None, list[tuple[float, str]] | None, str]:
    """x of each session in days since the first, ticks at distinct dates, and the axis title; (None, None, "")
    when some session has no readable date (the chart then spaces sessions evenly)."""
    when = [_when(r) for r in rows]
    if not when or any(w is None for w in when):
        return None, None, ""
    t0 = min(when)
    xs = [(w - t0).total_seconds() / 86400 for w in when]
    span = max(xs) - min(xs)
    if span < 1e-6:
        return None, None, ""
    dates: dict[str, float] = {}
    for w, x in zip(when, xs, strict=True):
        dates.setdefault(w.strftime("%Y-%m-%d"), x)
    ticks = sorted((x, d) for d, x in dates.items())
    keep: list[tuple[float, str]] = []
    for x, d in ticks:  # at most about 7 labels, never two closer than a seventh of the span
        if not keep or x - keep[-1][0] >= span / 7:
            keep.append((x, d[5:] if len(dates) > 1 and len({k[:4] for k in dates}) == 1 else d))
    return xs, keep, "date of the session"


def progress_html(rows: list[dict], title: str = "Progress", links: list[str | None] | None = None) -> str:
    """A self-contained HTML page: the trend plot (inline SVG, one line per skill, time across) and the table,
    each session linked to its report (``links``: one relative URL per row, or None)."""
    from .html import CSS

    links = links or [None] * len(rows)
    labels = [str(i + 1) for i in range(len(rows))]  # used when the sessions have no usable dates
    series = {LABELS[k]: [r.get(k) for r in rows] for k in SKILLS}
    titles = {LABELS[k]: [f"{r['session_id']} ({r['scenario']}) {LABELS[k]}: "
                          + ("-" if r.get(k) is None else f"{r[k]:.0f}") for r in rows] for k in SKILLS}
    xs, ticks, x_title = _time_axis(rows)
    chart = line_chart(series, labels, title="Score per skill over the sessions", point_titles=titles,
                       point_links=links, css_class="chart progress", x_values=xs, x_ticks=ticks,
                       y_title="score (0-100)", x_title=x_title or "session, in order")
    tr = trend(rows)
    trend_html = "<ul>" + "".join(f"<li><b>{escape(LABELS[k])}</b>: {escape(trend_text(tr[k]))}</li>"
                                  for k in SKILLS) + "</ul>"
    head = "".join(f"<th>{escape(c)}</th>" for c in ("date", "session", "scenario", "status", "turns",
                                                       *[LABELS[k] for k in SKILLS]))
    body = []
    for r, link in zip(rows, links, strict=True):
        sid = escape(r["session_id"])
        cell = f'<a href="{escape(link, quote=True)}">{sid}</a>' if link else sid
        body.append("<tr>" + "".join(f"<td>{v}</td>" for v in (
            escape(str(r["created_at"])[:16].replace("T", " ")), cell, escape(r["scenario"]), escape(r["status"]),
            r["turns"], *["-" if r.get(k) is None else f"{r[k]:.0f}" for k in SKILLS])) + "</tr>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
            f'<div class="plot">{chart}</div><h2>Trend</h2>{trend_html}'
            f'<h2>Sessions</h2><div class="tablewrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
            "</tbody></table></div></body></html>\n")


def write_progress_html(rows: list[dict], path: str | os.PathLike, title: str = "Progress",
                        cfg: Config | None = None) -> tuple[Path, list[Path]]:
    """Write the progress page, linking each session's ``report.html``; a session without one gets it written.

    Returns
    -------
    (the page, the session reports written because they were missing)
    """
    from .html import write_html

    out = Path(path)
    made, links = [], []
    for r in rows:
        rep = Path(r["path"]) / "report.html"
        if not rep.exists():
            try:
                made.append(write_html(r["path"], rep, cfg))
            except UserError:
                links.append(None)
                continue
        links.append(urllib.parse.quote(Path(os.path.relpath(rep.resolve(), out.resolve().parent)).as_posix()))
    return _write_atomic(out, progress_html(rows, title, links)), made
