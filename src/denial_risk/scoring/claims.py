"""The claim worklist, `<out>.claims.<ext>`: one row per scored claim, in claim-rank order.

Billers hold and rework claims, not lines, so `score` ranks claims beside lines
(docs/claims.md, "The claim worklist"; columns `schema.CLAIM_COLUMNS`). Claims may be
scattered through the file, so the table is built partition by partition, never from a
frame (or per-line arrays) of the whole file:

1. pass 1 of the worklist (`add_lines`): per scored line its normalised claim id, file
   position, line number, first-line payer, service date, billed amount, probability,
   expected loss and tier go to one of `parts` temporary Parquet files, chosen by a hash of
   the claim id, so a claim's lines share a file (~60 bytes a line on disk; in memory the
   line's partition, 2 bytes). `parts` comes from the expected line count:
   `PARTITION_LINES` lines a partition;
2. pass 2 (`add_texts`): the lines with reasons or fixes (the explained ones) go, by
   position, to their partition's text file;
3. `write`: each partition's claims built (`scoring.claim_part`: sums over dictionary codes,
   probability, tier, lines at risk, merged texts) and spilled to disk with three rank keys
   kept (24 bytes a claim); the file-wide claim rank from those; each partition's rows moved,
   rank added, to rank buckets of one write window (`WINDOW` claims); then the table written
   bucket by bucket, each sorted by rank. One bucket is held at a time: a merge with a reader
   open on every partition held each reader's buffers, ~18 MB a partition, the growth that
   took 5M lines (20 partitions) over 1 GB.

A claim whose lines were all rejected has no row; a claim with some rejected lines says so
first in its `top_reasons`. The Spark engine feeds the same collector from its worklist
(`jobs.spark_claims`), so both engines write the same table.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.scoring.claim_part import FIRST_POS, TIER_CODE, build_part
from denial_risk.tableio.files import TableWriter
from denial_risk.tableio.memory import release_freed_memory

PARTITION_LINES = 250_000  # lines per partition: one partition's keys and explained texts are held at once
MAX_PARTITIONS = 4_096
WINDOW = 32_768  # claims written at a time
KEYS = pa.schema(
    [
        ("claim_id", pa.string()),
        ("pos", pa.int64()),
        ("line_number", pa.int64()),
        ("payer_id", pa.string()),
        ("payer_type", pa.string()),
        ("service_day", pa.int32()),
        ("billed_amount", pa.float64()),
        ("denial_probability", pa.float64()),
        ("expected_loss", pa.float64()),
        ("tier", pa.int8()),
    ]
)
TEXTS = ("top_reasons", "recommended_actions")
_NOT_TEXT = {
    "first_service_date": pa.date32(),
    "lines": pa.int64(),
    "billed_amount": pa.float64(),
    "claim_denial_probability": pa.float64(),
    "expected_loss": pa.float64(),
    "claim_rank": pa.int64(),
}
CLAIM_TYPES = pa.schema([(c, _NOT_TEXT.get(c, pa.string())) for c in schema.CLAIM_COLUMNS])


@dataclass
class ClaimSummary:
    """What `score` prints and the report shows of the claim worklist."""

    path: Path | None = None
    claims: int = 0
    claims_by_tier: dict[str, int] = field(default_factory=dict)
    loss_by_tier: dict[str, float] = field(default_factory=dict)
    top: pd.DataFrame | None = None


def partitions_for(expected_lines: int | None) -> int:
    """How many partitions for a file of about `expected_lines` scored lines (1 when not known)."""
    if not expected_lines or expected_lines <= PARTITION_LINES:
        return 1
    return min(math.ceil(expected_lines / PARTITION_LINES), MAX_PARTITIONS)


def line_keys(clean: pd.DataFrame, added: pd.DataFrame, raw: pd.DataFrame | None, start: int) -> pa.Table:
    """The claim keys of scored lines (file positions from `start`): normalised ids and numbers; payer
    columns as the input gave them."""
    source = raw if raw is not None else clean

    def text(c: str) -> pa.Array:
        if c not in source.columns:
            return pa.nulls(len(clean), pa.string())
        return pa.array(source[c].astype("string").to_numpy(dtype=object, na_value=None), pa.string())

    days = clean["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64).astype(np.int32)
    tiers = added["risk_tier"].astype("string").to_numpy(dtype=object)
    return pa.Table.from_arrays(
        [
            pa.array(clean["claim_id"].astype("string").to_numpy(dtype=object), pa.string()),
            pa.array(np.arange(start, start + len(clean), dtype=np.int64)),
            pa.array(clean["line_number"].to_numpy(dtype=np.int64, na_value=1)),
            text("payer_id"),
            text("payer_type"),
            pa.array(days),
            pa.array(clean["billed_amount"].to_numpy(dtype=float)),
            pa.array(added["denial_probability"].to_numpy(dtype=float)),
            pa.array(added["expected_loss"].to_numpy(dtype=float)),
            pa.array(np.array([TIER_CODE.get(t, 0) for t in tiers], dtype=np.int8)),
        ],
        schema=KEYS,
    )


def _partition_of(claim_ids: pa.Array, parts: int) -> np.ndarray:
    """Each line's partition: a stable hash of its claim id (the same id, the same partition)."""
    if parts == 1:
        return np.zeros(len(claim_ids), dtype=np.uint16)
    hashed = pd.util.hash_array(claim_ids.to_numpy(zero_copy_only=False).astype(object), categorize=True)
    return (hashed % np.uint64(parts)).astype(np.uint16)


