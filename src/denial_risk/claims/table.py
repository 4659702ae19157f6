"""The claim table: a claim file read as normalised chunks plus its rejects.

This is the one entry point for reading claims (validate, train, score and
evaluate all use it): it checks the required columns up front, streams the
file, turns malformed CSV rows and rows with invalid UTF-8 into rejects instead
of losing them, and finds duplicate (claim_id, line_number) keys across the
whole file.

Every frame a chunk carries is indexed by the row's 0-based position among the
file's data rows, so `clean` and `rejects` can be put back in input order; over
the whole file the positions are 0..N-1 with no gap and no overlap (rows in =
scorable + rejected).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from denial_risk.claims.reader import RAW_LINE, ClaimReader, MalformedRow
from denial_risk.contract.duplicates import DuplicateTracker
from denial_risk.contract.normalize import (
    REJECT_REASON,
    check_required_columns,
    normalize_chunk,
)

__all__ = ["RAW_LINE", "Chunk", "ClaimTable", "load_claims"]


@dataclass
class Chunk:
    """One block of a claim file: the scorable rows and the rejects, indexed by input position.

    `raw` holds the rows as read (only rows that could be split into the
    header's fields); `rejects` holds the raw values of every rejected row plus
    `reject_reason` (and, for CSV files, `raw_line`: the text of a row that had
    the wrong number of fields, or the original bytes, read as Latin-1, of a row
    that is not UTF-8), sorted by position.
    """

    raw: pd.DataFrame
    clean: pd.DataFrame
    rejects: pd.DataFrame


class ClaimTable:
    """A claim file on disk, validated against the contract as it streams."""

    def __init__(self, path: str | os.PathLike, *, option: str = "--data", **reader_options):
        self.path = str(path)
        self.reader = ClaimReader(path, option=option, **reader_options)
        check_required_columns(self.reader.columns, self.path, option)
        self.columns = self.reader.columns
        self.source_columns = self.reader.source_columns
        self._csv = self.reader.format == "csv"

    @property
    def reject_columns(self) -> list[str]:
        """The columns of every rejects frame (and of the rejects file)."""
        return [*self.columns, REJECT_REASON, *([RAW_LINE] if self._csv else [])]

    def chunks(self) -> Iterator[Chunk]:
        duplicates = DuplicateTracker()
        for block in self.reader.blocks():
            raw = block.frame
            positions = raw.index.to_numpy(dtype=np.int64)
            clean, rejects = normalize_chunk(raw, duplicates=duplicates, start=0)
            clean.index = pd.Index(positions[clean.index.to_numpy()])
            rejects.index = pd.Index(positions[rejects.index.to_numpy()])
            if block.bad_utf8:
                clean, rejects = _reject_bad_utf8(raw, clean, rejects, block.bad_utf8)
            if self._csv:
                rejects[RAW_LINE] = pd.Series(np.nan, index=rejects.index, dtype="str")
                if block.raw_lines:  # rows that are not UTF-8: their original bytes, as Latin-1 text
                    found = rejects.index.intersection(pd.Index(list(block.raw_lines)))
                    rejects.loc[found, RAW_LINE] = [block.raw_lines[p] for p in found]
            if block.malformed:
                rows = [_with_raw(m, block.raw_lines) for m in block.malformed]
                rejects = pd.concat([rejects, self._malformed_rejects(rows, raw)])
            yield Chunk(raw=raw, clean=clean, rejects=rejects.sort_index(kind="stable")[self.reject_columns])

    def _malformed_rejects(self, rows: list[MalformedRow], raw: pd.DataFrame) -> pd.DataFrame:
        index = pd.Index([r.position for r in rows], dtype=np.int64)
        frame = pd.DataFrame({c: pd.Series(np.nan, index=index, dtype="str") for c in self.columns})
        frame[REJECT_REASON] = pd.Series([r.reason for r in rows], index=index, dtype="string")
        frame[RAW_LINE] = pd.Series([r.text for r in rows], index=index, dtype="str")
        return frame


def _with_raw(row: MalformedRow, raw_lines: dict[int, str]) -> MalformedRow:
    """A malformed row that is also not UTF-8 keeps its original bytes (Latin-1 text) as its text."""
    text = raw_lines.get(row.position)
    return row if text is None else MalformedRow(row.position, text, row.expected, row.actual)


def _reject_bad_utf8(
    raw: pd.DataFrame, clean: pd.DataFrame, rejects: pd.DataFrame, bad: dict[int, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with bytes that are not UTF-8 cannot be trusted: move them to the rejects."""
    reasons = pd.Series(
        {p: "; ".join(f"{c}: not valid UTF-8" for c in cols) for p, cols in bad.items()}, dtype="string"
    )
    already = rejects.index.intersection(reasons.index)
    if len(already):
        rejects.loc[already, REJECT_REASON] = rejects.loc[already, REJECT_REASON] + "; " + reasons[already]
    moving = clean.index.intersection(reasons.index)
    if len(moving):
        moved = raw.loc[moving].copy()
        moved[REJECT_REASON] = reasons[moving]
        clean = clean.drop(index=moving)
        rejects = pd.concat([rejects, moved])
    return clean, rejects


def load_claims(path: str | os.PathLike, *, option: str = "--data") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a whole claim file (training-sized) as (normalised rows, rejects), both in input order."""
    table = ClaimTable(path, option=option)
    clean, rejects = [], []
    for chunk in table.chunks():
        clean.append(chunk.clean)
        rejects.append(chunk.rejects)
    if not clean:  # a header-only file: empty frames that still have their columns and dtypes
        empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in table.columns})
        clean_empty, _ = normalize_chunk(empty)
        reject_empty = pd.DataFrame({c: pd.Series([], dtype="str") for c in table.reject_columns})
        return clean_empty, reject_empty
    return pd.concat(clean), pd.concat(rejects)


def estimate_rows(path: str | os.PathLike) -> int | None:
    """Rows in a claim file: exact for Parquet; for CSV, file size / mean line length of the first MB."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        lines = head.count(b"\n")
        if lines <= 1:
            return None
        first = head.index(b"\n") + 1  # header
        per_row = (len(head) - first) / max(lines - 1, 1) if len(head) < size else None
        if per_row is None:
            return lines - 1 + (0 if head.endswith(b"\n") else 1)
        return max(int((size - first) / per_row), 1)
    except (OSError, ValueError, pa.ArrowException):
        return None
