"""``voice-trainer run``: a scripted call on canned answers, checked against expected ranges."""

from __future__ import annotations

import argparse

from rich.markup import escape

from ..call.script import default_session_dir, execute, load_script
from ..report.terminal import print_turn
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args, print_json_line
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a scripted call on canned answers and check it (exit 0 pass, 1 fail)",
        description="Run a scenario with canned answer files through the practice pipeline and compare the "
        "scores with the script's expected ranges and pass mark. Exit code 0: passed; 1: failed; 2: bad input.",
    )
    p.add_argument("script", metavar="SCRIPT.toml", help="run script (see voice_trainer/call/script.py for the format)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--session-dir", metavar="DIR", help="keep the session here (default: sessions/run-<time>)")
    p.add_argument("--no-session", action="store_true", help="do not write a session folder")
    p.add_argument("--scenarios-dir", action="append", default=[], metavar="DIR", help="extra scenario folder")
    add_model_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    script = load_script(args.script)
    transcriber = Transcriber(cfg.transcribe)
    session_dir = None if args.no_session else (args.session_dir or default_session_dir("run"))
    console = TerminalConsole(stderr=args.json)

    def on_event(name: str, data: dict) -> None:
        if name == "turn" and not args.json:
            print_turn(console, data["result"])

    result, checks, folder = execute(script, cfg, transcriber, session_dir=session_dir, mode="file",
                                     scenarios_dirs=(*cfg.caller.scenario_dirs, *args.scenarios_dir), on_event=on_event)
    passed = all(c.passed for c in checks)
    if args.json:
        out = {"script": script.path, "passed": passed, "checks": [c.to_dict() for c in checks],
               "session_dir": str(folder) if folder else None, **result.to_dict()}
        print_json_line(out)
    else:
        card = result.scorecard
        overall = "n/a" if card.overall is None else f"{card.overall:.0f}"
        console.print(f"[bold]{escape(script.title or script.path)}[/bold]: overall {overall}, "
                      f"outcome {result.caller.outcome or 'call not finished'}")
        for c in checks:
            mark = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
            console.print(f"  {mark} {c.name}: {escape(str(c.actual))} (expected {escape(str(c.expected))})",
                          highlight=False)
        if folder:
            console.print(f"session kept in {escape(str(folder))}")
        console.print("[green]PASSED[/green]" if passed else "[red]FAILED[/red]")
    return 0 if passed else 1
