"""``voice-trainer analyze``: transcribe and analyse recordings of the trainee."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from ..audio import CHANNELS
from ..errors import UserError
from ..pipeline import analyze_file
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


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    transcriber = Transcriber(cfg.transcribe)
    console = Console()
    failed = 0
    for path in args.files:
        try:
            result = analyze_file(path, cfg, transcriber, channel=args.channel)
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
