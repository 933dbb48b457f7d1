"""``voice-trainer report``: the scorecard of a practice session (or a reviewed call), in the terminal, as one
offline HTML file with replay and plots, or as JSON."""

from __future__ import annotations

import argparse
import sys

from ..report.export import write_transcript
from ..report.html import write_html
from ..report.record import load_record
from ..report.scorecard import print_scorecard
from ..report.summary import record_summary
from .common import config_from_args, print_json_line
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="scorecard of a practice session or a reviewed call (terminal, HTML with replay, JSON)",
        description="Show what went well and what to change in each turn of a practice session, with the evidence "
        "(quote, time, number) and the technique. Also accepts the output of 'voice-trainer review CALL --json' "
        "saved to a file.",
    )
    p.add_argument("session", metavar="SESSION", help="session folder (or a 'review --json' result file)")
    p.add_argument("--html", metavar="OUT.html", help="also write a self-contained HTML report with audio and plots")
    p.add_argument("--link-audio", action="store_true",
                   help="link the turns' WAVs relatively instead of embedding them in the HTML")
    p.add_argument("--vtt", metavar="FILE", help="also write the transcript as WebVTT (speakers caller / trainee)")
    p.add_argument("--srt", metavar="FILE", help="also write the transcript as SRT (speakers caller / trainee)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object on one line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    rec = load_record(args.session)
    for w in rec.warnings:
        print(f"voice-trainer: warning: {w}", file=sys.stderr)
    if args.html:
        out = write_html(rec, args.html, cfg, embed_audio=False if args.link_audio else None)
        if not args.json:
            print(f"wrote {out}", file=sys.stderr)
    for fmt in ("vtt", "srt"):
        if getattr(args, fmt):
            out = write_transcript(rec, getattr(args, fmt), fmt)
            if not args.json:
                print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print_json_line(record_summary(rec, cfg))
        return 0
    print_scorecard(rec, TerminalConsole(), cfg)
    return 0
