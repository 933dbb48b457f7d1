"""Atomic file writing: a reader sees the old file or the new one, never half of one.

Every write goes to a temporary file in the destination folder, is flushed and fsynced, renamed over the
final name (``os.replace``), and the folder is fsynced. A failed write leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .inputs import special_kind


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename in ``path`` durable (a no-op where the platform or filesystem cannot)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_full(path: str | os.PathLike) -> bool:
    """True when the filesystem holding ``path`` has no block left for this user."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail == 0


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], suffix: str = "") -> Path:
    """Write ``path`` through ``write(tmp_path)``, then fsync and rename; creates the folder if needed.

    Raises
    ------
    OSError
        The folder cannot be created, the file cannot be written, or ``path`` names something other than a
        regular file (a device, a named pipe, a socket: renaming over it would replace it, even a device node
        when run as root); callers turn it into a UserError.
    """
    p = Path(path)
    refuse_special_output(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=f".tmp{suffix}", dir=p.parent)
    os.close(fd)
    try:
        try:
            write(tmp)
        except OSError:
            raise
        except Exception as exc:  # a library's own error type (libsndfile: "System error") for a failed write
            if disk_full(p.parent):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(p)) from exc
            raise
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(p.parent)
    return p


def refuse_special_output(path: str | os.PathLike) -> None:
    """Raise ``OSError`` when ``path`` exists and is not a regular file or a folder (a folder fails later, with
    the usual "Is a directory")."""
    try:
        st = os.stat(path)
    except OSError:
        return  # missing (it will be created) or unreachable (the write reports it)
    kind = special_kind(st.st_mode)
    if kind and kind != "a folder":
        raise OSError(errno.EINVAL, f"it is {kind}, not a regular file; choose a file name to write", str(path))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write, Path(path).suffix)


def json_safe(x: object) -> object:
    """``x`` with every NaN or infinity replaced by None (JSON has neither; a value not measured is null)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    return x


def write_json_atomic(path: str | os.PathLike, data: dict, indent: int = 1) -> Path:
    """Write ``data`` as UTF-8 JSON atomically; NaN and infinities are written as null."""
    text = json.dumps(json_safe(data), ensure_ascii=False, indent=indent, allow_nan=False)
    return write_text_atomic(path, text + "\n")
