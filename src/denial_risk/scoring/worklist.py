"""The worklist: a claim backlog scored in chunks, ranked across the whole file.

Two passes at constant memory (besides 8 bytes a line to find duplicate lines
and ~28 bytes a line while ranking):

1. stream the input (`claims.ClaimTable`), validate each chunk (rejects go
   straight to `<out>.rejects.<ext>`), score the scorable rows, explain the
   ones chosen by their probability (`scoring.explain`), and append the input
   rows — their *original* values, not the normalised ones — plus the added
   columns to a temporary Parquet file; nothing per line stays in memory;
2. read `expected_loss` and `denial_probability` back from that file, rank
   every line by expected loss (ties by probability) and copy the
   temporary file batch by batch into the output, adding `risk_rank` and,
   with `--explain-top N`, the reasons and fixes of the N lines ranked first.

Both outputs are written to temporary files beside the target and renamed at
the very end: an interrupted run leaves neither a half file nor a stale one.
Rows keep input order; the columns are the input's, then the contract's seven.

Drift: a uniform sample of the scored lines' feature matrix is compared with
the training profile stored in the model (`model.info["drift_profile"]`);
features with a PSI above 0.25 are named in `WorklistResult.drift_warning`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from denial_risk.claims.reject_counts import RejectCounts
from denial_risk.claims.table import ClaimTable, estimate_rows
from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.scoring.claims import ClaimCollector, ClaimSummary, NoClaims
from denial_risk.scoring.explain import ExplainPolicy, explain_ranked, scored_columns
from denial_risk.tableio.files import TableWriter, check_output, file_format, remove_stale, work_dir
from denial_risk.tableio.memory import lean_arrow_memory, release_freed_memory

ADDED = schema.ADDED  # the seven added columns, in the contract's order
DRIFT_THRESHOLD = 0.25
DRIFT_SAMPLE = 20_000
PASS2_BATCH_ROWS = 65_536  # pass 2 copies the scored file in batches this size
TOP_COLUMNS = ("risk_rank", *schema.READ_COLUMNS)
# A CSV worklist is read by a person: a probability to 4 decimals (0.01 percentage points), an amount to
# the cent. Parquet keeps full precision; ranks come from full precision in both (docs/claims.md).
CSV_DECIMALS = {"denial_probability": 4, "expected_loss": 2}


@dataclass
class WorklistResult:
    rows: int = 0
    scored: int = 0
    rejected: int = 0
    out: Path | None = None
    rejects: Path | None = None
    lines_by_tier: dict[str, int] = field(default_factory=lambda: dict.fromkeys(schema.RISK_TIERS, 0))
    at_risk_by_tier: dict[str, float] = field(default_factory=lambda: dict.fromkeys(schema.RISK_TIERS, 0.0))
    billed: float = 0.0
    replaced_columns: list[str] = field(default_factory=list)
    drift: pd.DataFrame | None = None
    drift_warning: str | None = None
    top: pd.DataFrame | None = None
    seconds: float = 0.0
    memory: dict[str, float] = field(default_factory=dict)  # peak RSS after pass 1 and at the end (MB)
    claims: ClaimSummary | None = None  # the claim worklist beside the output (scoring.claims)
    claim_seconds: float = 0.0  # of `seconds`, building the claim worklist after pass 2
    reject_counts: RejectCounts = field(default_factory=RejectCounts)

    def check_some_scored(self, data) -> None:
        """A file whose every row is rejected has nothing to rank: the user's mistake, nothing written."""
        if self.rejected and not self.scored:
            raise UserError(self.reject_counts.all_rejected(data, self.rejected))


# --------------------------------------------------------------------------- helpers


