"""``voice-trainer analyze``: transcribe and analyse recordings of the trainee."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from ..audio import CHANNELS
from ..errors import UserError
from ..pipeline import analyze_file
from ..profile import resolve_baseline
from ..result import AnalysisResult
from ..transcribe import Transcriber
from .common import add_model_options, config_from_args, print_json_line


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="transcribe and analyse recordings",
        description="Transcribe and analyse recordings (wav, flac, ogg, mp3, m4a; any rate; mono or stereo).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (JSON Lines)")
    p.add_argument("--channel", choices=CHANNELS, default="mix", help="which channel of a stereo file (default mix)")
    p.add_argument(
        "--baseline",
        metavar="PROFILE_OR_WAV",
        help="your calm voice for tone: a voice profile (.json, from `voice-trainer calibrate`) or a recording of "
        "calm speech (default: the stored profile, if any)",
    )
    add_model_options(p)
    p.set_defaults(run=run)


def print_text(result: AnalysisResult, console: Console) -> None:
    console.print(f"[bold]{result.file}[/bold]  {result.duration_s:.1f} s  model {result.model}")
    if not result.transcript.words:
        console.print("  (no speech found)")
    for seg in result.transcript.segments:
        console.print(f"  [{seg.start:6.2f}-{seg.end:6.2f}] {seg.text}", highlight=False)
    if result.transcript.words:
        timed = " ".join(f"{w.word}@{w.start:.2f}" for w in result.transcript.words)
        console.print(f"  words: {timed}", highlight=False, soft_wrap=True)
    if result.tone is not None:
        t = result.tone.to_dict()
        b = t["baseline"]
        calm = f"withheld ({t['calmness_withheld']})" if t["calmness"] is None else f"{t['calmness']:.0f}/100"
        console.print(f"  tone: calmness {calm}  (baseline: {b['kind']} {b['source']})", highlight=False, markup=False)
        for c in t["components"]:
            pts = f"{c['points']:.0f}/{c['weight']:.0f}"
            state = f"withheld: {c['withheld']}" if c["withheld"] else f"{pts}  {c['tip']}"
            console.print(f"    {c['label']}: {state}", highlight=False, markup=False, soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    transcriber = Transcriber(cfg.transcribe)
    console = Console()
    baseline = resolve_baseline(args.baseline, cfg, transcriber)
    failed = 0
    for path in args.files:
        try:
            result = analyze_file(path, cfg, transcriber, channel=args.channel, baseline=baseline)
        except UserError as exc:
            if len(args.files) == 1:
                raise
            failed += 1
            print(f"voice-trainer: error: {exc}", file=sys.stderr)
            continue
        if args.json:
            print_json_line(result.to_dict())
        else:
            print_text(result, console)
    return 2 if failed else 0
