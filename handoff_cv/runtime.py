"""Process-wide settings the pipeline needs, applied once."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

MALLOC_ARENAS = 2
"""Heaps glibc's allocator may keep (see :func:`limit_malloc_arenas`)."""


@functools.cache
def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Keep glibc's allocator to a few heaps for the whole process; True when it applied.

    By default glibc gives each thread that allocates its own heap (up to eight per core),
    and memory freed in one is not reused by another. The pose threads, the baton and
    camera-motion thread and MediaPipe's own threads each allocate frames and crops, so a
    batch worker grew to 1.54 GB on the demo clips; with two heaps 0.88 GB, and no slower
    (docs/benchmarks.md). Called before the first pose backend starts its threads; a no-op
    where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


_M_ARENA_MAX = -8  # from glibc's malloc.h
