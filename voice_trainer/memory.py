"""Give freed memory back to the operating system.

glibc's ``malloc`` keeps the memory a finished stage freed (decoded audio, Whisper's and onnxruntime's scratch
buffers) for reuse, so a process's RSS stays at its high-water mark and the next model's load stacks on top of
it. :func:`release` asks glibc to return the free parts of its heaps (``malloc_trim``); it costs a few
milliseconds and is called between stages (after a model is built, after each transcribed chunk). Elsewhere
(macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release"]


@functools.cache
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release() -> bool:
    """Return freed heap memory to the OS; True when something was returned (always False without glibc)."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False
