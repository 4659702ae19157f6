"""Reading claim files in chunks and writing outputs atomically.

A 10M-line backlog never loads whole: CSV streams through pyarrow's reader in
blocks, Parquet through row-group batches. CSV cells come back exactly as
written (strings), so the output can pass input columns through untouched.
Outputs are written to a temporary file beside the target and renamed at the
end: an interrupted run leaves no half file.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import csv
import ctypes
import functools
import gc
import io
import os
import re
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from denial_risk import schema
from denial_risk.errors import UserError

SUPPORTED = (".csv", ".parquet")
# Small chunks keep peak memory low and flat: scoring a chunk needs ~2 kB a line
# at its peak, and per-chunk overhead is already negligible at ~50k lines.
DEFAULT_BLOCK_BYTES = 8 << 20  # ~40-60k claim lines per CSV block
DEFAULT_BATCH_ROWS = 50_000
READ_AHEAD_BLOCKS = 2  # blocks pyarrow may read beyond the batch being processed
MAX_BLOCK_BYTES = 1 << 30  # a single CSV row longer than this means the file is broken
RAW_LINE = "raw_line"


def file_format(path: str | os.PathLike, *, option: str = "--data") -> str:
    """'csv' or 'parquet' from the extension; anything else is the user's mistake."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED:
        raise UserError(f"{option} {path}: unsupported file type '{suffix or '(none)'}' (use .csv or .parquet)")
    return suffix[1:]


def _contract_names() -> frozenset[str]:
    return frozenset((*schema.REQUIRED, *schema.OPTIONAL, *schema.LABELS, "true_denial_probability"))


def canonical_name(name: str) -> str:
    """Header names are matched to the contract case- and space-insensitively.

    `" Service Date"`, `SERVICE_DATE` and `service-date` all mean `service_date`.
    A name that does not match a contract column is an extra column and keeps
    its exact spelling (extra columns pass through untouched).
    """
    key = re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().lower())
    return key if key in _contract_names() else name


@dataclass(frozen=True)
class MalformedRow:
    """A CSV row whose field count does not match the header (rejected, never dropped)."""

    position: int  # 0-based data-row position in the file (the header is not a row)
    text: str
    expected: int
    actual: int

    @property
    def reason(self) -> str:
        return f"row: has {self.actual} fields, the header has {self.expected}"


@dataclass
class RawBlock:
    """One block of a claim file as read: raw values indexed by input position.

    `frame.index` holds each row's 0-based position among the file's data rows;
    `malformed` are the CSV rows of this block that could not be split into the
    header's fields; `bad_utf8` maps a row position to the columns whose bytes
    were not valid UTF-8 (their values are decoded with U+FFFD replacements).
    """

    frame: pd.DataFrame
    malformed: list[MalformedRow] = field(default_factory=list)
    bad_utf8: dict[int, list[str]] = field(default_factory=dict)


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


class _ReadPace:
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


_OPEN_BLOCKS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_abandoned_readers() -> None:
    """A reader left open mid-file would still be reading in pyarrow's thread
    while Python shuts down (a fatal error at exit); close it first."""
    for blocks in list(_OPEN_BLOCKS):
        with contextlib.suppress(Exception):
            blocks.close()


class _SafeCSVBytes(io.RawIOBase):
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

    def __init__(self, f, pace: _ReadPace | None = None):
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
        if self._pace is not None:
            self._pace.before_read()
            if self._pace.closed:
                return b""
        return self._read(n)

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
        self._pending = self._pending[len(out):]
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _RowHandler:
    """pyarrow `invalid_row_handler`: remember malformed rows with their position."""

    def __init__(self) -> None:
        self.pending: list[MalformedRow] = []
        self._unnumbered = 0

    def __call__(self, row) -> str:
        # `number` counts the header as row 1 and skips blank lines (serial reader only).
        if row.number is not None:
            pos = row.number - 2
        else:  # pragma: no cover - only with a threaded reader
            pos = -1 - self._unnumbered
            self._unnumbered += 1
        self.pending.append(MalformedRow(pos, row.text, row.expected_columns, row.actual_columns))
        return "skip"


