"""``voice-trainer review``: turn-taking, transcript and scores of a recorded two-party call."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..review import CALLER_CHANNELS, ReviewResult, review_file
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args, print_json_line, stderr_progress
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="review a recorded call (stereo: caller on one channel, agent on the other)",
        description="Review a recorded two-party call: interruptions, response latency, dead air, talk share "
        "and transcript per channel. The file must be stereo with one party per channel.",
    )
    p.add_argument("file", metavar="CALL", help="stereo call recording (wav, flac, ogg, mp3, m4a)")
    p.add_argument(
        "--caller-channel", choices=CALLER_CHANNELS, default="left", help="channel holding the caller (default left)"
    )
    p.add_argument("--json", action="store_true", help="print the whole review as one JSON object on one line")
    p.add_argument("--vtt", metavar="FILE", help="also write the transcript as WebVTT (speakers caller / trainee)")
    p.add_argument("--srt", metavar="FILE", help="also write the transcript as SRT (speakers caller / trainee)")
    add_model_options(p)
    p.set_defaults(run=run)


def _fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def print_text(r: ReviewResult, console: Console) -> None:
    t = r.turns
    share = t.talk_share
    console.print(
        f"[bold]{r.file}[/bold]  {r.duration_s:.1f} s  caller on {r.caller.channel}, agent on {r.agent.channel}  "
        f"model {r.model}",
        highlight=False,
    )
    if r.agent.echo and r.agent.echo.detected:
        e = r.agent.echo
        console.print(f"  caller leaks into the agent channel ({e.delay_s * 1000:.0f} ms, gain {e.gain:.2f}); removed")
    score = "withheld" if r.score.value is None else f"{r.score.value:.0f}/100"
    console.print(f"  turn-taking score: {score}", highlight=False)
    talk = "-" if share is None else f"agent {100 * share:.0f}% / caller {100 * (1 - share):.0f}%"
    console.print(f"  talk share: {talk}", highlight=False)
    lat = t.latency_stats()
    console.print(
        f"  response latency: median {_fmt_s(lat['median_s'])}, max {_fmt_s(lat['max_s'])} "
        f"over {len(t.response_latencies)} answers",
        highlight=False,
    )
    for who in ("agent", "caller"):
        m = t.longest_monologue(who)
        if m:
            console.print(f"  longest {who} turn: {m.duration:.1f} s at {m.start:.1f} s", highlight=False)
    console.print(f"  agent interruptions: {len(t.interruptions)}", highlight=False)
    for i in t.interruptions:
        console.print(f"    {i.start:7.2f}-{i.end:7.2f}  over {i.overlap_s:.1f} s  \"{i.text}\"", highlight=False)
    console.print(f"  caller interruptions: {len(t.caller_interruptions)}", highlight=False)
    for i in t.caller_interruptions:
        console.print(f"    {i.start:7.2f}-{i.end:7.2f}  over {i.overlap_s:.1f} s  \"{i.text}\"", highlight=False)
    console.print(f"  dead air: {len(t.dead_air)}", highlight=False)
    for d in t.dead_air:
        console.print(f"    {d.start:7.2f}-{d.end:7.2f}  {d.duration_s:.1f} s after the {d.after}", highlight=False)
    for c in r.score.components:
        if c.withheld is None and c.points < c.weight and c.tip:
            console.print(f"  tip (technique {c.technique}): {c.tip}", highlight=False)
    console.print("  transcript:")
    for turn in t.turns:
        console.print(f"    [{turn.start:7.2f}] {turn.speaker:6s} {turn.text}", highlight=False, soft_wrap=True)
    for note in r.notes:
        console.print(f"  note: {note}", highlight=False)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    transcriber = Transcriber(cfg.transcribe)
    with stderr_progress("reviewing", 5, unit="stages") as update:
        result = review_file(args.file, cfg, transcriber, caller_channel=args.caller_channel,
                             on_stage=lambda done, _total, _name: update(done))
    if args.vtt or args.srt:
        import sys
        from pathlib import Path

        from ..report.export import write_transcript
        from ..report.record import record_from_review

        rec = record_from_review(result.to_dict(), Path(args.file).resolve().with_suffix(".review.json"))
        for fmt in ("vtt", "srt"):
            if getattr(args, fmt):
                print(f"wrote {write_transcript(rec, getattr(args, fmt), fmt)}", file=sys.stderr)
    if args.json:
        print_json_line(result.to_dict())
    else:
        print_text(result, TerminalConsole())
    return 0
