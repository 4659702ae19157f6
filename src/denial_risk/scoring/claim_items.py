"""The group-bys that merge a partition's line texts into claim texts (`scoring.claim_text`).

A line's text is a list of items (findings, fixes). Each distinct text is parsed once into its
items (`Items`, flat arrays with offsets); `explode` lays every explained line's items out one per
row; `group` gathers the rows by (claim, item): the item's lines, as `line 2` or `lines 1-3, 5`, and
where it was first seen; `by_claim` joins each claim's first items, in a given order, with
`wording.FIX_SEP`. All of it is numpy and Arrow compute over the partition at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.biller.wording import FIX_SEP


@dataclass
class Items:
    """The items of distinct texts: text k's are `item[offsets[k]:offsets[k + 1]]` (ids into `names`),
    with a number each (`place`: its place in the text, or a flag)."""

    offsets: np.ndarray
    item: np.ndarray
    place: np.ndarray
    names: list[str]


@dataclass
class Groups:
    """Exploded rows grouped by (claim, item), groups in (claim, item) order.

    `order`: the rows in group order (within a group, in row order); `start`: each group's first
    place in `order`; `of`: each row's group; per group its `claim`, `key` (item), `first` (its first
    row: where it was first seen), `lines` (how many lines) and `ranges` (`line_ranges`)."""

    order: np.ndarray
    start: np.ndarray
    of: np.ndarray
    claim: np.ndarray
    key: np.ndarray
    first: np.ndarray
    lines: np.ndarray
    ranges: pa.Array

    @property
    def size(self) -> int:
        return len(self.start)


def strings(texts) -> tuple[np.ndarray, list]:
    """Each row's distinct-text code (-1 for none) and the distinct texts."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    encoded = pc.dictionary_encode(arr)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def explode(codes: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row per item of each row's text (rows in order, items in text order): the row, and the
    item's index into the flat `Items` arrays."""
    rows = np.flatnonzero(codes >= 0)
    code = codes[rows]
    counts = offsets[code + 1] - offsets[code]
    row = np.repeat(rows, counts)
    before = np.cumsum(counts) - counts
    flat = np.repeat(offsets[code] - before, counts) + np.arange(len(row))
    return row, flat


def group(claim: np.ndarray, key: np.ndarray, line: np.ndarray) -> Groups:
    """`Groups` of exploded rows (`claim`, `key`, `line` per row; rows sorted by claim, then line)."""
    order = np.lexsort((key, claim))  # stable: a group's rows stay in line order
    c, k = claim[order], key[order]
    new = np.r_[True, (c[1:] != c[:-1]) | (k[1:] != k[:-1])] if len(c) else np.zeros(0, bool)
    start = np.flatnonzero(new)
    of = np.empty(len(order), np.int64)
    of[order] = np.cumsum(new) - 1
    return Groups(
        order=order,
        start=start,
        of=of,
        claim=c[start],
        key=k[start],
        first=order[start],
        lines=np.diff(np.r_[start, len(order)]),
        ranges=_ranges(line[order], new),
    )


def _ranges(lines: np.ndarray, new: np.ndarray) -> pa.Array:
    """Per group (`new`: where one starts; its lines ascending and distinct): 'line 2', 'lines 1-3, 5'
    ('1, 2' for two in a row)."""
    if not len(lines):
        return pa.array([], pa.string())
    brk = new.copy()
    brk[1:] |= lines[1:] != lines[:-1] + 1
    first = np.flatnonzero(brk)
    a, b = lines[first], lines[np.r_[first[1:], len(lines)] - 1]
    sa, sb = pc.cast(pa.array(a), pa.string()), pc.cast(pa.array(b), pa.string())
    pair = pc.binary_join_element_wise(sa, sb, pa.array(np.where(b == a + 1, ", ", "-"), pa.string()))
    runs = pc.if_else(pa.array(b == a), sa, pair)
    group_of_run = (np.cumsum(new) - 1)[first]
    per_group = np.bincount(group_of_run, minlength=int(new.sum()))
    offsets = pa.array(np.r_[0, np.cumsum(per_group)].astype(np.int32))
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, runs), ", ")
    count = np.diff(np.r_[np.flatnonzero(new), len(lines)])
    return pc.binary_join_element_wise(
        pa.array(np.where(count > 1, "lines ", "line "), pa.string()), joined, ""
    )


def line_ranges(lines) -> str:
    """[1, 2, 3, 5] -> 'lines 1-3, 5'; [2] -> 'line 2'."""
    nums = np.unique(np.asarray(lines, dtype=np.int64))
    new = np.zeros(len(nums), bool)
    new[:1] = True
    return _ranges(nums, new)[0].as_py()


def among_first(claim: np.ndarray, most: int) -> np.ndarray:
    """Which entries (sorted by claim) are among their claim's first `most`."""
    start = np.flatnonzero(np.r_[True, claim[1:] != claim[:-1]])
    at = np.arange(len(claim)) - np.repeat(start, np.diff(np.r_[start, len(claim)]))
    return at < most


def by_claim(claim: np.ndarray, said: pa.Array, n: int, most: int) -> pa.Array:
    """Per claim 0..n-1, its first `most` texts of `said` (entries sorted by claim, then as said),
    joined with `FIX_SEP` ('' for a claim without)."""
    if len(claim):
        keep = np.flatnonzero(among_first(claim, most))
        claim, said = claim[keep], said.take(pa.array(keep))
    per_claim = np.bincount(claim, minlength=n) if len(claim) else np.zeros(n, np.int64)
    offsets = pa.array(np.r_[0, np.cumsum(per_claim)].astype(np.int32))
    return pc.binary_join(pa.ListArray.from_arrays(offsets, said), FIX_SEP)