class _Reservoir:
    """A uniform random sample of rows of the feature matrix, across chunks."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.rows: np.ndarray | None = None

    def add(self, X: np.ndarray) -> None:
        if self.size <= 0 or len(X) == 0:
            return
        keys = self.rng.random(len(X))
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            keys, X = keys[keep], X[keep]
        if self.rows is None:
            self.keys, self.rows = keys, np.array(X, dtype=np.float32)
        else:
            self.keys = np.concatenate([self.keys, keys])
            self.rows = np.concatenate([self.rows, X.astype(np.float32)])
        if len(self.keys) > self.size:
            keep = np.argpartition(self.keys, self.size)[: self.size]
            self.keys, self.rows = self.keys[keep], self.rows[keep]


def drift_check(model, sample: np.ndarray | None, threshold: float = DRIFT_THRESHOLD):
    """(PSI report, warning line or None) of a feature-matrix sample against the model's profile."""
    profile = (getattr(model, "info", None) or {}).get("drift_profile")
    if not profile or sample is None or len(sample) == 0:
        return None, None
    from denial_risk.modeling.drift import drift_report

    frame = pd.DataFrame(sample.astype(np.float64), columns=list(model.feature_names))
    report = drift_report(profile, frame, threshold=threshold)
    drifted = report[report["drifted"]]
    if drifted.empty:
        return report, None
    names = ", ".join(f"{r.feature} (PSI {r.psi:.2f})" for r in drifted.itertuples(index=False))
    return report, (
        f"the backlog differs from the model's training data (PSI > {threshold:g}) in "
        f"{len(drifted)} feature(s): {names}; scores there are less reliable"
    )


def _progress(total: int | None, enabled: bool | None):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=" lines",
        unit_scale=True,
        file=sys.stderr,
        dynamic_ncols=True,
        disable=(None if enabled is None else not enabled),
        desc="scoring",
        smoothing=0.1,
    )


# --------------------------------------------------------------------------- the worklist


def _policy(explain_top, explain_all, explain, min_probability, as_of) -> ExplainPolicy:
    """Which lines are explained, and `as_of` (default today): the day that decides which are delivered."""
    return ExplainPolicy.choose(
        explain_top=explain_top,
        explain_all=explain_all,
        explain=explain,
        min_probability=min_probability,
        as_of=as_of,
    )


def score_file(
    data: str | os.PathLike,
    out: str | os.PathLike,
    model,
    *,
    top: int = 0,
    progress: bool | None = None,
    explain: bool = True,
    explain_top: int | None = None,
    explain_all: bool = False,
    drift_sample: int = DRIFT_SAMPLE,
    seed: int = 0,
    min_probability: float | None = None,
    as_of=None,
    claim_table: bool = True,
    policy: ExplainPolicy | None = None,
    opened: tuple | None = None,
    **reader_options,
) -> WorklistResult:
    """A ranked worklist at `out` (CSV or Parquet), rejects and the claim worklist beside it (`claim_table`);
    reasons and fixes for the lines `scoring.explain.ExplainPolicy` chooses (default: medium tier and up);
    `policy`: the one the caller built from these options (`score` builds it once, before the load);
    `opened`: what `open_checked` gave the caller (`score` checks the files before the load, once)."""
    t0 = time.perf_counter()
    if policy is None:
        policy = _policy(explain_top, explain_all, explain, min_probability, as_of)
    out = Path(out)
    table, rejects_path = opened or open_checked(data, out, **reader_options)
    _check_model_columns(model, table.columns, data)
    input_cols = list(table.columns)
    replaced = schema.scored_columns_in(input_cols)  # a scored file scored again: replaced, as on Spark
    keep_cols = [c for c in input_cols if c not in replaced]
    result = WorklistResult(out=out, rejects=rejects_path, replaced_columns=replaced)
    reservoir = _Reservoir(drift_sample, seed)

    remove_stale(out)  # a killed run's working folder holds scored rows, patient ids included
    expected = estimate_rows(data)
    bar = _progress(expected, progress)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(lean_arrow_memory())
            # the model and reference tables are long-lived: freezing them keeps the per-chunk
            # collection (release_freed_memory) to the chunk's own objects, milliseconds not 100s of ms
            # (a frozen object is still freed when its last reference goes; only cycles wait)
            gc.freeze()
            stack.callback(gc.unfreeze)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmpdir = stack.enter_context(work_dir(out))
            rejects_writer = stack.enter_context(TableWriter(rejects_path, option="--out"))
            claims = stack.enter_context(ClaimCollector(tmpdir, expected) if claim_table else NoClaims())
            part_path = tmpdir / "scored.parquet"
            sinks = (rejects_writer, reservoir, claims, bar)
            part_rows = _pass1(table, model, result, part_path, out, keep_cols, policy, sinks)
            result.check_some_scored(data)
            rejects_writer.write_empty(table.reject_columns)
            # pass 2: file-wide ranks, then the final file; then the claim worklist
            result.memory["pass1_peak_rss_mb"] = _peak_rss_mb()
            _pass2(
                part_path if part_rows else None, out, keep_cols, top, stack, model, policy, claims, result
            )
    finally:
        bar.close()
    result.rows = result.scored + result.rejected
    result.drift, result.drift_warning = drift_check(model, reservoir.rows)
    result.memory["peak_rss_mb"] = _peak_rss_mb()
    result.seconds = time.perf_counter() - t0
    return result


