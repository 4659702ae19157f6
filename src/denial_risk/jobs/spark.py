"""The worklist on Apache Spark: the same rules, the same model, the same answers.

`score_spark` is `denial-risk score --engine spark`. It reads a claim table

`score_spark` is `denial-risk score --engine spark`. It reads a claim table and validates every
row as the local engine does (`jobs.spark_read`, `jobs.spark_validate`), and then:

1. scores the scorable rows with the registered model through
   `mlflow.pyfunc.spark_udf` — the model's `predict` is `scoring.score_request`,
   the local engine's code, so probabilities, tiers, reasons and fixes are the
   local engine's;
2. computes `expected_loss` (probability x billed amount) and `risk_rank`
   across the whole data set in Spark: a global sort by expected loss desc,
   probability desc, input position asc, numbered through per-partition
   offsets (no single-partition window);
3. writes Parquet in input order (`jobs.spark_write`): the input columns in input order, then the
   contract's seven added columns; rejects (original values + `reject_reason`)
   beside it as `<out>.rejects.parquet`.

Output to a local path is one Parquet file (Spark's part files merged in
order, renamed into place at the end: no partial output); to a remote URI
(`s3a://`, `hdfs://`, ...) it is Spark's folder of part files.
"""

from __future__ import annotations

import logging
import time

from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.jobs.spark_input import check_backlog
from denial_risk.jobs.spark_read import POS, file_format, read_claims
from denial_risk.jobs.spark_session import job_session
from denial_risk.jobs.spark_validate import BILLED, REASON, validate_frame
from denial_risk.jobs.spark_write import write_parquet, write_rejects

log = logging.getLogger(__name__)

UDF_RESULT = (
    "denial_probability double, risk_tier string, top_reasons string, recommended_actions string, "
    "likely_denial_codes string"
)
ROWS_PER_SCORING_TASK = 50_000


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

    if file_format(out_uri, "--out") != "parquet":
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
