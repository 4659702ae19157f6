"""The claim worklist, `<out>.claims.<ext>`: one row per scored claim, in claim-rank order.

Billers hold and rework claims, not lines, so `score` ranks claims beside lines
(docs/claims.md, "The claim worklist"; columns `schema.CLAIM_COLUMNS`). Claims may be
scattered through the file, so the table is built from compact per-line keys, never a
frame of the whole file:

1. pass 1 of the worklist (`add_lines`): per scored line its normalised claim id, line
   number, first-line payer, service date, billed amount, probability, expected loss and
   tier go to a temporary Parquet file (~60 bytes a line on disk, nothing in memory);
2. between the passes (`index`): the claim ids are dictionary-encoded (4 bytes a line);
3. pass 2 (`add_texts`): the lines with reasons or fixes (the explained ones) go, by
   position, to one of a few bucket files by claim, so a claim's lines share a bucket;
4. `write`: per-claim sums by `np.bincount` over the codes, the claim probability
   (`modeling.claim_risk`), the file-wide claim rank, then each bucket's claims' texts
   (`scoring.claim_text`), and the table written in rank windows.

A claim whose lines were all rejected has no row; a claim with some rejected lines says so
first in its `top_reasons`. The Spark engine feeds the same collector from its worklist
(`jobs.spark_claims`), so both engines write the same table.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.modeling.claim_risk import claim_probability, log_survival
from denial_risk.scoring.claim_text import claim_reasons, format_actions, plan_actions
from denial_risk.tableio.files import TableWriter
from denial_risk.tableio.memory import release_freed_memory

TIER_CODE = {"low": 0, "medium": 1, "high": 2}
TIER_NAMES = np.array(["low", "medium", "high"], dtype=object)  # by TIER_CODE
BUCKET_LINES = 500_000  # lines per text bucket: a bucket's explained lines are held at once
WINDOW = 32_768  # claims written at a time
TEXT_BATCH = 4_096  # a bucket's claim texts read at a time
SUM_BATCH = 262_144  # key rows read at a time for the per-claim sums
KEYS = pa.schema(
    [
        ("claim_id", pa.string()),
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


@dataclass
class ClaimSummary:
    """What `score` prints and the report shows of the claim worklist."""

    path: Path | None = None
    claims: int = 0
    claims_by_tier: dict[str, int] = field(default_factory=dict)
    loss_by_tier: dict[str, float] = field(default_factory=dict)
    top: pd.DataFrame | None = None


def line_keys(clean: pd.DataFrame, added: pd.DataFrame, raw: pd.DataFrame | None = None) -> pa.Table:
    """The claim keys of scored lines: normalised ids and numbers; payer columns as the input gave them."""
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


class ClaimCollector:
    """Collects a worklist's lines in a working folder and writes the claim worklist (see the module)."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self._stack = contextlib.ExitStack()
        self._keys = self._stack.enter_context(
            TableWriter(self.workdir / "claim_keys.parquet", compression="none")
        )
        self._buckets: list[TableWriter] = []
        self.rejected: dict[str, list[tuple[str, str]]] = {}
        self.codes: np.ndarray | None = None
        self.ids: pa.Array | None = None

    def __enter__(self) -> ClaimCollector:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def add_lines(self, clean: pd.DataFrame, added: pd.DataFrame, raw: pd.DataFrame | None = None) -> None:
        """Pass 1: a chunk's scored lines, in file order (their keys: `line_keys`)."""
        self._keys.write_arrow(line_keys(clean, added, raw))

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
        """Between the passes: claim ids to codes (4 bytes a line); the text buckets opened."""
        self._keys.__exit__(None, None, None)
        self._stack.pop_all()
        path = self.workdir / "claim_keys.parquet"
        if self._keys.rows:
            ids = pq.read_table(path, columns=["claim_id"]).column(0).combine_chunks().dictionary_encode()
            self.codes = ids.indices.to_numpy(zero_copy_only=False).astype(np.int32)
            self.ids = ids.dictionary
        else:
            self.codes, self.ids = np.empty(0, np.int32), pa.array([], pa.string())
        for b in range(1 + len(self.codes) // BUCKET_LINES):
            self._buckets.append(
                self._stack.enter_context(TableWriter(self.workdir / f"claim_texts{b}.parquet"))
            )

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
        bucket = self.codes[pos] % len(self._buckets)
        texts = batch.select(list(TEXTS)).take(pa.array(rows))
        for b in np.unique(bucket):
            sel = np.flatnonzero(bucket == b)
            part = texts.take(pa.array(sel)).add_column(0, "pos", pa.array(pos[sel].astype(np.int64)))
            self._buckets[b].write_arrow(part)

    def write(self, path: str | Path, model, *, top: int = 0) -> ClaimSummary:
        """The claim worklist at `path` (CSV or Parquet, atomically); its summary and first `top` claims."""
        if self.codes is None:
            self.index()
        buckets = [w.target for w in self._buckets if w.rows]
        self._stack.close()
        if not len(self.codes):
            with TableWriter(path, option="--out") as writer:
                writer.write_arrow(_window(_EMPTY, self.ids, []))
            return ClaimSummary(
                path=Path(path), top=pd.DataFrame(columns=list(schema.CLAIM_COLUMNS)) if top else None
            )
        claims = _aggregate(self.workdir / "claim_keys.parquet", self.codes, len(self.ids), model)
        results = [
            _bucket_texts(p, self.codes, self.ids, claims, model, self.rejected, self.workdir)
            for p in buckets
        ]
        extra = _rejected_only(self.rejected, self.ids, claims, buckets, self.codes, self.workdir)
        return _write_table(Path(path), claims, self.ids, [*results, *extra], model, top)


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


# --------------------------------------------------------------------------- building the table


def _aggregate(keys_path: Path, codes: np.ndarray, n: int, model) -> dict:
    """Per claim (by code): lines, sums, first line, first service day, probability, tier, rank, lines at
    risk; one key column read at a time, compact arrays (~50 bytes a claim; texts stay Arrow buffers)."""

    def col(name: str) -> np.ndarray:
        return pq.read_table(keys_path, columns=[name], use_threads=False).column(0).to_numpy()

    def summed(name: str, fn=None) -> np.ndarray:  # a batch at a time: no whole column in memory
        total, at = np.zeros(n), 0
        for batch in pq.ParquetFile(keys_path).iter_batches(batch_size=SUM_BATCH, columns=[name]):
            v = batch.column(0).to_numpy()
            total += np.bincount(codes[at : at + len(v)], v if fn is None else fn(v), n)
            at += len(v)
        return total

    small = np.int32 if max(n, len(codes)) < 2**31 - 1 else np.int64
    lines = np.bincount(codes, minlength=n).astype(small)
    out = {"lines": lines}
    out["billed_amount"] = summed("billed_amount")
    out["expected_loss"] = summed("expected_loss")
    out["log_survival"] = summed("denial_probability", log_survival)
    order = np.argsort(codes, kind="stable").astype(small)
    starts = np.concatenate([[0], np.cumsum(lines, dtype=np.int64)[:-1]]) if n else np.empty(0, np.int64)
    out["first_pos"] = order[starts] if n else starts.astype(small)
    out["first_day"] = np.minimum.reduceat(col("service_day")[order], starts) if n else starts
    del order
    calibration = (getattr(model, "info", None) or {}).get("claim_calibration")
    prob = claim_probability(calibration, out["log_survival"], lines)
    out["claim_denial_probability"] = prob
    out["tier"] = _tier_codes(model, prob)
    rank_order = np.lexsort((out["first_pos"], -prob, -out["expected_loss"])).astype(small)
    rank = np.empty(n, dtype=small)
    rank[rank_order] = np.arange(1, n + 1, dtype=small)
    out["claim_rank"], out["rank_order"] = rank, rank_order
    out["lines_at_risk"] = _lines_at_risk(codes, col("line_number"), col("tier"), n)
    out["payers"] = _rows_at(keys_path, ["payer_id", "payer_type"], out["first_pos"])
    release_freed_memory()
    return out


def _rows_at(path: Path, columns: list[str], positions: np.ndarray) -> pa.Table:
    """The rows at `positions` (any order) of some columns, read a batch at a time."""
    order = np.argsort(positions, kind="stable")
    wanted = positions[order]
    pieces, at = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=SUM_BATCH, columns=columns):
        lo, hi = np.searchsorted(wanted, [at, at + batch.num_rows])
        if hi > lo:
            pieces.append(pa.Table.from_batches([batch]).take(pa.array(wanted[lo:hi] - at)))
        at += batch.num_rows
    got = (
        pa.concat_tables(pieces).combine_chunks()
        if pieces
        else pa.table({c: pa.array([], pa.string()) for c in columns})
    )
    back = np.empty(len(order), dtype=np.int64)
    back[order] = np.arange(len(order))
    return got.take(pa.array(back))