def _pass1(table, model, result, part_path, out, keep_cols, policy, sinks) -> int:
    """Validate, score and explain each chunk; its rows in input order into a temporary Parquet file
    (`sinks`: the rejects writer, the drift reservoir, the claim collector, the progress bar).
    Returns the rows written."""
    rejects_writer, reservoir, claims, bar = sinks
    with TableWriter(part_path, compression="none", shown_as=out) as part:
        for chunk in table.chunks():
            _score_chunk(chunk, model, result, rejects_writer, part, reservoir, keep_cols, policy, claims)
            _chunk_done(bar, len(chunk.clean) + len(chunk.rejects))
    return part.rows


def _pass2(part_path, out, keep_cols, top, stack, model, policy, claims: ClaimCollector, result) -> None:
    """File-wide ranks, the ranked output (explained lines' texts to `claims`), then the claim worklist."""
    release_freed_memory()
    ranks = _file_ranks(part_path) if part_path is not None else np.empty(0, np.int32)
    claims.index()
    release_freed_memory()
    result.top = _write_ranked(part_path, out, ranks, keep_cols, top, stack, model, policy, claims.add_texts)
    del ranks
    release_freed_memory()
    t_claims = time.perf_counter()
    result.claims = claims.write(schema.claims_path_for(str(out)), model, top=top)
    result.claim_seconds = time.perf_counter() - t_claims


def open_checked(data: str | os.PathLike, out, **reader_options) -> tuple[ClaimTable, Path]:
    """The input as a claim table, and the rejects path; a user's mistake stops here, before any work."""
    out = Path(out)
    file_format(out, option="--out")
    check_output(out)
    table = ClaimTable(data, **reader_options)  # UserError: missing file, unreadable header, missing column
    rejects_path = Path(schema.rejects_path_for(str(out)))
    check_output(rejects_path, option="--out (its rejects file)")  # a longer name than --out: it must fit too
    if out.resolve() == Path(data).resolve() or rejects_path.resolve() == Path(data).resolve():
        raise UserError(f"--out {out}: would overwrite the input file")
    if out.exists() and out.is_dir():
        raise UserError(f"--out {out}: is a folder")
    return table, rejects_path


def _check_model_columns(model, columns: list[str], data) -> None:
    """A model fitted with extra feature columns (`--config [features]`) needs them in the backlog."""
    info = getattr(model, "info", None) or {}
    extra = [c for k in ("extra_boolean", "extra_numeric", "extra_categorical") for c in info.get(k, ())]
    missing = [c for c in extra if c not in set(columns)]
    if missing:
        raise UserError(
            f"--data {data}: missing column '{missing[0]}', a feature of this model (its --config [features])"
        )


def _chunk_done(bar, lines: int) -> None:
    """Progress, and the chunk's memory handed back before the next one."""
    bar.update(lines)
    release_freed_memory()
    gc.freeze()  # what outlived this chunk (lazily loaded code sets) is not scanned again
    if bar.total is not None and bar.n > bar.total:
        bar.total = bar.n