class ClaimReader:
    """Iterates a claim file as pandas chunks of raw values, in file order.

    `columns` are the header names with contract columns canonicalised (extra
    columns keep their spelling); `source_columns` are the names as written.
    Iterating yields DataFrames; `blocks()` also yields each block's malformed
    CSV rows and rows with invalid UTF-8, so callers can reject them instead of
    losing them. The index of every frame is the row's position in the file.
    """

    def __init__(self, path: str | os.PathLike, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
                 batch_rows: int = DEFAULT_BATCH_ROWS, option: str = "--data",
                 columns: list[str] | None = None):
        self.path = Path(path)
        self.option = option
        self.format = file_format(path, option=option)
        if not self.path.exists():
            raise UserError(f"{option} {path}: file not found")
        if not self.path.is_file():
            raise UserError(f"{option} {path}: not a file")
        self.block_bytes = max(int(block_bytes), 16)  # below this, pyarrow cannot hold a row
        self.batch_rows = max(int(batch_rows), 1)
        self._wanted = columns
        self.columns, self.source_columns = self._read_header()

    # kept for callers that used the old name
    @property
    def _source_names(self) -> list[str]:
        return self.source_columns

    def _fail(self, exc: BaseException) -> UserError:
        return UserError(f"{self.option} {self.path}: cannot be read ({_one_line(exc)})")

    def _read_header(self) -> tuple[list[str], list[str]]:
        try:
            if self.format == "parquet":
                names = pq.ParquetFile(self.path).schema_arrow.names
            else:
                # surrogateescape: bad bytes in later rows (read ahead) must not fail the header
                with open(self.path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
                    # pyarrow skips blank lines before the header; so do we
                    names = next((row for row in csv.reader(f) if row), None)
                if not names:
                    raise UserError(f"{self.option} {self.path}: empty file (no header row)")
                if any(_has_surrogates(n) for n in names):
                    raise UserError(f"{self.option} {self.path}: the header row is not valid UTF-8; "
                                    "save the file as UTF-8")
        except UserError:
            raise
        except (pa.ArrowException, OSError, csv.Error, ValueError) as exc:
            raise self._fail(exc) from None
        names = [n.replace("\ufeff", "") if i == 0 else n for i, n in enumerate(names)]
        canonical = [canonical_name(n) for n in names]
        seen: set[str] = set()
        dupes = [n for n in canonical if n in seen or seen.add(n)]
        if dupes:
            raise UserError(f"{self.option} {self.path}: column '{dupes[0]}' appears more than once in the header")
        return canonical, list(names)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for block in self.blocks():
            if len(block.frame):
                yield block.frame

    def blocks(self) -> Iterator[RawBlock]:
        """Raw blocks in file order, with the rows that could not be read cleanly."""
        blocks = self._blocks()
        _OPEN_BLOCKS.add(blocks)
        return blocks

    def _blocks(self) -> Iterator[RawBlock]:
        try:
            yield from (self._iter_parquet() if self.format == "parquet" else self._iter_csv())
        except UserError:
            raise
        except (pa.ArrowException, OSError) as exc:
            raise self._fail(exc) from None

    def _selected(self) -> list[str]:
        if self._wanted is None:
            return self.source_columns
        wanted = set(self._wanted)
        return [s for s, c in zip(self.source_columns, self.columns) if c in wanted or s in wanted]

    def _iter_csv(self) -> Iterator[RawBlock]:
        emitted = 0  # data rows (good or malformed) already handed out
        block_bytes = self.block_bytes
        while True:
            try:
                for block in self._csv_pass(block_bytes, skip=emitted):
                    yield block
                    ends = [block.frame.index[-1] + 1] if len(block.frame) else []
                    ends += [m.position + 1 for m in block.malformed]
                    emitted = max([emitted, *ends])
                return
            except pa.ArrowInvalid as exc:
                # a row (the header, or an unclosed quote) longer than the block: read on with bigger blocks
                too_small = "straddl" in str(exc) or "Empty CSV file or block" in str(exc)
                if not too_small or block_bytes >= MAX_BLOCK_BYTES:
                    raise
                block_bytes = min(max(block_bytes * 4, 64), MAX_BLOCK_BYTES)

    def _csv_pass(self, block_bytes: int, *, skip: int) -> Iterator[RawBlock]:
        selected = self._selected()
        handler = _RowHandler()
        pace = _ReadPace()
        with open(self.path, "rb") as raw_file:
            source = _SafeCSVBytes(raw_file, pace)
            yield from self._csv_stream(source, block_bytes, skip=skip, selected=selected, handler=handler,
                                        pace=pace)

    def _csv_stream(self, source: _SafeCSVBytes, block_bytes: int, *, skip: int, selected: list[str],
                    handler: _RowHandler, pace: _ReadPace) -> Iterator[RawBlock]:
        try:
            reader = pacsv.open_csv(
                pa.PythonFile(source, mode="r"),
                # serial reading: the invalid-row handler then knows each row's number
                read_options=pacsv.ReadOptions(block_size=block_bytes, use_threads=False),
                parse_options=pacsv.ParseOptions(invalid_row_handler=handler, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    # bytes, not strings: invalid UTF-8 becomes a reject, not a crash
                    column_types={name: pa.binary() for name in self.source_columns},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    include_columns=selected,
                ),
            )
        except pa.ArrowInvalid as exc:
            # a header without a line end and no rows; with a small block, just a long header
            if "Empty CSV file" in str(exc) and block_bytes >= self.path.stat().st_size:
                return
            raise
        rename = dict(zip(self.source_columns, self.columns))
        cur = 0  # next data-row position
        batches = iter(reader)
        try:
            while True:
                try:
                    batch = pace.next_batch(batches)
                except StopIteration:
                    break
                positions, malformed, cur = _place(batch.num_rows, cur, handler)
                frame, bad = _decode(batch, positions, rename, nul=source.saw_nul, bad_bytes=source.saw_bad)
                if source.saw_nul or source.saw_bad:
                    malformed = [_restore(m) for m in malformed]
                keep = positions >= skip
                if not keep.all():
                    frame = frame.loc[keep]
                    bad = {p: c for p, c in bad.items() if p >= skip}
                malformed = [m for m in malformed if m.position >= skip]
                yield RawBlock(frame, malformed, bad)
        finally:
            pace.close()  # before `reader` is destroyed: its destructor waits for the read thread
        rest = sorted(handler.pending, key=lambda m: m.position)
        if source.saw_nul or source.saw_bad:
            rest = [_restore(m) for m in rest]
        handler.pending.clear()
        rest = [m for m in rest if m.position >= skip]
        if rest:
            yield RawBlock(_empty_frame([rename[s] for s in selected]), rest, {})

    def _iter_parquet(self) -> Iterator[RawBlock]:
        pf = pq.ParquetFile(self.path)
        rename = dict(zip(self.source_columns, self.columns))
        start = 0
        for batch in pf.iter_batches(batch_size=self.batch_rows, columns=self._selected()):
            df = batch.to_pandas()
            df.columns = [rename.get(c, c) for c in df.columns]
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield RawBlock(df)


def _place(k: int, cur: int, handler: _RowHandler) -> tuple[np.ndarray, list[MalformedRow], int]:
    """Positions of a batch's `k` good rows, skipping the malformed rows between them."""
    handler.pending.sort(key=lambda m: m.position)
    parts: list[np.ndarray] = []
    taken: list[MalformedRow] = []
    remaining = k
    while handler.pending and remaining:
        m = handler.pending[0]
        if m.position < cur:  # already accounted for (unnumbered rows)
            taken.append(handler.pending.pop(0))
            continue
        gap = m.position - cur
        if gap >= remaining:
            break
        parts.append(np.arange(cur, m.position, dtype=np.int64))
        remaining -= gap
        taken.append(handler.pending.pop(0))
        cur = m.position + 1
    parts.append(np.arange(cur, cur + remaining, dtype=np.int64))
    cur += remaining
    # malformed rows right after the batch's last good row belong to this block too
    while handler.pending and handler.pending[0].position == cur:
        taken.append(handler.pending.pop(0))
        cur += 1
    return np.concatenate(parts) if parts else np.empty(0, np.int64), taken, cur


def _restore(m: MalformedRow) -> MalformedRow:
    text = m.text.replace(NUL_STAND_IN, "\x00").replace(BAD_STAND_IN, "\ufffd")
    return MalformedRow(m.position, text, m.expected, m.actual)


def _decode(batch: pa.RecordBatch, positions: np.ndarray, rename: dict[str, str], *,
            nul: bool = False, bad_bytes: bool = False) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """Binary CSV cells → pandas strings; bytes that were not UTF-8 become U+FFFD, reported by position."""
    arrays, bad = [], {}
    for name, arr in zip(batch.schema.names, batch.columns):
        if nul:
            arr = pc.replace_substring(arr, NUL_STAND_IN.encode(), b"\x00")
        if bad_bytes:
            hit = pc.match_substring(arr, BAD_STAND_IN.encode()).to_numpy(zero_copy_only=False)
            if hit.any():
                for pos in positions[np.asarray(hit, dtype=bool)]:
                    bad.setdefault(int(pos), []).append(rename.get(name, name))
                arr = pc.replace_substring(arr, BAD_STAND_IN.encode(), "\ufffd".encode())
        try:
            arrays.append(arr.cast(pa.string()))
        except pa.ArrowInvalid:
            values = []
            for i, v in enumerate(arr.to_pylist()):
                try:
                    values.append(v.decode("utf-8"))
                except UnicodeDecodeError:
                    values.append(v.decode("utf-8", errors="replace"))
                    bad.setdefault(int(positions[i]), []).append(rename.get(name, name))
            arrays.append(pa.array(values, pa.string()))
    table = pa.Table.from_arrays(arrays, names=[rename.get(n, n) for n in batch.schema.names])
    frame = table.to_pandas()
    frame.index = pd.Index(positions) if len(positions) else pd.RangeIndex(0)
    return frame, bad


def _empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside `target`; rename it over `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class TableWriter:
    """Appends pandas chunks to one CSV or Parquet file, atomically on close.

    The first chunk fixes the schema; later chunks are cast to it, so a column
    that happens to be all-missing in one chunk does not break the file.
    """

    def __init__(self, target: str | os.PathLike, *, option: str = "--out"):
        self.target = Path(target)
        self.format = file_format(target, option=option)
        self._ctx = atomic_path(self.target)
        self._tmp: Path | None = None
        self._writer = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._schema is None:
            self._schema = _nullable(table.schema)
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._tmp, self._schema)
            else:
                self._writer = pacsv.CSVWriter(self._tmp, self._schema)
        table = _cast(table, self._schema)
        self._writer.write_table(table)
        self.rows += len(df)

    def write_empty(self, columns: list[str]) -> None:
        """An empty result still gets a header row / schema."""
        if self._schema is None:
            self.write(pd.DataFrame({c: pd.Series([], dtype="string") for c in columns}))

    def ensure_schema(self, frame: pd.DataFrame) -> None:
        """Make sure an output with no rows is still written with its columns."""
        if self._schema is None:
            self.write(frame.iloc[:0])

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._writer is not None:
            self._writer.close()
        self._ctx.__exit__(exc_type, exc, tb)
        return False


def _nullable(schema: pa.Schema) -> pa.Schema:
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_null(t):
            t = pa.string()
        fields.append(pa.field(f.name, t, nullable=True))
    return pa.schema(fields)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema.equals(schema, check_metadata=False):
        return table
    unknown = [n for n in table.column_names if schema.get_field_index(n) < 0]
    if unknown:
        raise ValueError(f"columns {unknown} are not in the file's first chunk; they would be lost")
    arrays = []
    for f in schema:
        if table.schema.get_field_index(f.name) < 0:  # a column this chunk does not have
            arrays.append(pa.nulls(len(table), f.type))
            continue
        col = table.column(f.name)
        if not col.type.equals(f.type):
            col = col.cast(f.type, safe=False) if not pa.types.is_null(col.type) else pa.nulls(len(col), f.type)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def write_table(df: pd.DataFrame, target: str | os.PathLike, *, option: str = "--out") -> Path:
    """Write one frame as CSV or Parquet (by extension), atomically."""
    with TableWriter(target, option=option) as w:
        w.write(df)
    return Path(target)


def read_table(path: str | os.PathLike, *, option: str = "--data", columns: list[str] | None = None) -> pd.DataFrame:
    """Read a whole (small or medium) table; large files should use ClaimReader."""
    reader = ClaimReader(path, option=option, columns=columns)
    chunks = list(reader)
    if not chunks:
        names = reader.columns if columns is None else [c for c in reader.columns if c in set(columns)]
        return _empty_frame(names)
    return pd.concat(chunks, ignore_index=True)


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
