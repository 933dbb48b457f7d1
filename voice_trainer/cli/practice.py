"""``voice-trainer practice``: a live practice call at the desk (or on canned answers with --answers)."""

from __future__ import annotations

import argparse
import contextlib
import random

from rich.console import Console
from rich.markup import escape

from ..call.script import default_session_dir
from ..errors import UserError
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "practice",
        help="a live practice call: the caller speaks, you answer into the microphone",
        description="Practise a call: the simulated caller speaks through your speakers, you answer into the "
        "microphone, and each turn gets feedback. Every finished turn is saved as it ends. With --answers, canned "
        "answer files replace the microphone (same pipeline).",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scenario", metavar="ID", help="scenario id (see `voice-trainer scenarios list`)")
    which.add_argument("--random", action="store_true", help="pick a random scenario (default)")
    p.add_argument("--difficulty", type=int, choices=(1, 2, 3), help="with --random: only this difficulty")
    p.add_argument("--input-device", metavar="D", help="microphone: index or name part (see `voice-trainer devices`)")
    p.add_argument("--output-device", metavar="D", help="speakers: index or name part")
    p.add_argument("--session-dir", metavar="DIR", help="where to keep the session (default sessions/practice-<time>)")
    p.add_argument("--max-turns", type=int, metavar="N", help="end the call after N of your turns")
    p.add_argument("--answers", nargs="+", metavar="FILE[@START]",
                   help="canned answer files instead of the microphone; FILE@-1.5 starts 1.5 s before the caller ends")
    p.add_argument("--baseline", metavar="PROFILE_OR_WAV", help="your calm voice (default: your stored profile, "
                   "else your first turn)")
    p.add_argument("--calibrate", action="store_true",
                   help="record your normal voice before the call (tone.calibration_s, 15 s by default)")
    p.add_argument("--hard", action="store_true", help="harder mode: hide the anger gauge")
    p.add_argument("--seed", type=int, help="seed for the caller's choices (default: random)")
    p.add_argument("--scenarios-dir", action="append", default=[], metavar="DIR", help="extra scenario folder")
    add_model_options(p)
    p.set_defaults(run=run)


def _saved(console: Console, folder) -> None:
    f = escape(str(folder))
    console.print(f"session saved in {f}  (report: voice-trainer report {f})")


def pick_scenario(args: argparse.Namespace, rng: random.Random, dirs: tuple[str, ...]):
    from ..call.scenarios import get_scenario, load_library

    if args.scenario:
        return get_scenario(args.scenario, dirs)
    lib = load_library(dirs)
    pool = [s for s in lib.values() if args.difficulty is None or s.difficulty == args.difficulty]
    if not pool:
        raise UserError(f"no scenario has difficulty {args.difficulty}; see `voice-trainer scenarios list`")
    return pool[rng.randrange(len(pool))]


def run(args: argparse.Namespace) -> int:
    from ..call.session import FileAnswers, SessionFolder, run_session
    from ..profile import resolve_baseline
    from ..report.terminal import print_summary, print_turn

    cfg = config_from_args(args)
    if args.max_turns is not None and args.max_turns < 1:
        raise UserError("--max-turns must be 1 or more")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    scenario = pick_scenario(args, random.Random(seed), (*cfg.caller.scenario_dirs, *args.scenarios_dir))
    transcriber = Transcriber(cfg.transcribe)
    session_dir = args.session_dir or default_session_dir("practice")
    console = TerminalConsole()
    baseline = resolve_baseline(args.baseline, cfg, transcriber)
    if args.answers:
        answers = FileAnswers(args.answers, cfg)
        folder = SessionFolder(session_dir, scenario, cfg, mode="file", model=transcriber.model_name, seed=seed,
                               settings={"answers": list(args.answers)})
        console.print(f"[bold]{escape(scenario.title)}[/bold] (file mode: {len(args.answers)} answers)")
        try:
            result = run_session(scenario, cfg, transcriber, answers, baseline=baseline, seed=seed,
                                 max_turns=args.max_turns, writer=folder,
                                 on_event=lambda n, d: print_turn(console, d["result"], not args.hard)
                                 if n == "turn" else None)
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            with contextlib.suppress(UserError):  # best effort: the disk may be what failed
                folder.finish("interrupted" if interrupted else "failed",
                              error="stopped with Ctrl-C" if interrupted else f"{type(exc).__name__}: {exc}")
            raise
        folder.finish("completed", result)
        print_summary(console, result)
        _saved(console, folder.dir)
        return 0

    from ..call.practice import practice_call

    result, state, folder_dir, error = practice_call(
        scenario, cfg, transcriber, session_dir=session_dir, input_device=args.input_device,
        output_device=args.output_device, max_turns=args.max_turns, seed=seed, show_anger=not args.hard,
        calibrate_s=cfg.tone.calibration_s if args.calibrate else 0.0, baseline=baseline, console=console,
    )
    if result is not None:
        print_summary(console, result)
    if state == "interrupted":
        console.print(f"[yellow]Stopped (Ctrl-C).[/yellow] Finished turns are saved in {escape(str(folder_dir))}")
        return 130
    if state == "device_lost":
        console.print(f"[red]The audio device stopped working:[/red] {escape(str(error))}. "
                      f"Finished turns are saved in {escape(str(folder_dir))}", soft_wrap=True)
        return 1
    _saved(console, folder_dir)
    return 0
