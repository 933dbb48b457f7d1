"""Reading the user's input files safely: regular files only, bounded size, bounded nesting.

A config file, scenario, run script, voice profile, session record or notes file is read whole, so a named pipe
(which blocks until someone writes to it), a device such as ``/dev/zero`` (endless) or a huge file would hang the
command or fill the memory; and a file nested thousands of levels deep would exhaust Python's recursion in the
parser. :func:`read_input_bytes` refuses the first three with an ``OSError`` (callers already turn those into a
one-line error), and :func:`loads_json` / :func:`loads_toml` raise :class:`NestingError` (a ``ValueError``, as
the parsers' own errors are) for the last.

This module imports nothing of ours.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tomllib
from typing import Any

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Largest text input (config, scenario, run script, profile, notes, session or turn record) read, in bytes. A
long session's ``session.json`` is a few hundred kB; anything near this is not a voice-trainer file."""
MAX_NESTING = 64
"""Deepest nesting of arrays and tables accepted in a JSON or TOML input. voice-trainer's own files nest at most
about ten levels; a file nested thousands of levels deep would exhaust the parser's recursion."""
MAX_LINE_CHARS = 1024 * 1024
"""Longest line read from a line-by-line input (``analyze --texts``), in characters."""

_KINDS = [(stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")]


class NestingError(ValueError):
    """A JSON or TOML input nested deeper than :data:`MAX_NESTING` levels."""

    def __init__(self, limit: int = MAX_NESTING) -> None:
        super().__init__(f"nested more than {limit} levels deep; check that this is the right file")


def special_kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, when it is not a regular file (None for a regular file)."""
    return next((name for test, name in _KINDS if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def not_regular_error(path: str | os.PathLike, kind: str) -> OSError:
    """The ``OSError`` for an input that is not a regular file (its ``strerror`` says what to give instead)."""
    return OSError(errno.EINVAL, f"it is {kind}, not a regular file; give a file", str(path))


def check_regular(path: str | os.PathLike) -> os.stat_result:
    """``os.stat(path)``, raising ``OSError`` unless it is a regular file (never opens it: a FIFO would block)."""
    st = os.stat(path)
    kind = special_kind(st.st_mode)
    if kind:
        raise not_regular_error(path, kind)
    return st


def read_input_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (default :data:`MAX_INPUT_BYTES`).

    Raises
    ------
    OSError
        Missing or unreadable (as ``open`` raises it), not a regular file, or larger than ``limit``; the
        ``strerror`` says which.
    """
    limit = MAX_INPUT_BYTES if limit is None else limit
    check_regular(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # swapped for a FIFO since the check: no block
    with os.fdopen(fd, "rb") as fh:
        kind = special_kind(os.fstat(fd).st_mode)
        if kind:
            raise not_regular_error(path, kind)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes, too large for this kind of file; check that this "
                      "is the right file", str(path))
    return data


def read_input_text(path: str | os.PathLike, limit: int | None = None) -> str:
    """:func:`read_input_bytes` decoded as UTF-8 (``UnicodeDecodeError`` when it is not)."""
    return read_input_bytes(path, limit).decode("utf-8")


def nesting_depth(obj: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and dicts nest in ``obj`` (a scalar is 0), counted without recursion up to ``limit + 1``."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        x, depth = stack.pop()
        if isinstance(x, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            stack.extend((v, depth) for v in (x.values() if isinstance(x, dict) else x))
    return deepest


def _checked(parse: Any, text: str, limit: int) -> Any:
    try:
        data = parse(text)
    except RecursionError:  # the parser recursed once per level
        raise NestingError(limit) from None
    if nesting_depth(data, limit) > limit:  # nesting the parser built without recursion (dotted TOML keys)
        raise NestingError(limit)
    return data


def loads_json(text: str, limit: int = MAX_NESTING) -> Any:
    """``json.loads`` that raises :class:`NestingError` for nesting deeper than ``limit``."""
    return _checked(json.loads, text, limit)


def loads_toml(text: str, limit: int = MAX_NESTING) -> dict:
    """``tomllib.loads`` that raises :class:`NestingError` for nesting deeper than ``limit``."""
    return _checked(tomllib.loads, text, limit)
