"""Duplicate (claim_id, line_number) keys across the chunks of one file, in 8 bytes a key."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk.contract.values import STRING


@dataclass
class DuplicateTracker:
    """Remembers (claim_id, line_number) keys across chunks as sorted uint64 runs.

    8 bytes a row instead of a Python set's ~70; keys are 64-bit hashes
    (collisions are negligible). Each chunk adds one sorted run (no copy of
    what is already held, so memory grows by exactly 8 bytes a new key);
    runs are merged only when there are more than `max_runs` of them.
    """

    max_runs: int = 64
    runs: list[np.ndarray] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.runs)

    def mark(self, claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
        """Return a mask of rows whose key was already seen (earlier chunk or earlier in this one)."""
        keys = _key_hashes(claim_id, line_number)
        order = np.argsort(keys, kind="stable")  # equal keys keep their row order: the first is not a repeat
        ordered = keys[order]
        seen = np.zeros(len(keys), dtype=bool)
        seen[1:] = ordered[1:] == ordered[:-1]  # earlier in this chunk
        for run in self.runs:  # searched in sorted order: each binary search starts where the last ended
            pos = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            seen |= run[pos] == ordered
        dup = np.zeros(len(keys), dtype=bool)
        dup[order[seen]] = True
        new = ordered[~seen]  # sorted and distinct: duplicates within the chunk are marked
        if len(new):
            self.runs.append(new)
        if len(self.runs) > self.max_runs:
            merged = np.concatenate(self.runs)
            self.runs = []
            merged.sort()
            self.runs = [merged]
        return dup


def _key_hashes(claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
    """64-bit hashes of (claim_id, line_number); both must be non-missing.

    Hashes the claim ids as plain Python strings (stable whatever the pandas
    string storage) and mixes in the line number arithmetically.
    """
    ids = pd.util.hash_array(np.asarray(claim_id.astype(STRING).to_numpy(dtype=object)), categorize=False)
    lines = np.asarray(line_number.to_numpy(dtype="int64"), dtype=np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (lines + np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
        mixed ^= mixed >> np.uint64(31)
    return ids ^ mixed
