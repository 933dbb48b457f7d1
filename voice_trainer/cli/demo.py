"""``voice-trainer demo``: a whole scripted call on canned answers, no microphone needed."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..call.script import RunScript, default_session_dir, execute
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args
from .console import TerminalConsole

DEFAULT_SCENARIO = "double-charge"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="a scripted practice call on canned answers (no microphone needed)",
        description="Run whole practice calls with the synthesized caller and canned trainee answers, through "
        "the same pipeline as live practice: first a poorly handled call, then a well handled one. Prints the "
        "feedback, writes each session folder and its HTML report, and says where they are.",
    )
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, metavar="ID",
                   help=f"scenario with canned answers (default {DEFAULT_SCENARIO}; also late-package, "
                   "technician-no-show)")
    p.add_argument("--set", choices=("good", "poor", "both"), default="both", help="which answers (default both)")
    p.add_argument("--session-dir", metavar="DIR", help="parent folder for the sessions (default sessions/)")
    p.add_argument("--play", action="store_true", help="also play each turn through the speakers")
    add_model_options(p)
    p.set_defaults(run=run)


def _play(console: Console, tr, warned: list) -> None:
    from ..audio.devices import DeviceError
    from ..call.session import SR

    try:
        import sounddevice as sd

        sd.play((tr.audio.reference + tr.audio.mic) * 0.7, SR)
        sd.wait()
    except (DeviceError, OSError, Exception) as exc:  # no device: the demo goes on silently
        if not warned:
            console.print(f"[yellow]--play: no usable audio output ({escape(str(exc).splitlines()[0][:80])}); "
                          "continuing without sound[/yellow]")
            warned.append(True)


def run(args: argparse.Namespace) -> int:
    from ..call.samples import sample_set
    from ..report.terminal import print_summary, print_turn

    cfg = config_from_args(args)
    console = TerminalConsole()
    sets = ["poor", "good"] if args.set == "both" else [args.set]
    started = time.perf_counter()
    transcriber = Transcriber(cfg.transcribe)
    parent = Path(args.session_dir) if args.session_dir else None
    made = []
    warned: list = []
    for which in sets:
        ss = sample_set(args.scenario, which)
        script = RunScript(path=f"demo:{args.scenario}:{which}", scenario=args.scenario, answers=list(ss.answers),
                           baseline=ss.baseline, title=f"{args.scenario} ({which} answers)")
        folder = (parent / f"demo-{args.scenario}-{which}-{time.strftime('%Y%m%d-%H%M%S')}" if parent
                  else default_session_dir(f"demo-{args.scenario}-{which}"))
        console.rule(f"[bold]Demo call: {args.scenario}, {which} answers[/bold]")

        def on_event(name: str, data: dict) -> None:
            if name == "turn":
                print_turn(console, data["result"])
                if args.play:
                    _play(console, data["result"], warned)

        result, _checks, session_dir = execute(script, cfg, transcriber, session_dir=folder, mode="demo",
                                               on_event=on_event)
        print_summary(console, result)
        html = None
        try:
            from ..report.html import write_html

            html = write_html(session_dir, Path(session_dir) / "report.html")
        except ImportError:
            pass
        made.append((which, result, session_dir, html))
    console.rule("[bold]Where things are[/bold]")
    for which, result, session_dir, html in made:
        card = result.scorecard
        overall = "n/a" if card.overall is None else f"{card.overall:.0f}"
        console.print(f"{which:>4} answers: overall {overall}; session {escape(str(session_dir))}"
                      + (f"; report {escape(str(html))}" if html else ""), highlight=False)
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s. "
                  "Next: `voice-trainer report DIR` for the full scorecard, `voice-trainer practice` for a live call.")
    return 0
