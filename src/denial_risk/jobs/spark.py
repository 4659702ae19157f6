"""The worklist on Apache Spark: the same rules, the same model, the same answers.

`score_spark` is `denial-risk score --engine spark`. It reads a claim table
(CSV with every column as a string, as the local reader does, or Parquet),
and then:

1. validates every row with the local engine's own `normalize.normalize_chunk`
   (through `mapInPandas`); duplicates of (claim_id, line_number) are the one
   rule that needs the whole data set, so they are found in Spark (a window
   over the normalised key, the earliest row in input order wins) and the
   reason is appended exactly as the normaliser words it;
2. scores the scorable rows with the registered model through
   `mlflow.pyfunc.spark_udf` — the model's `predict` is `scoring.score_request`,
   the local engine's code, so probabilities, tiers, reasons and fixes are the
   local engine's;
3. computes `expected_loss` (probability x billed amount) and `risk_rank`
   across the whole data set in Spark: a global sort by expected loss desc,
   probability desc, input position asc, numbered through per-partition
   offsets (no single-partition window);
4. writes Parquet in input order: the input columns in input order, then the
   contract's seven added columns; rejects (original values + `reject_reason`)
   beside it as `<out>.rejects.parquet`.

Output to a local path is one Parquet file (Spark's part files merged in
order, renamed into place at the end: no partial output); to a remote URI
(`s3a://`, `hdfs://`, ...) it is Spark's folder of part files.

Known differences from the local reader, both about broken CSV rows: a row
with *more* fields than the header is rejected (as locally) but keeps its
parsed values instead of a `raw_line`; a row with *fewer* fields is read with
the missing trailing fields empty (Spark's CSV reader cannot tell them apart
from empty fields), so it is rejected only if a required field is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.errors import UserError
from denial_risk.jobs.spark_input import check_backlog

log = logging.getLogger(__name__)

RAW_LINE = "raw_line"

# PySpark 4.x warns on import that pandas >= 3 is "not fully supported". This
# engine uses only mapInPandas and MLflow's pandas UDF on plain string / float /
# int64 columns; tests/model/test_spark_engine.py checks those against the local
# engine on pandas 3, so the warning is silenced, for that message only.
PANDAS3_WARNING = "PySpark does not yet fully support pandas >= 3.0.0"

POS, REASON, KEY, BILLED = "_dr_pos", "_dr_reason", "_dr_key", "_dr_billed"
DAY, DENIED = "_dr_day", "_dr_denied"  # the normalised service date (ISO) and label, for training
EXTRA_PREFIX = "_dr_extra_field_"
N_EXTRA_FIELDS = 4  # fields beyond the header that are counted (more are "at least")
DUPLICATE_REASON = "claim_id+line_number: duplicate of an earlier row"
UDF_RESULT = (
    "denial_probability double, risk_tier string, top_reasons string, recommended_actions string, "
    "likely_denial_codes string"
)
_NULL_SENTINEL = "\u0000denial-risk-null\u0000"  # Spark's CSV nullValue: never matches a real cell


def _silence_pandas3_warning() -> None:
    warnings.filterwarnings("ignore", message=PANDAS3_WARNING, category=FutureWarning)
    # Python workers (local mode inherits the driver's environment)
    flt = f"ignore:{PANDAS3_WARNING}:FutureWarning"
    current = os.environ.get("PYTHONWARNINGS", "")
    if flt not in current:
        os.environ["PYTHONWARNINGS"] = f"{current},{flt}" if current else flt


def spark_session(master: str = "local[*]", app_name: str = "denial-risk"):
    """A SparkSession whose Python workers run this venv's interpreter.

    PYSPARK_PYTHON (and `spark.pyspark.python`) default to `sys.executable`; on a
    cluster set PYSPARK_PYTHON to the venv's python as the workers see it.
    """
    _silence_pandas3_warning()
    python = os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.pyspark.python", python)
        .config("spark.executorEnv.PYTHONWARNINGS", os.environ["PYTHONWARNINGS"])
        .config("spark.executorEnv.MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if master.startswith("local"):
        # 200 shuffle partitions (the default) means 200 tiny model calls on one machine
        spark = spark.config("spark.sql.shuffle.partitions", str(_local_cores(master) * 2))
    spark = spark.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextlib.contextmanager
def job_session(master: str):
    """The job's SparkSession: one already running is used and left running; one started here is stopped."""
    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None
    spark = spark_session(master)
    try:
        yield spark
    finally:
        if owned:
            with contextlib.suppress(Exception):
                spark.stop()


def _local_cores(master: str) -> int:
    inside = master[len("local") :].strip("[]").split(",")[0]
    if inside in ("", "*"):
        return os.cpu_count() or 2
    return max(int(inside), 1) if inside.isdigit() else 2


