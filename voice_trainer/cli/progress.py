"""``voice-trainer progress``: a trainee's scores per skill over their sessions (table, CSV, HTML plot)."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape
from rich.table import Table

from ..report.progress import LABELS, SKILLS, progress_rows, trend, trend_text, write_csv, write_progress_html
from .common import config_from_args
from .console import TerminalConsole


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


SHORT = {"overall": "All", "calmness": "Calm", "listening": "Listen", "turn_taking": "Turns"}


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    rows, skipped = progress_rows(args.folder)
    console = TerminalConsole()
    for s in skipped:
        console.print(f"[yellow]skipped:[/yellow] {escape(s)}", highlight=False)
    # fits 80 columns: date 10 + session 22 + scenario 14 + 4 scores of at most 6, with rich's borders
    table = Table(title=f"Progress: {escape(args.folder)}", padding=(0, 1), collapse_padding=True)
    table.add_column("date", no_wrap=True, min_width=10)
    table.add_column("session", max_width=22, overflow="fold")
    table.add_column("scenario", max_width=14, overflow="ellipsis", no_wrap=True)
    for k in SKILLS:
        table.add_column(SHORT[k], justify="right", no_wrap=True)
    for r in rows:
        table.add_row(escape(r["created_at"][:10]), escape(r["session_id"]), escape(r["scenario"]),
                      *[_f(r.get(k)) for k in SKILLS])
    console.print(table)
    tr = trend(rows)
    console.print("Trend per skill (first -> last session):", highlight=False)
    for k in SKILLS:
        console.print(f"  {LABELS[k]}: {trend_text(tr[k])}", highlight=False)
    if args.csv:
        print(f"wrote {write_csv(rows, args.csv)}", file=sys.stderr)
    if args.html:
        page, made = write_progress_html(rows, args.html, f"Progress: {args.folder}", cfg)
        for m in made:
            print(f"wrote {m} (the session had no report yet)", file=sys.stderr)
        print(f"wrote {page}", file=sys.stderr)
    return 0
