"""Every row Spark reads checked by the local engine's own normaliser, so both engines reject alike.

`contract.normalize.normalize_chunk` runs per batch through `mapInPandas`; duplicates of
(claim_id, line_number) are the one rule that needs the whole data set, so they are found in
Spark (a window over the normalised key, the earliest row in input order wins) and the reason is
appended exactly as the normaliser words it. Scoring and training read its output alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.jobs.spark_read import EXTRA_PREFIX, N_EXTRA_FIELDS, POS

REASON, KEY, BILLED = "_dr_reason", "_dr_key", "_dr_billed"
DAY, DENIED = "_dr_day", "_dr_denied"  # the normalised service date (ISO) and label, for training
DUPLICATE_REASON = "claim_id+line_number: duplicate of an earlier row"


class _KeyRecorder:
    """Stands in for `contract.duplicates.DuplicateTracker`: records each row's normalised
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
