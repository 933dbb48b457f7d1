"""``voice-trainer progress``: a trainee's scores per skill over their sessions (table, CSV, HTML plot)."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..report.progress import LABELS, SKILLS, progress_rows, trend, write_csv, write_progress_html


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "progress",
        help="a trainee's trend per skill over the sessions in a folder",
        description="Find every session folder under DIR, order them by date, and show the scores per skill: a "
        "table, a CSV file and an HTML page with the trend plot.",
    )
    p.add_argument("folder", metavar="DIR", help="folder holding the trainee's session folders")
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV")
    p.add_argument("--html", metavar="FILE", help="write an HTML page with the trend plot")
    p.set_defaults(run=run)


def _f(v: object) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:.0f}"


def run(args: argparse.Namespace) -> int:
    rows, skipped = progress_rows(args.folder)
    console = Console()
    for s in skipped:
        console.print(f"[yellow]skipped:[/yellow] {escape(s)}", highlight=False)
    table = Table(title=f"Progress: {escape(args.folder)}")
    for c in ("date", "session", "scenario", "status", *[LABELS[k] for k in SKILLS]):
        table.add_column(c, justify="right" if c in LABELS.values() else "left")
    for r in rows:
        table.add_row(escape(r["created_at"][:16]), escape(r["session_id"]), escape(r["scenario"]),
                      escape(r["status"]), *[_f(r.get(k)) for k in SKILLS])
    console.print(table)
    tr = trend(rows)
    parts = []
    for k in SKILLS:
        t = tr[k]
        if t["change"] is None or t["sessions"] < 2:
            parts.append(f"{LABELS[k]} -")
        else:
            parts.append(f"{LABELS[k]} {t['first']:.0f} -> {t['last']:.0f} ({t['change']:+.0f}; "
                         f"{t['slope_per_session']:+.1f}/session)")
    console.print("Trend: " + "  ".join(parts), highlight=False)
    if args.csv:
        print(f"wrote {write_csv(rows, args.csv)}", file=sys.stderr)
    if args.html:
        print(f"wrote {write_progress_html(rows, args.html, f'Progress: {args.folder}')}", file=sys.stderr)
    return 0