def _tier_codes(model, prob: np.ndarray) -> np.ndarray:
    """`model.tier` as int8 codes (`TIER_CODE`), a window at a time (its strings are 24 bytes a claim)."""
    out = np.zeros(len(prob), dtype=np.int8)
    for lo in range(0, len(prob), WINDOW):
        names = model.tier(prob[lo : lo + WINDOW])
        for name, code in TIER_CODE.items():
            out[lo : lo + WINDOW][names == name] = code
    return out


def _lines_at_risk(codes: np.ndarray, line: np.ndarray, tier: np.ndarray, n: int) -> pa.Array:
    """`|`-joined line numbers at medium tier or above, per claim ('' when none), as one Arrow array."""
    at = np.flatnonzero(tier >= TIER_CODE["medium"])
    o = at[np.lexsort((line[at], codes[at]))]
    counts = np.bincount(codes[o], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pc.cast(pa.array(line[o]), pa.string())
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), schema.LIST_SEP)


def _claim_lookup(ids: pa.Array, names) -> np.ndarray:
    """Codes of claim ids (-1: not a scored claim)."""
    got = pc.index_in(pa.array(list(names), pa.string()), value_set=ids)
    return got.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _rejected_of(rejected: dict, ids: pa.Array) -> dict[int, list]:
    names = list(rejected)
    codes = _claim_lookup(ids, names) if names else np.empty(0, np.int64)
    return {int(c): rejected[nm] for nm, c in zip(names, codes) if c >= 0}