class ClaimCollector:
    """Collects a worklist's lines in a working folder and writes the claim worklist (see the module)."""

    def __init__(self, workdir: Path, expected_lines: int | None = None, *, parts: int | None = None):
        self.workdir = Path(workdir)
        self.parts = parts if parts is not None else partitions_for(expected_lines)
        self._stack = contextlib.ExitStack()
        self._keys = [
            self._stack.enter_context(
                TableWriter(self.workdir / f"claim_keys{p}.parquet", compression="none")
            )
            for p in range(self.parts)
        ]
        self._texts: list[TableWriter] = []
        self._part_of: list[np.ndarray] = []  # per chunk, its lines' partitions (2 bytes a line)
        self.part_of: np.ndarray | None = None
        self._filled: list[bool] = []  # which partitions got lines (set between the passes)
        self.lines = 0
        self.rejected: dict[str, list[tuple[str, str]]] = {}

    def __enter__(self) -> ClaimCollector:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def add_lines(self, clean: pd.DataFrame, added: pd.DataFrame, raw: pd.DataFrame | None = None) -> None:
        """Pass 1: a chunk's scored lines, in file order (their keys: `line_keys`), each to its partition."""
        keys = line_keys(clean, added, raw, self.lines)
        self.lines += keys.num_rows
        part = _partition_of(keys.column("claim_id").combine_chunks(), self.parts)
        self._part_of.append(part)
        if self.parts == 1:
            self._keys[0].write_arrow(keys)
            return
        _scatter(keys, part, self._keys)

    def add_rejects(self, rejects: pd.DataFrame) -> None:
        """Rejected rows that name a claim: said first in that claim's reasons."""
        if "claim_id" not in rejects.columns or not len(rejects):
            return
        ids = rejects["claim_id"].astype("string").str.strip()
        line = rejects["line_number"].astype("string").str.strip() if "line_number" in rejects else None
        why = rejects[REJECT_REASON]
        for k, (cid, reason) in enumerate(zip(ids, why)):
            if pd.isna(cid) or not cid:
                continue
            ln = "1" if line is None or pd.isna(line.iloc[k]) or not line.iloc[k] else line.iloc[k]
            self.rejected.setdefault(cid, []).append((ln, str(reason)))

    def index(self) -> None:
        """Between the passes: the key files closed, each line's partition at hand, the text files opened."""
        if self.part_of is not None:
            return
        self._filled = [w.rows > 0 for w in self._keys]
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self.part_of = np.concatenate(self._part_of) if self._part_of else np.empty(0, np.uint16)
        self._part_of = []
        self._texts = [
            self._stack.enter_context(TableWriter(self.workdir / f"claim_texts{p}.parquet"))
            for p in range(self.parts)
        ]

    def add_texts(self, offset: int, batch: pa.Table) -> None:
        """Pass 2: the batch's lines (file positions from `offset`) that carry reasons or fixes."""
        has = None
        for name in TEXTS:
            length = pc.fill_null(pc.utf8_length(batch.column(name)), 0)
            hit = pc.greater(length, 0)
            has = hit if has is None else pc.or_(has, hit)
        rows = np.flatnonzero(has.to_numpy(zero_copy_only=False)) if has is not None else []
        if not len(rows):
            return
        pos = offset + rows
        part = self.part_of[pos]
        texts = batch.select(list(TEXTS)).take(pa.array(rows))
        for p in np.unique(part).tolist():
            sel = np.flatnonzero(part == p)
            piece = texts.take(pa.array(sel)).add_column(0, "pos", pa.array(pos[sel].astype(np.int64)))
            self._texts[p].write_arrow(piece)

    def write(self, path: str | Path, model, *, top: int = 0) -> ClaimSummary:
        """The claim worklist at `path` (CSV or Parquet, atomically); its summary and first `top` claims."""
        self.index()
        texts = [w.target if w.rows else None for w in self._texts]
        self._stack.close()
        self.part_of = None  # not needed any more: 2 bytes a line back
        summary = ClaimSummary(path=Path(path))
        summary.claims_by_tier = dict.fromkeys(schema.RISK_TIERS, 0)
        summary.loss_by_tier = dict.fromkeys(schema.RISK_TIERS, 0.0)
        built, keys = [], ([], [], [])  # the three rank keys, a list of arrays each
        for p in range(self.parts):
            source = self.workdir / f"claim_keys{p}.parquet"
            if not self._filled[p]:
                continue
            part = build_part(source, texts[p], self.rejected, model)
            _count(summary, part.rows)
            target = self.workdir / f"claims{p}.parquet"
            pq.write_table(part.rows, target)
            built.append(target)
            for kept, key in zip(keys, (part.expected_loss, part.probability, part.first_pos)):
                kept.append(key)
            source.unlink()
            del part
            release_freed_memory()
        rank = _claim_ranks(*keys)
        summary.claims = len(rank)
        buckets = _rank_buckets(built, rank)
        del rank
        release_freed_memory()
        return _write_buckets(Path(path), buckets, summary, top)


