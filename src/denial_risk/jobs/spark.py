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
    params: dict | None = None,
):
    """(scorable rows + the model's columns (pyfunc via spark_udf) + expected loss (Spark), whether
    the model took `params`: the explain policy and the as-of day, `scoring.request_params`).

    `partitions`: how many scoring tasks; each model call has a fixed cost of a
    fraction of a second, so tasks should hold tens of thousands of lines.
    """
    from pyspark.sql import functions as F

    from denial_risk.registry import tracking

    predict, took = tracking.spark_udf(spark, model_uri, UDF_RESULT, model_sha256, params)
    scorable = valid.where(F.col(REASON).isNull())
    if partitions:
        scorable = scorable.repartition(int(partitions))
    scored = scorable.withColumn("_dr_out", predict(F.struct(*[valid[c] for c in columns])))
    scored = scored.select(*[scored[c] for c in columns], POS, BILLED, "_dr_out.*")
    return scored.withColumn("expected_loss", F.col("denial_probability") * F.col(BILLED)), took


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
    """A model logged before request params explains every line as of today: its reasons and fixes
    kept on the lines the policy explains, emptied elsewhere (so lines below the tier lose their
    certain findings, and the stage is today's: the model cannot be told otherwise)."""
    from pyspark.sql import functions as F

    from denial_risk.scoring.explain import EXPLAINED

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


def _top_explained(spark, valid, columns: list[str], ranked, explain, model_uri: str, model_sha256):
    """`--explain-top N`'s second pass, as the local engine's (`scoring.explain.explain_ranked`): the
    N lines ranked first scored again with every line explained (same policy and day), their texts
    replacing the first pass's (the rule layer's certain findings and certain rules' fixes)."""
    from pyspark.sql import functions as F

    from denial_risk.registry import tracking
    from denial_risk.scoring.explain import EXPLAINED
    from denial_risk.scoring.request_params import params_of

    params = params_of(explain, "all")
    predict, _ = tracking.spark_udf(spark, model_uri, UDF_RESULT, model_sha256, params)
    top = valid.join(ranked.where(F.col("risk_rank") <= int(explain.top)).select(POS), POS)
    out = top.withColumn("_dr_out", predict(F.struct(*[top[c] for c in columns])))
    again = out.select(POS, *[F.col(f"_dr_out.{n}").alias(f"_dr_top_{n}") for n in EXPLAINED])
    ranked = ranked.join(again, POS, "left")
    for name in EXPLAINED:
        ranked = ranked.withColumn(name, F.coalesce(F.col(f"_dr_top_{name}"), F.col(name)))
    return ranked.drop(*[f"_dr_top_{n}" for n in EXPLAINED])


def _explained(spark, valid, columns, ranked, explain, took: bool, model_uri, model_sha256):
    """The policy's lines explained as the local engine explains them: by the model itself when it
    took the params (`--explain-top` needs its second pass), else by emptying (`_explained_only`)."""
    if not took:
        if explain.mode != "all" or explain.as_of is not None:
            log.warning(
                "the model was logged before request params: --as-of is not applied (the stage is judged "
                "against today) and lines the policy does not explain get no certain findings; "
                "train or register a model with this version to have both"
            )
        return _explained_only(ranked, explain)
    if explain.mode == "top" and explain.top > 0:
        return _top_explained(spark, valid, columns, ranked, explain, model_uri, model_sha256)
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

    `explain` (`scoring.explain.ExplainPolicy`, default: the medium tier and up, as of today) chooses
    the lines explained and the day that decides their stage, as the local engine does: it reaches
    the model's `predict` as params (`scoring.request_params`), so every line keeps its certain
    findings; `--explain-top N` asks for the rule layer first and explains the N lines once ranked.
    Returns {"rows", "scored", "rejected", "out", "rejects", "seconds", "reject_counts",
    "replaced_columns"}.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from denial_risk.scoring.explain import ExplainPolicy
    from denial_risk.scoring.request_params import params_of

    explain = explain or ExplainPolicy()
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
        params = params_of(explain, "rules" if explain.mode == "top" else None)
        scored, took = score_frame(spark, valid, keep, model_uri, tasks, model_sha256, params)
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        ranks, ordered = rank_frame(scored)
        ranked = scored.join(ranks, POS)
        result = _explained(spark, valid, keep, ranked, explain, took, model_uri, model_sha256).orderBy(POS)
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