def _bucket_texts(path, codes, ids, claims, model, rejected, workdir) -> Path | None:
    """One bucket's claims' reasons and fixes, written sorted by claim rank (to merge by rank windows)."""
    t = pq.read_table(path)
    pos = t.column("pos").to_numpy()
    keys = pq.read_table(workdir / "claim_keys.parquet", columns=["line_number", "denial_probability"])
    line = keys.column(0).to_numpy()[pos]
    p = keys.column(1).to_numpy()[pos]
    del keys
    c = codes[pos]
    o = np.lexsort((line, c))
    reasons = t.column("top_reasons").to_numpy(zero_copy_only=False)[o]
    actions = t.column("recommended_actions").to_numpy(zero_copy_only=False)[o]
    c, line, p = c[o], line[o], p[o]
    rejects = _rejected_of(rejected, ids)
    calibration = (getattr(model, "info", None) or {}).get("claim_calibration")
    bounds = np.flatnonzero(np.diff(c)) + 1
    rows = {"claim_rank": [], "top_reasons": [], "recommended_actions": []}
    plans, owner = [], []
    for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(c)]])):
        k = int(c[lo])
        rows["claim_rank"].append(int(claims["claim_rank"][k]))
        rows["top_reasons"].append(claim_reasons(line[lo:hi], reasons[lo:hi], rejects.get(k, ())))
        plan = plan_actions(line[lo:hi], actions[lo:hi], p[lo:hi], float(claims["log_survival"][k]))
        plans.append(plan)
        owner.extend([k] * len(plan))
    sums = np.array([np.nan if s is None else s for plan in plans for _, s in plan], dtype=float)
    owner = np.asarray(owner, dtype=np.int64)
    risks = (
        claim_probability(calibration, np.nan_to_num(sums), claims["lines"][owner]) if len(owner) else sums
    )
    at = 0
    for plan in plans:
        rows["recommended_actions"].append(format_actions(plan, risks[at : at + len(plan)]))
        at += len(plan)
    return _sorted_by_rank(rows, Path(path).with_name(f"ranked_{Path(path).name}"))


def _rejected_only(rejected, ids, claims, buckets, codes, workdir) -> list[Path]:
    """Claims with rejected lines but no explained line: their reasons are the rejects alone."""
    rejects = _rejected_of(rejected, ids)
    if not rejects:
        return []
    explained = set()
    for path in buckets:
        explained.update(np.unique(codes[pq.read_table(path, columns=["pos"]).column(0).to_numpy()]).tolist())
    rows = {"claim_rank": [], "top_reasons": [], "recommended_actions": []}
    for k, items in rejects.items():
        if k not in explained:
            rows["claim_rank"].append(int(claims["claim_rank"][k]))
            rows["top_reasons"].append(claim_reasons([], [], items))
            rows["recommended_actions"].append("")
    return (
        [_sorted_by_rank(rows, Path(workdir) / "claim_rejected.claims.parquet")] if rows["claim_rank"] else []
    )