def _score_chunk(
    chunk,
    model,
    result: WorklistResult,
    rejects_writer: TableWriter,
    part: TableWriter,
    reservoir: _Reservoir,
    keep_cols: list[str],
    policy: ExplainPolicy,
    claims: ClaimCollector,
) -> None:
    """Pass 1 for one chunk: rejects to their file; scored rows (original values + added columns) to the part
    file; the claim keys to `claims`."""
    if len(chunk.rejects):
        rejects_writer.write(chunk.rejects)
        result.rejected += len(chunk.rejects)
        result.reject_counts.add_rejects(chunk.rejects)
        claims.add_rejects(chunk.rejects)
    if not len(chunk.clean):
        return
    added, X = scored_columns(model, chunk.clean, policy)
    claims.add_lines(chunk.clean, added, chunk.raw.loc[chunk.clean.index])
    reservoir.add(X)
    del X
    raw = chunk.raw.loc[chunk.clean.index, keep_cols]
    part.write(pd.concat([raw.reset_index(drop=True), added.reset_index(drop=True)], axis=1))
    loss = added["expected_loss"].to_numpy()
    tiers = added["risk_tier"].to_numpy(dtype=object)
    for t in schema.RISK_TIERS:
        hit = tiers == t
        result.lines_by_tier[t] += int(hit.sum())
        result.at_risk_by_tier[t] += float(loss[hit].sum())
    result.billed += float(np.nansum(chunk.clean["billed_amount"].to_numpy(dtype=float)))
    result.scored += len(chunk.clean)


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _file_ranks(part_path: Path) -> np.ndarray:
    """File-wide ranks (as `scoring.rank_by_expected_loss`) from the scored part file.

    Pass 1 keeps nothing per line in memory; the two sort keys are read back
    here (a column read, ~1 s per million lines), negated in place for the
    descending sort, and the ranks kept as int32 when they fit: ~28 bytes a
    line at the peak.
    """

    def negated(column: str) -> np.ndarray:  # one column at a time: never two copies of both
        return np.negative(pq.read_table(part_path, columns=[column], use_threads=False).column(0).to_numpy())

    el = negated("expected_loss")
    pr = negated("denial_probability")
    order = np.lexsort((pr, el))  # ascending negated = descending loss, ties by descending probability
    del el, pr
    n = len(order)
    ranks = np.empty(n, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    ranks[order] = np.arange(1, n + 1, dtype=ranks.dtype)
    return ranks


def _write_ranked(
    part_path: Path | None,
    out: Path,
    ranks: np.ndarray,
    keep_cols: list[str],
    top: int,
    stack: contextlib.ExitStack,
    model=None,
    policy: ExplainPolicy | None = None,
    on_batch=None,
) -> pd.DataFrame | None:
    """Copy the pass-1 file into `out` (atomically), inserting `risk_rank` and explaining the lines the
    policy chooses by rank; return the first `top` lines."""
    rank_at = len(keep_cols) + 2  # after denial_probability, expected_loss
    tops = []
    if part_path is None:  # nothing scorable: still a valid, empty output with every column
        empty = pd.DataFrame({c: pd.Series([], dtype="string") for c in keep_cols})
        for c in ADDED:
            empty[c] = pd.Series(
                [],
                dtype="float64"
                if c in ("denial_probability", "expected_loss")
                else "int64"
                if c == "risk_rank"
                else "string",
            )
        writer = stack.enter_context(TableWriter(out, option="--out"))
        writer.write(empty)
        return empty if top else None
    writer = stack.enter_context(TableWriter(out, option="--out"))
    digits = CSV_DECIMALS if file_format(out, option="--out") == "csv" else {}
    pf = pq.ParquetFile(part_path, pre_buffer=False)  # one column chunk at a time, not the whole row group
    offset = 0
    for batch in pf.iter_batches(batch_size=PASS2_BATCH_ROWS, use_threads=False):
        n = batch.num_rows
        r = ranks[offset : offset + n]
        if policy is not None:
            batch = explain_ranked(
                model, pa.Table.from_batches([batch]), policy.by_rank(r), keep_cols, policy
            )
        cols = list(batch.columns)
        names = list(batch.schema.names)
        cols.insert(rank_at, pa.array(r.astype(np.int64, copy=False), type=pa.int64()))
        names.insert(rank_at, "risk_rank")
        tbl = pa.Table.from_arrays(cols, names=names)
        writer.write_arrow(_rounded(tbl, digits))
        if on_batch is not None:
            on_batch(offset, tbl)
        if top:
            hit = np.flatnonzero(r <= top)
            if len(hit):
                tops.append(tbl.take(pa.array(hit)).to_pandas())
        offset += n
    if not top:
        return None
    if not tops:
        return pd.DataFrame(columns=list(TOP_COLUMNS))
    return pd.concat(tops, ignore_index=True).sort_values("risk_rank", kind="stable").reset_index(drop=True)


def _rounded(tbl: pa.Table, digits: dict[str, int]) -> pa.Table:
    for name, places in digits.items():
        i = tbl.schema.get_field_index(name)
        tbl = tbl.set_column(i, name, pc.round(tbl.column(i), places))
    return tbl
