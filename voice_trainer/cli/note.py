"""``voice-trainer note``: a trainer's comment on a session or one of its turns, shown in its reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..report.notes import parse_turn
from ..report.record import add_note
from .common import config_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "note",
        help="add a trainer note to a session (or one turn); it appears in the report",
        description="Store a trainer's comment beside a session (notes.json in its folder). TURN is a turn number, "
        "or '-' (or 0) for the whole session.",
    )
    p.add_argument("session", metavar="SESSION", help="session folder (or a 'review --json' result file)")
    p.add_argument("turn", metavar="TURN", help="turn number, or '-' for the whole session")
    p.add_argument("text", metavar="TEXT", help="the note (quote it)")
    p.add_argument("--author", default="", metavar="NAME", help="who wrote the note")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    note = add_note(args.session, parse_turn(args.turn), args.text, args.author)
    where = "the whole session" if note["turn"] is None else f"turn {note['turn']}"
    print(f"note added to {where} of {args.session}")
    report = Path(args.session) / "report.html"
    if Path(args.session).is_dir() and report.exists():  # keep the session's own report up to date
        from ..report.html import write_html

        print(f"updated {write_html(args.session, report, config_from_args(args))}")
    return 0
