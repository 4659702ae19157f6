"""A claim table into Spark, as the local reader reads it: canonical column names, input position.

Its own module because reading is where the two engines' files meet: CSV with every column a
string and empty cells as "" (as `claims.reader`), Parquet as it is, the same one-line errors for
a missing file, an unknown type or a header without a required column. Known differences from the
local reader, both about broken CSV rows: a row with *more* fields than the header is rejected
(as locally) but keeps its parsed values instead of a `raw_line`; a row with *fewer* fields is read
with the missing trailing fields empty (Spark's CSV reader cannot tell them apart from empty
fields), so it is rejected only if a required field is missing.
"""

from __future__ import annotations

from pathlib import Path

from denial_risk.errors import UserError

POS = "_dr_pos"  # the row's input position: every later step keeps input order by it
EXTRA_PREFIX = "_dr_extra_field_"
N_EXTRA_FIELDS = 4  # fields beyond the header that are counted (more are "at least")
_NULL_SENTINEL = "\u0000denial-risk-null\u0000"  # Spark's CSV nullValue: never matches a real cell


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def local_path(uri: str) -> Path:
    return Path(uri[len("file://") :] if uri.startswith("file://") else uri)


def file_format(uri: str, option: str) -> str:
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

    fmt = file_format(uri, option)
    if is_local(uri) and not local_path(uri).exists():
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
