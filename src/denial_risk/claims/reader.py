"""Reading claim files in chunks, in file order, with every row accounted for.

A 10M-line backlog never loads whole: CSV streams through pyarrow's reader in
blocks, Parquet through row-group batches. CSV cells come back exactly as
written (strings), so the output can pass input columns through untouched.
A row that cannot be split into the header's fields, or holds bytes that are
not UTF-8, is reported with its position instead of being lost.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from denial_risk.claims import sniff
from denial_risk.claims.arrow_csv import (
    BAD_STAND_IN,
    NUL_STAND_IN,
    OPEN_READERS,
    READ_AHEAD_BLOCKS,
    ReadPace,
    SafeCSVBytes,
)
from denial_risk.claims.raw_rows import RawRows
from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.tableio.files import check_input, file_format

# Small chunks keep peak memory low and flat: scoring a chunk needs ~2 kB a line
# at its peak, and per-chunk overhead is already negligible at ~50k lines.
DEFAULT_BLOCK_BYTES = 8 << 20  # ~40-60k claim lines per CSV block
DEFAULT_BATCH_ROWS = 50_000
MAX_BLOCK_BYTES = 1 << 30  # a single CSV row longer than this means the file is broken
RAW_LINE = "raw_line"

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_BLOCK_BYTES",
    "MAX_BLOCK_BYTES",
    "RAW_LINE",
    "READ_AHEAD_BLOCKS",
    "ClaimReader",
    "MalformedRow",
    "RawBlock",
    "canonical_name",
]


def _contract_names() -> frozenset[str]:
    return frozenset(
        (
            *schema.REQUIRED,
            *schema.OPTIONAL,
            *schema.LABELS,
            *schema.OPTIONAL_LABELS,
            "true_denial_probability",
        )
    )


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
    were not valid UTF-8 (their values are decoded with U+FFFD replacements);
    `raw_lines` maps the position of each row (well-formed or not) holding bytes
    that are not UTF-8 to its original bytes, as Latin-1 text (`claims.raw_rows`).
    """

    frame: pd.DataFrame
    malformed: list[MalformedRow] = field(default_factory=list)
    bad_utf8: dict[int, list[str]] = field(default_factory=dict)
    raw_lines: dict[int, str] = field(default_factory=dict)


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

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        option: str = "--data",
        columns: list[str] | None = None,
    ):
        self.path = Path(path)
        self.option = option
        self.format = file_format(path, option=option)
        check_input(self.path, option)  # a missing file, a folder, a FIFO or a device: one line, no hang
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
        kind = sniff.spreadsheet_kind(self.path)
        if kind:
            expected = "Parquet" if self.format == "parquet" else "a CSV file"
            raise UserError(sniff.spreadsheet_message(self.option, self.path, kind, expected))
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
                    raise UserError(
                        f"{self.option} {self.path}: the header row is not valid UTF-8; "
                        "save the file as UTF-8"
                    )
        except UserError:
            raise
        except (pa.ArrowException, OSError, csv.Error, ValueError) as exc:
            raise self._fail(exc) from None
        names = [n.replace("\ufeff", "") if i == 0 else n for i, n in enumerate(names)]
        delimiter = sniff.delimiter_hint(names, _contract_names(), canonical_name)
        if delimiter and self.format == "csv":
            raise UserError(sniff.delimiter_message(self.option, self.path, delimiter))
        canonical = [canonical_name(n) for n in names]
        seen: set[str] = set()
        dupes = [n for n in canonical if n in seen or seen.add(n)]
        if dupes:
            raise UserError(
                f"{self.option} {self.path}: column '{dupes[0]}' appears more than once in the header"
            )
        return canonical, list(names)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for block in self.blocks():
            if len(block.frame):
                yield block.frame

    def blocks(self) -> Iterator[RawBlock]:
        """Raw blocks in file order, with the rows that could not be read cleanly."""
        blocks = self._blocks()
        OPEN_READERS.add(blocks)
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
        self._raw_rows = RawRows(self.path)  # read only if a row is not UTF-8
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
        pace = ReadPace()
        with open(self.path, "rb") as raw_file:
            source = SafeCSVBytes(raw_file, pace)
            yield from self._csv_stream(
                source, block_bytes, skip=skip, selected=selected, handler=handler, pace=pace
            )

    def _csv_stream(
        self,
        source: SafeCSVBytes,
        block_bytes: int,
        *,
        skip: int,
        selected: list[str],
        handler: _RowHandler,
        pace: ReadPace,
    ) -> Iterator[RawBlock]:
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
                raw_lines = self._raw_lines(bad, malformed, skip) if source.saw_bad else {}
                if source.saw_nul or source.saw_bad:
                    malformed = [_restore(m) for m in malformed]
                keep = positions >= skip
                if not keep.all():
                    frame = frame.loc[keep]
                    bad = {p: c for p, c in bad.items() if p >= skip}
                malformed = [m for m in malformed if m.position >= skip]
                yield RawBlock(frame, malformed, bad, raw_lines)
        finally:
            pace.close()  # before `reader` is destroyed: its destructor waits for the read thread
        rest = sorted(handler.pending, key=lambda m: m.position)
        raw_lines = self._raw_lines({}, rest, skip) if source.saw_bad else {}
        if source.saw_nul or source.saw_bad:
            rest = [_restore(m) for m in rest]
        handler.pending.clear()
        rest = [m for m in rest if m.position >= skip]
        if rest:
            yield RawBlock(_empty_frame([rename[s] for s in selected]), rest, {}, raw_lines)

    def _raw_lines(
        self, bad: dict[int, list[str]], malformed: list[MalformedRow], skip: int
    ) -> dict[int, str]:
        """The original bytes (as Latin-1 text) of this block's rows that are not UTF-8."""
        positions = [p for p in bad if p >= skip]
        positions += [m.position for m in malformed if m.position >= skip and BAD_STAND_IN in m.text]
        return self._raw_rows.get(positions) if positions else {}

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


def _decode(
    batch: pa.RecordBatch,
    positions: np.ndarray,
    rename: dict[str, str],
    *,
    nul: bool = False,
    bad_bytes: bool = False,
) -> tuple[pd.DataFrame, dict[int, list[str]]]:
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


def read_table(
    path: str | os.PathLike, *, option: str = "--data", columns: list[str] | None = None
) -> pd.DataFrame:
    """Read a whole (small or medium) table; large files should use ClaimReader."""
    reader = ClaimReader(path, option=option, columns=columns)
    chunks = list(reader)
    if not chunks:
        names = reader.columns if columns is None else [c for c in reader.columns if c in set(columns)]
        return _empty_frame(names)
    return pd.concat(chunks, ignore_index=True)
