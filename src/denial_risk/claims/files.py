"""Output files: the format from the extension, atomic writes, chunked table writing.

Outputs are written to a temporary file beside the target and renamed at the
end: an interrupted run leaves no half file, and never a stale one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from denial_risk.errors import UserError

SUPPORTED = (".csv", ".parquet")


def file_format(path: str | os.PathLike, *, option: str = "--data") -> str:
    """'csv' or 'parquet' from the extension; anything else is the user's mistake."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED:
        raise UserError(
            f"{option} {path}: unsupported file type '{suffix or '(none)'}' (use .csv or .parquet)"
        )
    return suffix[1:]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside `target`; rename it over `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class TableWriter:
    """Appends chunks (pandas or pyarrow) to one CSV or Parquet file, atomically on close.

    The first chunk fixes the schema; later chunks are cast to it, so a column
    that happens to be all-missing in one chunk does not break the file. Every
    table the product writes goes through here.
    """

    def __init__(self, target: str | os.PathLike, *, option: str = "--out", compression: str | None = None):
        self.target = Path(target)
        self.format = file_format(target, option=option)
        self.compression = compression  # Parquet only; None is pyarrow's default
        self._ctx = atomic_path(self.target)
        self._tmp: Path | None = None
        self._writer = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        self.write_arrow(pa.Table.from_pandas(df, preserve_index=False))

    def write_arrow(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = _nullable(table.schema)
            if self.format == "parquet":
                options = {"compression": self.compression} if self.compression else {}
                self._writer = pq.ParquetWriter(self._tmp, self._schema, **options)
            else:
                self._writer = pacsv.CSVWriter(self._tmp, self._schema)
        table = _cast(table, self._schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def write_empty(self, columns: list[str]) -> None:
        """An empty result still gets a header row / schema."""
        if self._schema is None:
            self.write(pd.DataFrame({c: pd.Series([], dtype="string") for c in columns}))

    def ensure_schema(self, frame: pd.DataFrame) -> None:
        """Make sure an output with no rows is still written with its columns."""
        if self._schema is None:
            self.write(frame.iloc[:0])

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._writer is not None:
            self._writer.close()
        self._ctx.__exit__(exc_type, exc, tb)
        return False


def _nullable(schema: pa.Schema) -> pa.Schema:
    fields = []
    for f in schema:
        t = f.type
        if pa.types.is_null(t):
            t = pa.string()
        fields.append(pa.field(f.name, t, nullable=True))
    return pa.schema(fields)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema.equals(schema, check_metadata=False):
        return table
    unknown = [n for n in table.column_names if schema.get_field_index(n) < 0]
    if unknown:
        raise ValueError(f"columns {unknown} are not in the file's first chunk; they would be lost")
    arrays = []
    for f in schema:
        if table.schema.get_field_index(f.name) < 0:  # a column this chunk does not have
            arrays.append(pa.nulls(len(table), f.type))
            continue
        col = table.column(f.name)
        if not col.type.equals(f.type):
            col = (
                col.cast(f.type, safe=False) if not pa.types.is_null(col.type) else pa.nulls(len(col), f.type)
            )
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def write_table(df: pd.DataFrame, target: str | os.PathLike, *, option: str = "--out") -> Path:
    """Write one frame as CSV or Parquet (by extension), atomically."""
    with TableWriter(target, option=option) as w:
        w.write(df)
    return Path(target)


def write_text(text: str, target: str | os.PathLike) -> Path:
    """Write a text file (UTF-8) atomically: the whole file appears at once, or nothing does."""
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8", newline="\n")
    return Path(target)
