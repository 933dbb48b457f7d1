"""Helpers shared by subcommands: loading config, printing JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys

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
