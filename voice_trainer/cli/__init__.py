"""The ``voice-trainer`` command line: argument parsing and error messages only.

Each subcommand lives in its own module of this package and exposes ``add_parser(subparsers)`` and
``run(args) -> int``. To add one, write the module and list it in ``COMMANDS``. Nothing imports this package.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from .. import __version__, memory
from ..config import ConfigError
from ..errors import UserError
from .terminal import ControlFilter

COMMANDS = [  # in the order --help lists them
    "demo",
    "practice",
    "calibrate",
    "analyze",
    "review",
    "report",
    "note",
    "progress",
    "run",
    "batch",
    "scenarios",
    "say",
    "devices",
    "models",
    "serve",
]

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage mistake on one line and exits with 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is not an option or ``--config``'s value), if known."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--config":
            skip = True
        elif a == "--" or not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` just that subcommand's (imports one command module instead of all:
    each pulls in what its command needs, which is most of a cold start's import time)."""
    parser = OneLineParser(
        prog="voice-trainer",
        description="Rehearse de-escalating angry callers and get explainable feedback on tone and listening.",
    )
    parser.add_argument("--version", action="version", version=f"voice-trainer {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML file overriding thresholds and weights")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in [only] if only else COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; stdout and stderr drop control characters meanwhile (text read from files is printed)."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ControlFilter(out), ControlFilter(err)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: list[str] | None = None) -> int:
    memory.limit_arenas()  # before any model starts its threads (voice_trainer/memory.py)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (UserError, ConfigError) as exc:
        print(f"voice-trainer: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("voice-trainer: stopped (Ctrl-C); finished work was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a file or folder the command may not read or write (permissions, a full disk...)
        if not exc.filename or os.environ.get("VOICE_TRAINER_DEBUG"):
            return _internal_error(exc)
        hint = {errno.ENOSPC: "free some space or write elsewhere", errno.EROFS: "write elsewhere"}.get(
            exc.errno or 0, "check the path and its permissions")
        print(f"voice-trainer: error: {exc.filename}: {exc.strerror or exc}; {hint}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # never a traceback for users; VOICE_TRAINER_DEBUG=1 shows it
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    if os.environ.get("VOICE_TRAINER_DEBUG"):
        raise exc
    print(
        f"voice-trainer: internal error: {type(exc).__name__}: {str(exc)[:200]} "
        "(set VOICE_TRAINER_DEBUG=1 for details and report it)",
        file=sys.stderr,
    )
    return 1


def entry() -> None:
    sys.exit(main())
