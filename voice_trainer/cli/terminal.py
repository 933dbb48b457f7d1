"""Keeping control characters off the terminal (imports nothing heavy: :func:`voice_trainer.cli.main` uses it
for every command)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

CONTROL_CHARS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # a whole CSI sequence (colour, clear screen, move the cursor) ...
    r"|\x1b\][^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\|\x9c)"  # ... a terminated OSC one (window title, link) ...
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # ... or any other control character on its own
)
"""Terminal escape sequences, and C0 and C1 control characters except tab and newline: ESC starts sequences
that colour text, clear the screen or retitle the window; CR and BS overwrite what was printed. Text from files
(a scenario title, a trainer's note, a transcript) must never carry them to a terminal.

Only ESC starts a sequence that is removed whole. A lone C1 character (U+0080-U+009F: in UTF-8 text far more often
mojibake, such as the ``\x9d`` of a doubly encoded closing quote, than a terminal code) and an ESC whose sequence
is not finished are dropped on their own, so the text after them (the rest of a ``--json`` line) is kept."""


def strip_controls(text: str) -> str:
    """``text`` without :data:`CONTROL_CHARS`."""
    return CONTROL_CHARS.sub("", text)


class ControlFilter:
    """A text stream that drops :data:`CONTROL_CHARS` from everything written through it (``main`` puts it over
    stdout and stderr, so a plain ``print`` of text read from a file cannot drive the terminal)."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(strip_controls(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, buffer ...
        return getattr(self.inner, name)
