"""``voice-trainer say``: speak (or write to a file) a line of a scenario's caller."""

from __future__ import annotations

import argparse

from ..call.caller import Caller, band_of
from ..call.scenarios import STAGES, get_scenario
from ..call.tts import ENGINES, play, render_line, resolve_engine, set_piper_threads, voice_for
from ..errors import UserError
from .common import config_from_args
from .scenarios import add_scenarios_dir_option, extra_dirs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "say",
        help="speak a caller line of a scenario (or write it to a WAV file)",
        description="Render a caller line with the scenario's voice at an anger level and play it, or write it "
        "with --out.",
    )
    p.add_argument("--scenario", required=True, metavar="ID", help="scenario id (see `voice-trainer scenarios list`)")
    p.add_argument("--anger", type=float, metavar="N", help="anger 0-100 (default: the persona's starting anger)")
    p.add_argument("--stage", choices=STAGES, default="opening", help="which stage's line (default opening)")
    p.add_argument("--seed", type=int, default=0, help="picks among equivalent lines (default 0)")
    p.add_argument("--text", metavar="TEXT", help="say this text in the caller's voice instead of a scenario line")
    p.add_argument("--out", metavar="FILE.wav", help="write the line to this WAV file instead of playing it")
    p.add_argument("--device", metavar="DEV", help="output device (index or name) for playback")
    p.add_argument("--engine", choices=ENGINES, help="text-to-speech engine (default: [caller] engine, pyttsx3); "
                   "piper needs pip install 'voice-trainer[voice]' and falls back to pyttsx3 without it")
    p.add_argument("--no-cache", action="store_true", help="render again even when the line is cached")
    add_scenarios_dir_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    scenario = get_scenario(args.scenario, extra_dirs(args))
    anger = float(scenario.persona.anger if args.anger is None else args.anger)
    if not 0.0 <= anger <= 100.0:
        raise UserError(f"--anger {args.anger:g} is out of range; give 0-100")
    if args.text is not None:
        text, band = args.text, band_of(anger, cfg.caller)
    elif args.stage == "opening":
        line = Caller(scenario, cfg.caller, seed=args.seed, anger=anger).opening()
        text, band = line.text, line.band
    else:
        import random

        band = band_of(anger, cfg.caller)
        options = scenario.lines_for(args.stage, band)
        text = options[random.Random(args.seed).randrange(len(options))]
    engine = resolve_engine(args.engine or cfg.caller.engine)  # piper without its extra: pyttsx3 and a notice
    set_piper_threads(cfg.tts.piper_threads)
    voice = voice_for(scenario.persona, anger, cfg.tts, engine)
    cache = cfg.tts.cache and not args.no_cache
    print(f"{scenario.persona.name} ({band}, anger {anger:g}, {engine}): {text}")
    if args.out:
        path = render_line(text, voice, cache=cache, out=args.out)
        print(f"wrote {path}")
        return 0
    device: int | str | None = args.device
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    path = render_line(text, voice, cache=cache)
    try:
        play(path, device=device)
    finally:
        if not cache:  # an uncached render is a temporary file
            path.unlink(missing_ok=True)
    return 0