ROWS_PER_SCORING_TASK = 50_000


# --- reading --------------------------------------------------------------------------------


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def _format(uri: str, option: str) -> str:
    suffix = Path(uri.rstrip("/")).suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UserError(
            f"{option} {uri}: unsupported file type '{suffix or '(none)'}' (use .csv or .parquet)"
        )
    return suffix[1:]


def _canonical_columns(source: list[str], uri: str, option: str) -> list[str]:
    from denial_risk.claims.reader import canonical_name
    from denial_risk.contract.normalize import check_required_columns

    names = [canonical_name(n.replace("\ufeff", "")) for n in source]
    seen: set[str] = set()
    dupes = [n for n in names if n in seen or seen.add(n)]
    if dupes:
        raise UserError(f"{option} {uri}: column '{dupes[0]}' appears more than once in the header")
    check_required_columns(names, uri, option)
    return names


def read_claims(spark, uri: str, *, option: str = "--data"):
    """(DataFrame with canonical column names + input position, its input columns, is_csv).

    CSV: every column a string, empty cells as "" (as the local reader), quoted
    newlines allowed; `N_EXTRA_FIELDS` spare columns catch rows with too many fields.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fmt = _format(uri, option)
    if _is_local(uri) and not _local_path(uri).exists():
        raise UserError(f"{option} {uri}: file not found")
    try:
        if fmt == "csv":
            reader = spark.read.options(header=True, multiLine=True, escape='"', encoding="UTF-8")
            source = reader.csv(uri).columns
            if not source:
                raise UserError(f"{option} {uri}: empty file (no header row)")
            columns = _canonical_columns(source, uri, option)
            extra = [f"{EXTRA_PREFIX}{i}" for i in range(N_EXTRA_FIELDS)]
            fields = [T.StructField(c, T.StringType()) for c in (*columns, *extra)]
            df = (
                reader.options(nullValue=_NULL_SENTINEL, enforceSchema=True, mode="PERMISSIVE")
                .schema(T.StructType(fields))
                .csv(uri)
            )
        else:
            df = spark.read.parquet(uri)
            columns = _canonical_columns(df.columns, uri, option)
            df = df.toDF(*columns)
    except AnalysisException as exc:
        msg = " ".join(str(exc).split())[:200]
        raise UserError(f"{option} {uri}: cannot be read ({msg})") from None
    # input order: a file's partitions are read in offset order, so the id grows with the row
    return df.withColumn(POS, F.monotonically_increasing_id()), columns, fmt == "csv"


# --- validation (the local normaliser, per batch) -------------------------------------------


class _KeyRecorder:
    """Stands in for `normalize.DuplicateTracker`: records each row's normalised
    (claim_id, line_number) key and marks none — duplicates are found across the
    whole data set in Spark instead of per batch."""

    def __init__(self) -> None:
        self.keys: pd.Series | None = None

    def mark(self, claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
        self.keys = claim_id.astype(str) + "\x1f" + line_number.astype("Int64").astype(str)
        return np.zeros(len(claim_id), dtype=bool)


def _validator(columns: list[str], is_csv: bool):
    """The mapInPandas function: input columns (CSV missing → "") + reason, key, billed."""
    extra = [f"{EXTRA_PREFIX}{i}" for i in range(N_EXTRA_FIELDS)] if is_csv else []

    def validate(batches):
        from denial_risk.contract.normalize import REJECT_REASON, normalize_chunk

        for pdf in batches:
            pdf = pdf.reset_index(drop=True)
            n = len(pdf)
            reason = pd.Series([None] * n, dtype=object)
            key = pd.Series([None] * n, dtype=object)
            billed = pd.Series(np.nan, index=pdf.index, dtype="float64")
            day = pd.Series([None] * n, dtype=object)
            denied = pd.Series([None] * n, dtype=object)
            ok = np.ones(n, dtype=bool)
            if is_csv:
                for c in columns:
                    pdf[c] = pdf[c].astype(object).where(pdf[c].notna(), "")
                filled = pdf[extra].notna().sum(axis=1).to_numpy()
                if filled.any():
                    width = len(columns)
                    for i in np.flatnonzero(filled):
                        k = int(filled[i])
                        got = f"at least {width + k}" if k == N_EXTRA_FIELDS else str(width + k)
                        reason.iat[i] = f"row: has {got} fields, the header has {width}"
                    ok = filled == 0
            raw = pdf.loc[ok, columns].reset_index(drop=True)
            rows = np.flatnonzero(ok)
            if len(raw):
                recorder = _KeyRecorder()
                clean, rejects = normalize_chunk(raw, duplicates=recorder)
                if recorder.keys is not None:
                    key.iloc[rows[recorder.keys.index.to_numpy()]] = recorder.keys.to_numpy()
                if len(rejects):
                    reason.iloc[rows[rejects.index.to_numpy()]] = (
                        rejects[REJECT_REASON].astype(object).to_numpy()
                    )
                at = rows[clean.index.to_numpy()]
                billed.iloc[at] = clean["billed_amount"].to_numpy(dtype=float)
                day.iloc[at] = clean["service_date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
                if "denied" in clean:
                    denied.iloc[at] = clean["denied"].astype(object).where(clean["denied"].notna(), None)
            out = pdf[[*columns, POS]].copy()
            out[REASON] = reason.to_numpy()
            out[KEY] = key.to_numpy()
            out[BILLED] = billed.to_numpy()
            out[DAY] = day.to_numpy()
            out[DENIED] = denied.to_numpy()
            yield out

    return validate


def validate_frame(df, columns: list[str], is_csv: bool):
    """Input columns + position + `REASON` (null when scorable) + `BILLED`, `DAY`, `DENIED` (normalised
    amount, service date and label of a scorable row)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    in_schema = df.schema
    fields = [in_schema[c] for c in columns] + [
        T.StructField(POS, T.LongType()),
        T.StructField(REASON, T.StringType()),
        T.StructField(KEY, T.StringType()),
        T.StructField(BILLED, T.DoubleType()),
        T.StructField(DAY, T.StringType()),
        T.StructField(DENIED, T.BooleanType()),
    ]
    checked = df.mapInPandas(_validator(columns, is_csv), T.StructType(fields))
    first = F.row_number().over(Window.partitionBy(KEY).orderBy(POS))
    dup = F.col(KEY).isNotNull() & (first > 1)
    reason = (
        F.when(dup & F.col(REASON).isNull(), F.lit(DUPLICATE_REASON))
        .when(dup, F.concat(F.col(REASON), F.lit("; " + DUPLICATE_REASON)))
        .otherwise(F.col(REASON))
    )
    return checked.withColumn(REASON, reason).drop(KEY)


