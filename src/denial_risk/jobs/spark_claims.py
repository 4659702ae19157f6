"""The claim worklist for `score --engine spark`: the local engine's claim step over Spark's worklist.

Spark writes the line worklist (`jobs.spark.score_spark`: input order, the contract's added
columns, rejects beside it). The claim table is then built from that file with the local
engine's own code (`scoring.claims.ClaimCollector`): the file read back through the claim
reader (`claims.table.ClaimTable`, so claim ids, line numbers and dates are normalised as
the local engine normalises them), the keys in pass 1, the explained lines' texts in pass 2,
the rejects file for the claims with rejected lines. So both engines write the same claim
table from the same lines: same claims, ranks, tiers and texts; sums to the float rounding
of the lines' probabilities (Spark's equal the local engine's to 1e-6).

The claim worklist is a local file: for a remote `--out` (`s3a://`, `hdfs://`), Spark's
folder of part files, it is not written (a warning says so).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from denial_risk.claims.table import ClaimTable
from denial_risk.contract import schema
from denial_risk.scoring.claims import ClaimCollector, ClaimSummary
from denial_risk.tableio.files import remove_stale, work_dir

log = logging.getLogger(__name__)
BATCH_ROWS = 65_536
SCORES = ("denial_probability", "expected_loss", "risk_tier")


def claims_from_worklist(out: str | Path, model, *, top: int = 0) -> ClaimSummary:
    """The claim worklist beside a line worklist (Parquet, as the Spark engine writes it) and its rejects."""
    out = Path(out)
    target = Path(schema.claims_path_for(str(out)))
    rejects = Path(schema.rejects_path_for(str(out)))
    remove_stale(target)
    lines = pq.ParquetFile(out).metadata.num_rows
    with work_dir(target) as tmp, ClaimCollector(tmp, lines) as collector:
        if rejects.is_file():
            for batch in pq.ParquetFile(rejects).iter_batches(batch_size=BATCH_ROWS):
                collector.add_rejects(batch.to_pandas())
        for chunk in ClaimTable(out).chunks():
            if len(chunk.clean):
                raw = chunk.raw.loc[chunk.clean.index]
                collector.add_lines(chunk.clean, raw[list(SCORES)], raw)
        collector.index()
        offset = 0
        for batch in pq.ParquetFile(out).iter_batches(
            batch_size=BATCH_ROWS, columns=["top_reasons", "recommended_actions"]
        ):
            collector.add_texts(offset, pa.Table.from_batches([batch]))
            offset += batch.num_rows
        return collector.write(target, model, top=top)


def score_spark_with_claims(
    data_uri: str, out_uri: str, model_uri: str, *, model_sha256=None, **options
) -> dict:
    """`score --engine spark`: Spark's worklist, then its claim worklist (a local `--out` only)."""
    from denial_risk.jobs.spark import score_spark
    from denial_risk.jobs.spark_read import is_local, local_path

    result = score_spark(data_uri, out_uri, model_uri, model_sha256=model_sha256, **options)
    if not is_local(out_uri):
        log.warning(f"--out {out_uri}: remote; the claim worklist is written only beside a local --out")
        return result
    from denial_risk.registry.tracking import load_model

    summary = claims_from_worklist(local_path(out_uri), load_model(model_uri, model_sha256))
    log.info(f"{summary.claims} claims: claim worklist written to {summary.path}")
    result["claims"] = summary
    return result
