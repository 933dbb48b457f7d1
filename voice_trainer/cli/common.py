"""Helpers shared by subcommands: loading config, printing JSON Lines."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator

from ..atomic import json_safe
from ..config import Config, load_config


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration, with ``--model`` / ``--language`` applied when a subcommand has them."""
    cfg = load_config(getattr(args, "config", None))
    if getattr(args, "model", None):
        cfg.transcribe.model = args.model
    if getattr(args, "language", None):
        cfg.transcribe.language = args.language
    return cfg


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        metavar="MODEL",
        help="Whisper model: tiny.en (default), base, a CTranslate2 folder or a faster-whisper name "
        "(default from $VOICE_TRAINER_MODEL)",
    )
    p.add_argument("--language", metavar="CODE", help="spoken language (default en)")


def print_json_line(obj: object) -> None:
    """One JSON value on one line of stdout (JSON Lines), flushed at once.

    Strict JSON: a NaN or infinity (a value not measured) is written as null, never as ``NaN``/``Infinity``.
    """
    sys.stdout.write(json.dumps(json_safe(obj), ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def stderr_progress(label: str, total: float, unit: str = "s") -> Iterator[Callable[[float], None]]:
    """A rich progress bar on stderr, shown only when stderr is a terminal (never in stdout, never in a pipe or
    a log file). Yields ``update(done)``, with ``done`` in the same unit as ``total``."""
    from .console import TerminalConsole

    console = TerminalConsole(stderr=True)
    if total <= 0 or not console.is_terminal or console.is_dumb_terminal:
        yield lambda done: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(f"[bold]{label}"), BarColumn(), TaskProgressColumn(),
        TextColumn(f"{{task.completed:.0f}}/{{task.total:.0f}} {unit}"), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=console, transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda done: progress.update(task, completed=min(done, total))