# --- scoring and ranking ----------------------------------------------------------------------


def score_frame(
    spark,
    valid,
    columns: list[str],
    model_uri: str,
    partitions: int | None = None,
    model_sha256: str | None = None,
):
    """Scorable rows + the model's columns (pyfunc via spark_udf) + expected loss (Spark).

    `partitions`: how many scoring tasks; each model call has a fixed cost of a
    fraction of a second, so tasks should hold tens of thousands of lines.
    """
    from pyspark.sql import functions as F

    from denial_risk.registry import tracking

    predict = tracking.spark_udf(spark, model_uri, UDF_RESULT, model_sha256)
    scorable = valid.where(F.col(REASON).isNull())
    if partitions:
        scorable = scorable.repartition(int(partitions))
    scored = scorable.withColumn("_dr_out", predict(F.struct(*[valid[c] for c in columns])))
    scored = scored.select(*[scored[c] for c in columns], POS, BILLED, "_dr_out.*")
    return scored.withColumn("expected_loss", F.col("denial_probability") * F.col(BILLED))


def rank_frame(scored):
    """(position, risk_rank) across the whole data set: 1 = highest expected loss, ties by
    probability, then input position — one global sort, numbered by per-partition offsets."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    ordered = (
        scored.select(POS, "expected_loss", "denial_probability")
        .orderBy(F.desc("expected_loss"), F.desc("denial_probability"), F.asc(POS))
        .withColumn("_dr_pid", F.spark_partition_id())
        .withColumn("_dr_mid", F.monotonically_increasing_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = sorted(
        (r["_dr_pid"], r["n"]) for r in ordered.groupBy("_dr_pid").agg(F.count("*").alias("n")).collect()
    )
    offsets, total = {}, 0
    for pid, n in counts:
        offsets[pid] = total
        total += n
    if offsets:
        offset = F.create_map(*[F.lit(x) for pid, off in offsets.items() for x in (pid, off)])[
            F.col("_dr_pid")
        ]
    else:
        offset = F.lit(0)
    # monotonically_increasing_id = (partition index << 33) + row index within the partition
    within = F.col("_dr_mid") - F.shiftleft(F.col("_dr_pid").cast("long"), 33)
    return ordered.select(POS, (offset.cast("long") + within + 1).alias("risk_rank")), ordered


def _explained_only(ranked, explain):
    """Reasons and fixes kept on the lines the policy explains (the local engine's choice), emptied
    elsewhere: by tier (the medium threshold is the tier's), by rank for `--explain-top`, every line
    for `--explain-all`."""
    from pyspark.sql import functions as F

    from denial_risk.scoring.explain import EXPLAINED, ExplainPolicy

    explain = explain or ExplainPolicy()
    if explain.mode == "all":
        return ranked
    if explain.mode == "top":
        keep = F.col("risk_rank") <= F.lit(int(explain.top))
    elif explain.mode == "threshold" and explain.min_probability is None:
        keep = F.col("risk_tier").isin("medium", "high")
    elif explain.mode == "threshold":
        keep = F.col("denial_probability") >= F.lit(float(explain.min_probability))
    else:
        keep = F.lit(False)
    for name in EXPLAINED:
        ranked = ranked.withColumn(name, F.when(keep, F.col(name)).otherwise(F.lit("")))
    return ranked


# --- writing ----------------------------------------------------------------------------------


def _merge_parts(folder: Path, target: Path) -> None:
    """Spark's part files (in partition order) → one Parquet file, renamed into place at the end."""
    import pyarrow.parquet as pq

    from denial_risk.tableio.files import atomic_path

    parts = sorted(folder.glob("part-*.parquet"))
    schema_ = pq.read_schema(parts[0]) if parts else None
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, schema_) as writer:
        for part in parts:
            pf = pq.ParquetFile(part)
            for i in range(pf.num_row_groups):
                writer.write_table(pf.read_row_group(i).cast(schema_))


def write_parquet(df, uri: str) -> None:
    """One Parquet file at a local path (atomic); Spark's folder at a remote URI."""
    if not _is_local(uri):
        df.write.mode("overwrite").parquet(uri)
        return
    target = _local_path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.spark-{uuid.uuid4().hex[:8]}")
    try:
        df.write.mode("overwrite").parquet(str(staging))
        if target.is_dir():
            shutil.rmtree(target)
        _merge_parts(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_rejects(valid, columns: list[str], is_csv: bool, out_uri: str) -> str:
    """The rejected rows (original values + `reject_reason`, and `raw_line` for CSV input, as the local
    rejects file) in input order beside `out_uri`; returns their URI."""
    from pyspark.sql import functions as F

    raw_line = [F.lit(None).cast("string").alias(RAW_LINE)] if is_csv else []
    rejects = (
        valid.where(F.col(REASON).isNotNull())
        .orderBy(POS)
        .select(*[F.col(f"`{c}`") for c in columns], F.col(REASON).alias(REJECT_REASON), *raw_line)
    )
    uri = schema.rejects_path_for(out_uri)
    write_parquet(rejects, uri)
    return uri


# --- the job --------------------------------------------------------------------------------


def score_spark(
    data_uri: str,
    out_uri: str,
    model_uri: str,
    master: str = "local[*]",
    model_sha256: str | None = None,
    explain=None,
) -> dict:
    """`denial-risk score --engine spark`: the worklist as Parquet, rejects beside it.

    `explain` (`scoring.explain.ExplainPolicy`, default: the medium tier and up) chooses the lines
    whose reasons and fixes are kept, as the local engine does; the model's `predict` explains every
    line (a served request is small), the others are emptied once the ranks are known.
    Returns {"rows", "scored", "rejected", "out", "rejects", "seconds", "reject_counts",
    "replaced_columns"}.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    if _format(out_uri, "--out") != "parquet":
        raise UserError(f"--out {out_uri}: the Spark engine writes Parquet (use a .parquet path)")
    start = time.perf_counter()
    with job_session(master) as spark:
        df, columns, is_csv = read_claims(spark, data_uri)
        valid = validate_frame(df, columns, is_csv).persist(StorageLevel.MEMORY_AND_DISK)
        n_rows = valid.count()
        n_rejected = valid.where(F.col(REASON).isNotNull()).count()
        n_scored = n_rows - n_rejected
        rejected, keep, replaced = check_backlog(valid, columns, REASON, n_rows, n_rejected, data_uri)
        tasks = max(spark.sparkContext.defaultParallelism, -(-n_scored // ROWS_PER_SCORING_TASK))
        scored = score_frame(spark, valid, keep, model_uri, tasks, model_sha256).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        ranks, ordered = rank_frame(scored)
        result = _explained_only(scored.join(ranks, POS), explain).orderBy(POS)
        result = result.select(*[F.col(f"`{c}`") for c in keep], *schema.ADDED)
        write_parquet(result, out_uri)
        rejects_uri = write_rejects(valid, columns, is_csv, out_uri)
        for frame in (ordered, scored, valid):
            frame.unpersist()
    seconds = time.perf_counter() - start
    log.info(
        f"{n_scored + n_rejected} rows: {n_scored} scored, {n_rejected} rejected ({master}, {seconds:.1f}s)"
    )
    log.info(f"worklist written to {out_uri}; rejects to {rejects_uri}")
    return {
        "rows": n_scored + n_rejected,
        "scored": n_scored,
        "rejected": n_rejected,
        "out": out_uri,
        "rejects": rejects_uri,
        "seconds": seconds,
        "reject_counts": rejected,
        "replaced_columns": replaced,
    }