class NoClaims:
    """A collector that collects nothing (`score_file(claim_table=False)`: the benchmark's reference)."""

    def __enter__(self) -> NoClaims:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_lines(self, clean, added, raw=None) -> None:
        return None

    def add_rejects(self, rejects) -> None:
        return None

    def index(self) -> None:
        return None

    def add_texts(self, offset, batch) -> None:
        return None

    def write(self, path, model, *, top: int = 0) -> None:
        return None


# --------------------------------------------------------------------------- rank and merge


def _count(summary: ClaimSummary, rows: pa.Table) -> None:
    tier = rows.column("risk_tier").to_numpy(zero_copy_only=False)
    loss = rows.column("expected_loss").to_numpy()
    for t in schema.RISK_TIERS:
        hit = tier == t
        summary.claims_by_tier[t] += int(hit.sum())
        summary.loss_by_tier[t] += float(loss[hit].sum())


def _scatter(table: pa.Table, group: np.ndarray, writers: list[TableWriter]) -> None:
    """Each row of `table` to the writer of its group (`group`: one int per row), in table order within
    a group; a group's rows taken alone, never a reordered copy of the whole table."""
    order = np.argsort(group, kind="stable")
    edges = np.searchsorted(group[order], np.arange(len(writers) + 1))
    for g in np.unique(group).tolist():
        writers[g].write_arrow(table.take(pa.array(order[edges[g] : edges[g + 1]])))


