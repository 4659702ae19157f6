"""Keeping a long streaming run's memory flat: freed heap back to the OS, pyarrow's jemalloc pool."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os

import pyarrow as pa


def release_freed_memory() -> None:
    """Hand memory freed by the last chunk back to the operating system (glibc only).

    glibc keeps freed heap pages, and the holes left by one chunk's frames
    are not always reused by the next; on a 10M-line file the process would
    creep upward chunk after chunk. `malloc_trim` returns them, keeping the
    peak flat. Elsewhere (macOS, musl) it does nothing.
    """
    gc.collect()  # frames caught in reference cycles would otherwise wait for a rare full collection
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


JEMALLOC_DECAY_MS = 1000  # pyarrow's default


@contextlib.contextmanager
def lean_arrow_memory():
    """Use pyarrow's jemalloc pool while streaming a large file, when it has one.

    The default pool (mimalloc) keeps pages it has freed, so a long run creeps
    upward block after block; jemalloc hands them back (measured on 2M lines:
    peak +4 % over 1M lines with jemalloc, +11 % with mimalloc). A pool the
    user chose with ARROW_DEFAULT_MEMORY_POOL is left alone.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowException):
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)  # return freed pages at once, not after a second
    try:
        yield
    finally:
        pa.set_memory_pool(previous)
        pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)
