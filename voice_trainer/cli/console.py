"""The rich console every subcommand prints through: no control characters from files reach the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from .terminal import strip_controls


class TerminalConsole(Console):
    """A rich Console that drops control characters from the text it prints but keeps its own styling and cursor
    control (written to the real stream, past :class:`ControlFilter`, which would strip rich's colours too)."""

    @property
    def file(self) -> IO[str]:
        f = super().file
        return getattr(f, "inner", f)

    @file.setter
    def file(self, new_file: IO[str]) -> None:
        self._file = new_file

    def render_str(self, text: str, **kwargs: Any) -> Text:  # whole escape sequences, before markup splits them
        return super().render_str(strip_controls(text), **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:  # and any control character that is left
        return super()._render_buffer(
            seg if seg.control else Segment(strip_controls(seg.text), seg.style, seg.control) for seg in buffer)
