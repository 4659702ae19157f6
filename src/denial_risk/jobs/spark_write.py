"""What the Spark engine writes: one Parquet file at a local path, Spark's folder at a remote URI,
the rejects beside the worklist as the local engine writes them.

Apart from scoring because training (`jobs.spark_train`) writes its kept lines and rejects the same
way, and a local output must never be left half-written: Spark's part files are merged in order
and renamed into place at the end.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.jobs.spark_read import POS, is_local, local_path
from denial_risk.jobs.spark_validate import REASON

RAW_LINE = "raw_line"


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
    if not is_local(uri):
        df.write.mode("overwrite").parquet(uri)
        return
    target = local_path(uri)
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
