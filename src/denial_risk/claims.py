"""The claim table: a claim file read as normalised chunks plus its rejects.

This is the one entry point for reading claims (validate, train, score and
evaluate all use it): it checks the required columns up front, streams the
file, turns malformed CSV rows into rejects instead of losing them, and finds
duplicate (claim_id, line_number) keys across the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from denial_risk.io import ClaimReader
from denial_risk.normalize import REJECT_REASON, DuplicateTracker, check_required_columns, normalize_chunk

RAW_LINE = "raw_line"


@dataclass
class Chunk:
    """One block of a claim file: the scorable rows and the rejects, indexed by input position."""

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

    def chunks(self) -> Iterator[Chunk]:
        duplicates = DuplicateTracker()
        start = 0
        for raw in self.reader:
            raw = raw.set_axis(pd.RangeIndex(start, start + len(raw)))
            clean, rejects = normalize_chunk(raw, duplicates=duplicates, start=start)
            start += len(raw)
            malformed = self.reader.malformed.drain()
            if malformed:
                # pyarrow reports them per block, without their line number
                rejects = pd.concat([rejects, self._malformed_rejects(malformed, start)])
                start += len(malformed)
            yield Chunk(raw=raw, clean=clean, rejects=rejects)
        leftover = self.reader.malformed.drain()
        if leftover:
            empty = pd.DataFrame(columns=self.columns)
            yield Chunk(raw=empty, clean=empty, rejects=self._malformed_rejects(leftover, start))

    def _malformed_rejects(self, rows: list[tuple[str, int, int]], start: int) -> pd.DataFrame:
        frame = pd.DataFrame({c: pd.Series([pd.NA] * len(rows), dtype="string") for c in self.columns})
        frame[RAW_LINE] = pd.Series([r[0] for r in rows], dtype="string")
        frame[REJECT_REASON] = pd.Series(
            [f"row: has {r[2]} fields, the header has {r[1]}" for r in rows], dtype="string")
        frame.index = pd.RangeIndex(start, start + len(rows))
        return frame


def load_claims(path: str | os.PathLike, *, option: str = "--data") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a whole claim file (training-sized) as (normalised rows, rejects)."""
    clean, rejects = [], []
    for chunk in ClaimTable(path, option=option).chunks():
        clean.append(chunk.clean)
        rejects.append(chunk.rejects)
    return pd.concat(clean) if clean else pd.DataFrame(), (pd.concat(rejects) if rejects else pd.DataFrame())
