"""Byte-level guards around pyarrow's streaming CSV reader (bugs of pyarrow 25) and its read pace.

`SafeCSVBytes` is the file as pyarrow sees it: reads never split a CRLF,
NUL and bytes that are not UTF-8 travel as stand-in characters and are put
back or reported after parsing. `ReadPace` keeps the background reader a
few blocks ahead of the consumer, so memory does not grow with the file.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import io
import threading
import time
import weakref
from collections.abc import Iterator

READ_AHEAD_BLOCKS = 2  # blocks pyarrow may read beyond the batch being processed


NUL_STAND_IN = "\ufdd0"  # Unicode noncharacters: stand in for NUL and for bytes that are
BAD_STAND_IN = "\ufdd1"  # not UTF-8 while pyarrow parses; put back / reported after parsing


def _stand_in_for_bad_bytes(exc: UnicodeDecodeError):
    return BAD_STAND_IN * (exc.end - exc.start), exc.end


codecs.register_error("denial_risk_stand_in", _stand_in_for_bad_bytes)


def _split_incomplete_utf8(b: bytes) -> tuple[bytes, bytes]:
    """(complete part, an incomplete multi-byte character cut off at the end)."""
    for k in range(1, min(4, len(b)) + 1):
        c = b[-k]
        if c & 0xC0 == 0x80:  # continuation byte: look further back
            continue
        if 0xC2 <= c <= 0xF4 and (2 if c < 0xE0 else 3 if c < 0xF0 else 4) > k:
            return b[:-k], b[-k:]
        break
    return b, b""


class ReadPace:
    """Keeps pyarrow's CSV reader at most a few blocks ahead of the consumer.

    pyarrow's streaming CSV reader reads blocks in a background thread up to
    32 blocks ahead (not configurable, apache/arrow ARROW-12090), so while a
    slow consumer scores one block the raw bytes of the next ~1 GB pile up and
    peak memory grows with the file's size. Here the background read blocks
    while `READ_AHEAD_BLOCKS` blocks wait unconsumed. It never deadlocks: when
    the consumer is itself waiting for a batch (the parser may need one more
    block to finish a row), a read goes ahead after a short wait; after
    `close()` reads end at once (an early exit leaves no thread behind).
    """

    def __init__(self, ahead: int | None = None):
        self.ahead = max(int(READ_AHEAD_BLOCKS if ahead is None else ahead), 1)
        self._cond = threading.Condition()
        self._reads = 0
        self._taken = 0
        self._waiting = True  # opening the reader waits for the first block
        self.closed = False

    def before_read(self) -> None:
        with self._cond:
            while not self.closed and self._reads - self._taken >= self.ahead:
                if not self._cond.wait(timeout=0.05) and self._waiting:
                    break  # the parser needs one more block before it can hand out a batch
            self._reads += 1

    def next_batch(self, batches: Iterator):
        """`next(batches)`, telling the reader thread that the consumer is waiting."""
        with self._cond:
            self._waiting = True
            self._cond.notify_all()
        try:
            return next(batches)
        finally:
            with self._cond:
                self._waiting = False
                self._taken += 1
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


OPEN_READERS: weakref.WeakSet = weakref.WeakSet()
_IN_READ = [0]  # reads of CSV bytes under way in pyarrow's threads (a list: mutable under the lock)
_IN_READ_LOCK = threading.Lock()
EXIT_SETTLE_S = 0.06  # no read for this long before Python may shut down
EXIT_WAIT_S = 2.0


@atexit.register
def _close_abandoned_readers() -> None:
    """A reader left open mid-file would still be reading in pyarrow's thread
    while Python shuts down (a fatal error at exit); close it first, then wait
    until no read has been under way for `EXIT_SETTLE_S` (a thread still inside a
    read when shutdown begins cannot give the GIL back)."""
    for blocks in list(OPEN_READERS):
        with contextlib.suppress(Exception):
            blocks.close()
    deadline = time.monotonic() + EXIT_WAIT_S
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if _IN_READ[0]:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= EXIT_SETTLE_S:
            return
        time.sleep(0.01)


class SafeCSVBytes(io.RawIOBase):
    """The CSV file's bytes, adjusted around pyarrow CSV bugs (pyarrow 25).

    - apache/arrow#51368: when one read buffer ends with `\r` and the next
      starts with `\n`, the reader drops the `\n` even inside a quoted value,
      corrupting it or merging two rows. Reads here never end on `\r` (unless
      at the end of the file), so a CRLF is never split.
    - A NUL byte in a row makes the multi-block chunker split rows differently
      (two rows merged into one malformed row). NUL is replaced by
      `NUL_STAND_IN` here and put back after parsing (`saw_nul` says when).
    - Bytes that are not UTF-8 in a row with the wrong number of fields make
      pyarrow's invalid-row callback fail (an unraisable traceback, then an
      error for the whole file). They become `BAD_STAND_IN` here; the rows
      holding them are reported after parsing (`saw_bad` says when).
    """

    def __init__(self, f, pace: ReadPace | None = None):
        self._f = f
        self._pace = pace
        self._pending = b""
        self._tail = b""
        self._eof = False
        self.saw_nul = False
        self.saw_bad = False

    def readable(self) -> bool:
        return True

    def _more(self, size: int) -> bool:
        chunk = self._f.read(size)
        if not chunk:
            self._eof = True
            chunk, self._tail = self._tail, b""
            if not chunk:
                return False
        else:
            chunk, self._tail = _split_incomplete_utf8(self._tail + chunk)
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            self.saw_bad = True
            chunk = chunk.decode("utf-8", errors="denial_risk_stand_in").encode("utf-8")
        if b"\x00" in chunk:
            self.saw_nul = True
            chunk = chunk.replace(b"\x00", NUL_STAND_IN.encode())
        self._pending += chunk
        return True

    def read(self, n: int = -1) -> bytes:
        with _IN_READ_LOCK:
            _IN_READ[0] += 1
        try:
            if self._pace is not None:
                self._pace.before_read()
                if self._pace.closed:
                    return b""
            return self._read(n)
        finally:
            with _IN_READ_LOCK:
                _IN_READ[0] -= 1

    def _read(self, n: int) -> bytes:
        if n is None or n < 0:
            while self._more(1 << 24):
                pass
            out, self._pending = self._pending, b""
            return out
        while len(self._pending) <= n and not self._eof:
            self._more(max(n, 1 << 16))
        out = self._pending[:n]
        if len(out) > 1 and out.endswith(b"\r") and len(self._pending) > n:
            out = out[:-1]
        self._pending = self._pending[len(out) :]
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)
