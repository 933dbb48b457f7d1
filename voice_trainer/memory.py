"""Give freed memory back to the operating system, and keep less of it in the first place.

glibc's ``malloc`` keeps the memory a finished stage freed (decoded audio, Whisper's and onnxruntime's scratch
buffers) for reuse, so a process's RSS stays at its high-water mark and the next model's load stacks on top of
it. :func:`release` asks glibc to return the free parts of its heaps (``malloc_trim``); it costs a few
milliseconds and is called between stages (after a model is built, after each transcribed chunk).

glibc also gives each thread that allocates its own heap ("arena", up to 8 per core), and memory freed in one
arena is not reused by another thread's. :func:`limit_arenas` caps them at :data:`MALLOC_ARENAS`; the command
line calls it before any thread starts. On 2 cores this lowered the peak of ``analyze`` on an 11 s clip by
about 35 MiB at the same CPU time (``bench/bench_startup.py``). ``$MALLOC_ARENA_MAX``, when set, wins.

Elsewhere (macOS, musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

__all__ = ["MALLOC_ARENAS", "limit_arenas", "release"]

MALLOC_ARENAS = 2
"""Most malloc heaps per process (glibc's default is 8 per core)."""
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@functools.cache
def _malloc_trim():
    try:
        fn = _libc().malloc_trim
    except AttributeError:  # not glibc (or no libc found)
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn


def release() -> bool:
    """Return freed heap memory to the OS; True when something was returned (always False without glibc)."""
    fn = _malloc_trim()
    return bool(fn(0)) if fn is not None else False


def limit_arenas(n: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc heaps at ``n`` (call before threads start); False when not glibc or ``$MALLOC_ARENA_MAX``
    is set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = _libc().mallopt
    except AttributeError:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, n))
