"""``voice-trainer analyze``: transcribe and analyse recordings of the trainee."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .. import preload
from ..analysis.listening.detect import analyze_listening
from ..analysis.result import SCHEMA_VERSION, AnalysisResult
from ..audio.files import CHANNELS, probe
from ..config import Config
from ..errors import UserError
from ..inputs import MAX_LINE_CHARS, NestingError, loads_json, not_regular_error, special_kind
from ..pipeline import analyze_file
from ..profile import resolve_baseline
from ..speech.transcribe import Transcriber
from .common import add_model_options, config_from_args, print_json_line, stderr_progress
from .console import TerminalConsole


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="transcribe and analyse recordings",
        description="Transcribe and analyse recordings (wav, flac, ogg, mp3, m4a; any rate; mono or stereo).",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="audio files (or use --text / --texts)")
    p.add_argument("--text", metavar="TEXT", help="analyse the listening of this reply text (no audio)")
    p.add_argument(
        "--texts",
        metavar="FILE.jsonl",
        help='analyse many replies: one JSON object a line, {"agent": ..., "caller": ..., "facts": [...]}',
    )
    p.add_argument("--caller-text", metavar="TEXT", default="", help="the caller's line the reply answers")
    p.add_argument("--fact", action="append", default=[], metavar="TEXT", help="a scenario fact (repeatable)")
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
    console.print(f"[bold]{escape(str(result.file))}[/bold]  {result.duration_s:.1f} s  model {result.model}")
    if not result.transcript.words:
        console.print("  (no speech found)")
    for seg in result.transcript.segments:
        console.print(f"  [{seg.start:6.2f}-{seg.end:6.2f}] {seg.text}", highlight=False, markup=False)
    if result.transcript.words:
        timed = " ".join(f"{w.word}@{w.start:.2f}" for w in result.transcript.words)
        console.print(f"  words: {timed}", highlight=False, soft_wrap=True, markup=False)
    if result.tone is not None:
        t = result.tone.to_dict()
        b = t["baseline"]
        calm = f"withheld ({t['calmness_withheld']})" if t["calmness"] is None else f"{t['calmness']:.0f}/100"
        console.print(f"  tone: calmness {calm}  (baseline: {b['kind']} {b['source']})", highlight=False, markup=False)
        for c in t["components"]:
            pts = f"{c['points']:.0f}/{c['weight']:.0f}"
            state = f"withheld: {c['withheld']}" if c["withheld"] else f"{pts}  {c['tip']}"
            console.print(f"    {c['label']}: {state}", highlight=False, markup=False, soft_wrap=True)
    if result.listening is not None:
        print_listening(result.listening.to_dict(), console)


def print_listening(d: dict, console: Console) -> None:
    """The listening part of a result (``ListeningResult.to_dict()``) as text."""
    score = "withheld" if d["score"] is None else f"{d['score']:.0f}/100"
    console.print(f"  listening: {score}", highlight=False, markup=False)
    for t in d["techniques"]:
        console.print(f"    + [{t['technique']}] {t['label']}: \"{t['text']}\"", highlight=False, markup=False)
    for f in d["red_flags"]:
        console.print(f"    - [{f['technique']}] {f['label']}: \"{f['text']}\"  {f.get('tip', '')}",
                      highlight=False, markup=False, soft_wrap=True)
    for c in d["components"]:
        state = f"withheld: {c['withheld']}" if c["withheld"] else f"{c['points']:.0f}/{c['weight']:.0f}  {c['tip']}"
        console.print(f"    {c['label']}: {state}", highlight=False, markup=False, soft_wrap=True)


def _text_record(agent: str, caller: str, facts: list[str], cfg: object) -> dict:
    result = analyze_listening(agent, caller_text=caller, facts=facts, config=cfg.listening)  # type: ignore[attr-defined]
    return {"schema_version": SCHEMA_VERSION, "agent": agent, "caller": caller, "listening": result.to_dict()}


def _parse_text_line(raw: str, where: str) -> tuple[str, str, list[str], dict]:
    try:
        obj = loads_json(raw)
    except NestingError as exc:
        raise UserError(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg}); each line must be an object like "
                        '{"agent": "...", "caller": "..."}') from None
    if not isinstance(obj, dict) or not isinstance(obj.get("agent"), str):
        raise UserError(f'{where}: each line must be a JSON object with an "agent" string')
    caller = obj.get("caller", "")
    facts = obj.get("facts", [])
    if not isinstance(caller, str):
        raise UserError(f'{where}: "caller" must be a string')
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise UserError(f'{where}: "facts" must be a list of strings')
    return obj["agent"], caller, facts, obj


def run_texts(args: argparse.Namespace, cfg: object, console: Console) -> int:
    """--text / --texts: listening analysis of typed or pasted replies, no audio and no model."""
    if args.text is not None:
        rec = _text_record(args.text, args.caller_text, list(args.fact), cfg)
        if args.json:
            print_json_line(rec)
        else:
            print_listening(rec["listening"], console)
        return 0
    try:
        kind = special_kind(os.stat(args.texts).st_mode)
        if kind and not kind.endswith("(FIFO)"):  # a pipe streams lines (``--texts <(cmd)``); a device does not
            raise not_regular_error(args.texts, kind)
        f = open(args.texts, encoding="utf-8")  # noqa: SIM115 - closed below; a missing file is a UserError
    except OSError as exc:
        raise UserError(f"{args.texts}: cannot read ({exc.strerror})") from None
    failed = 0
    with f:
        for n, raw in enumerate(iter(lambda: f.readline(MAX_LINE_CHARS + 1), ""), 1):
            if len(raw) > MAX_LINE_CHARS:
                raise UserError(f"{args.texts}:{n}: the line is longer than {MAX_LINE_CHARS} characters; give one "
                                "short JSON object per line")
            if not raw.strip():
                continue
            try:
                agent, caller, facts, obj = _parse_text_line(raw, f"{args.texts}:{n}")
            except UserError as exc:
                failed += 1
                print(f"voice-trainer: error: {exc}", file=sys.stderr)
                continue
            rec = _text_record(agent, caller, facts, cfg)
            rec = {"line": n, **({"id": obj["id"]} if "id" in obj else {}), **rec}
            if args.json:
                print_json_line(rec)
            else:
                console.print(f"[bold]{escape(str(args.texts))}:{n}[/bold]")
                print_listening(rec["listening"], console)
    return 2 if failed else 0


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    text_mode = args.text is not None or args.texts is not None
    if text_mode and args.files:
        raise UserError("give either audio FILEs or --text/--texts, not both")
    if args.text is not None and args.texts is not None:
        raise UserError("give --text or --texts, not both")
    if not text_mode and not args.files:
        raise UserError("nothing to analyse: give audio FILEs, --text \"reply\" or --texts FILE.jsonl")
    if text_mode:
        return run_texts(args, cfg, TerminalConsole())
    transcriber = Transcriber(cfg.transcribe)
    # Models load while this thread decodes. The sentence encoder is built first, before Whisper, except for one
    # long file: there Whisper's working memory on each 2-minute chunk is larger than the encoder's build, so the
    # encoder is built after the last chunk (when the listening stage needs it) instead of being held throughout.
    long_file = False
    if len(args.files) == 1:
        d = probe(args.files[0]).duration_s  # an unreadable file fails before any model starts loading
        long_file = not math.isfinite(d) or d > cfg.audio.chunk_s
    loading = preload.start(cfg, transcriber, listening=not long_file)
    try:
        return _run_files(args, cfg, transcriber)
    finally:
        loading.wait()  # never exit while a model is half-built


def _run_files(args: argparse.Namespace, cfg: Config, transcriber: Transcriber) -> int:
    console = TerminalConsole()
    baseline = resolve_baseline(args.baseline, cfg, transcriber)
    failed = 0
    for path in args.files:
        try:
            info = probe(path)
            long = math.isfinite(info.duration_s) and info.duration_s > cfg.audio.chunk_s
            with stderr_progress(f"analysing {Path(path).name}", info.duration_s if long else 0.0) as update:
                result = analyze_file(path, cfg, transcriber, channel=args.channel, baseline=baseline,
                                      caller_text=args.caller_text,
                                      on_progress=(lambda done, _total: update(done)) if long else None)
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