def _claim_ranks(losses: list, probs: list, firsts: list) -> np.ndarray:
    """File-wide claim ranks, claims in partition order: expected loss, then probability, descending;
    then the first line's place in the file. The lists' arrays are joined one key at a time and the
    lists emptied (never two copies of a key); the descending keys negated in place."""

    def joined(pieces: list, dtype, negate: bool) -> np.ndarray:
        key = np.concatenate(pieces) if pieces else np.empty(0, dtype)
        pieces.clear()
        return np.negative(key, out=key) if negate else key

    loss = joined(losses, np.float64, True)
    prob = joined(probs, np.float64, True)
    first = joined(firsts, np.int64, False)
    n = len(loss)
    small = np.int32 if n < 2**31 - 1 else np.int64
    order = np.lexsort((first, prob, loss))
    del loss, prob, first
    rank = np.empty(n, dtype=small)
    rank[order] = np.arange(1, n + 1, dtype=small)
    return rank


def _rank_span(claims: int) -> int:
    """Claims per rank bucket: one window (the first window's rows, the longest texts, ~20 MB), more
    windows only past `MAX_PARTITIONS` buckets (open files); a window never spans two buckets."""
    return WINDOW * max(1, math.ceil(claims / (MAX_PARTITIONS * WINDOW)))


def _rank_buckets(built: list[Path], rank: np.ndarray) -> list[Path]:
    """The built partitions' rows (their `claim_rank` added) moved to rank buckets: bucket b holds ranks
    b * span + 1 .. (b + 1) * span (`_rank_span`), so the table is written one bucket at a time, never
    from a cursor per partition (each cursor held its Parquet reader's buffers: ~18 MB a partition)."""
    if not built:
        return []
    span = _rank_span(len(rank))
    paths = [built[0].with_name(f"by_rank{b}.parquet") for b in range(math.ceil(len(rank) / span))]
    at_rank = CLAIM_TYPES.get_field_index("claim_rank")
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(TableWriter(p)) for p in paths]
        at = 0
        for path in built:
            # one chunk: a take from a chunked table costs ~6x more (1M lines: 2 s of the claim step)
            rows = pq.read_table(path, use_threads=False).drop_columns([FIRST_POS]).combine_chunks()
            r = rank[at : at + rows.num_rows]
            at += rows.num_rows
            rows = rows.add_column(at_rank, "claim_rank", pa.array(r, pa.int64()))
            _scatter(rows, (r - 1) // span, writers)
            del rows
            path.unlink()
    return paths


def _write_buckets(path: Path, buckets: list[Path], summary: ClaimSummary, top: int) -> ClaimSummary:
    """The table at `path`, a rank window at a time, from the rank buckets in order (one held at once)."""
    tops, start = [], 0
    with TableWriter(path, option="--out") as writer:
        if not summary.claims:
            writer.write_arrow(CLAIM_TYPES.empty_table())
        for bucket in buckets:
            rows = pq.read_table(bucket, use_threads=False).combine_chunks()  # one chunk: see _rank_buckets
            bucket.unlink()
            order = np.argsort(rows.column("claim_rank").to_numpy(), kind="stable")
            for lo in range(0, rows.num_rows, WINDOW):
                table = rows.take(pa.array(order[lo : lo + WINDOW])).select(list(schema.CLAIM_COLUMNS))
                writer.write_arrow(table.cast(CLAIM_TYPES))
                if top and start < top:
                    tops.append(table.slice(0, top - start).to_pandas())
                start += table.num_rows
            del rows, order
    if top:
        empty = pd.DataFrame(columns=list(schema.CLAIM_COLUMNS))
        summary.top = pd.concat(tops, ignore_index=True) if tops else empty
    return summary
