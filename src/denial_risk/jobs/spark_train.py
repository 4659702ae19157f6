"""Training past one machine: Spark reads and validates every row, the fit runs on the driver.

`prepare_training` is the distributed half of `denial-risk train --engine spark`: the rows are
validated by the local normaliser in `mapInPandas` (`jobs.spark_validate.validate_frame`, as for
scoring), duplicates are found across the data set, and only the lines the fit will keep
(the time-aware sample of the training period and every later line, chosen on the driver
exactly as the local job chooses them) are written, as one local Parquet file. The fit
reads that file; the whole data set never passes through the driver's memory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.jobs.spark_read import POS, read_claims
from denial_risk.jobs.spark_session import job_session
from denial_risk.jobs.spark_validate import DAY, DENIED, REASON, validate_frame
from denial_risk.jobs.spark_write import write_parquet, write_rejects

log = logging.getLogger(__name__)

SLICE, RANK = "_dr_slice", "_dr_rank"  # a kept line's period (0 train, 1 calibration, 2 holdout), its rank
BROADCAST_MAX = 2_000_000  # kept positions joined as a broadcast table up to this many


def prepare_training(data_uri: str, out_path: str | Path, select, master: str = "local[*]") -> dict:
    """`denial-risk train --engine spark`, its distributed half: the lines the fit will keep, as one
    local Parquet file.

    Every row is validated by the local normaliser (`mapInPandas`) and duplicates are found across
    the data set, as for scoring. Only three small columns of the labelled scorable lines (input
    position, service date, label) come to the driver, where `select(days, denied)` (in input
    order) cuts the periods and draws the time-aware sample exactly as the local job does, and
    returns each line's period and its rank in that period's date order (-1: not kept). The kept
    lines are written in input order with their input values plus `SLICE` and `RANK`; the fit on
    the driver reads only them. Rejects go beside (`<out>.rejects.parquet`).
    Returns {"rows", "labelled", "kept", "rejected", "seconds", "out", "rejects"}.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    start = time.perf_counter()
    out = str(out_path)
    with job_session(master) as spark:
        df, columns, is_csv = read_claims(spark, data_uri)
        valid = validate_frame(df, columns, is_csv).persist(StorageLevel.MEMORY_AND_DISK)
        labelled = valid.where(F.col(REASON).isNull() & F.col(DENIED).isNotNull())
        small = labelled.select(POS, DAY, DENIED).orderBy(POS).toPandas()
        if small.empty:
            raise UserError(f"--data {data_uri}: no labels (column 'denied' is missing or empty)")
        days = pd.to_datetime(small[DAY]).to_numpy(dtype="datetime64[D]")
        period, rank = select(days, small[DENIED].to_numpy(dtype=bool))
        take = rank >= 0
        kept = pd.DataFrame(
            {
                POS: small[POS].to_numpy(dtype=np.int64)[take],
                SLICE: period[take].astype(np.int64),
                RANK: rank[take].astype(np.int64),
            }
        )
        del small
        kept_df = spark.createDataFrame(
            kept,
            T.StructType([T.StructField(c, T.LongType(), False) for c in (POS, SLICE, RANK)]),
        )
        chosen = labelled.join(F.broadcast(kept_df) if len(kept) <= BROADCAST_MAX else kept_df, POS)
        chosen = chosen.orderBy(POS).select(*[F.col(f"`{c}`") for c in columns], SLICE, RANK)
        n_rows = valid.count()
        n_rejected = valid.where(F.col(REASON).isNotNull()).count()
        write_parquet(chosen, out)
        rejects_uri = write_rejects(valid, columns, is_csv, out)
        valid.unpersist()
    seconds = time.perf_counter() - start
    log.info(
        f"{n_rows} rows read on Spark ({master}): {int(take.sum())} of {len(take)} labelled lines kept "
        f"for the fit, {n_rejected} rejected ({seconds:.1f}s)"
    )
    return {
        "rows": n_rows,
        "labelled": len(take),
        "kept": int(take.sum()),
        "rejected": n_rejected,
        "seconds": seconds,
        "out": out,
        "rejects": rejects_uri,
    }