def _sorted_by_rank(rows: dict, path: Path) -> Path:
    table = pa.table(
        {k: pa.array(v, pa.int64() if k == "claim_rank" else pa.string()) for k, v in rows.items()}
    )
    pq.write_table(table.sort_by("claim_rank"), path, row_group_size=WINDOW)
    return path


_EMPTY = {
    "lines": np.empty(0, np.int64),
    "billed_amount": np.empty(0),
    "expected_loss": np.empty(0),
    "claim_denial_probability": np.empty(0),
    "claim_rank": np.empty(0, np.int64),
    "first_day": np.empty(0, np.int64),
    "tier": np.empty(0, np.int8),
    "lines_at_risk": pa.array([], pa.string()),
    "payers": pa.table({"payer_id": pa.array([], pa.string()), "payer_type": pa.array([], pa.string())}),
}


class _ByRank:
    """Rows of a rank-sorted file, handed out by rank windows."""

    def __init__(self, path: Path):
        self.batches = pq.ParquetFile(path).iter_batches(batch_size=TEXT_BATCH)
        self.rest: pa.Table | None = None

    def until(self, end: int) -> pa.Table | None:
        pieces = []
        while True:
            if self.rest is None:
                batch = next(self.batches, None)
                if batch is None:
                    break
                self.rest = pa.Table.from_batches([batch])
            k = int(np.searchsorted(self.rest.column("claim_rank").to_numpy(), end))
            pieces.append(self.rest.slice(0, k))
            if k < self.rest.num_rows:
                self.rest = self.rest.slice(k)
                break
            self.rest = None
        return pa.concat_tables(pieces) if pieces else None


def _write_table(path: Path, claims: dict, ids: pa.Array, texts: list, model, top: int) -> ClaimSummary:
    n = len(claims["lines"])
    summary = ClaimSummary(path=path, claims=n)
    tier = TIER_NAMES[claims["tier"]]
    for t in schema.RISK_TIERS:
        hit = tier == t
        summary.claims_by_tier[t] = int(hit.sum())
        summary.loss_by_tier[t] = float(claims["expected_loss"][hit].sum())
    cursors = [_ByRank(p) for p in texts if p is not None]
    tops = []
    with TableWriter(path, option="--out") as writer:
        for start in range(0, max(n, 1), WINDOW):
            k = claims["rank_order"][start : start + WINDOW]
            table = _window(claims, ids, k, cursors, start)
            writer.write_arrow(table)
            if top and start < top:
                tops.append(table.slice(0, top - start).to_pandas())
    summary.top = pd.concat(tops, ignore_index=True) if tops else None
    return summary


def _window(claims: dict, ids: pa.Array, k, cursors: list = (), start: int = 0) -> pa.Table:
    """The claims ranked `start + 1 ...` (codes `k`), with their texts from the rank-sorted buckets."""
    k = np.asarray(k, dtype=np.int64)
    payer = claims["payers"]
    reasons = np.full(len(k), "", dtype=object)
    actions = np.full(len(k), "", dtype=object)
    for cursor in cursors:
        got = cursor.until(start + len(k) + 1)
        if got is not None and got.num_rows:
            at = got.column("claim_rank").to_numpy() - start - 1
            reasons[at] = got.column("top_reasons").to_numpy(zero_copy_only=False)
            actions[at] = got.column("recommended_actions").to_numpy(zero_copy_only=False)
    days = claims["first_day"][k].astype(np.int64).astype("datetime64[D]")
    take = pa.array(k, pa.int64())
    columns = {
        "claim_id": ids.take(take),
        "payer_id": payer.column("payer_id").take(take),
        "payer_type": payer.column("payer_type").take(take),
        "first_service_date": pa.array(days, pa.date32()),
        "lines": pa.array(claims["lines"][k].astype(np.int64)),
        "billed_amount": pa.array(claims["billed_amount"][k]),
        "claim_denial_probability": pa.array(claims["claim_denial_probability"][k]),
        "expected_loss": pa.array(claims["expected_loss"][k]),
        "claim_rank": pa.array(claims["claim_rank"][k].astype(np.int64)),
        "risk_tier": pa.array(TIER_NAMES[claims["tier"][k]], pa.string()),
        "lines_at_risk": claims["lines_at_risk"].take(take),
        "top_reasons": pa.array(reasons, pa.string()),
        "recommended_actions": pa.array(actions, pa.string()),
    }
    return pa.table({c: columns[c] for c in schema.CLAIM_COLUMNS})
