"""Reading claim files in chunks and writing outputs atomically.

A 10M-line backlog never loads whole: CSV streams through pyarrow's reader in
blocks, Parquet through row-group batches. CSV cells come back exactly as
written (strings), so the output can pass input columns through untouched.
Outputs are written to a temporary file beside the target and renamed at the
end: an interrupted run leaves no half file.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from denial_risk.errors import UserError

SUPPORTED = (".csv", ".parquet")
DEFAULT_BLOCK_BYTES = 32 << 20  # ~150-300k claim lines per CSV block
DEFAULT_BATCH_ROWS = 250_000


def file_format(path: str | os.PathLike, *, option: str = "--data") -> str:
    """'csv' or 'parquet' from the extension; anything else is the user's mistake."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED:
        raise UserError(f"{option} {path}: unsupported file type '{suffix or '(none)'}' (use .csv or .parquet)")
    return suffix[1:]


def canonical_name(name: str) -> str:
    """Header names are matched to the contract case- and space-insensitively."""
    return name.strip().lstrip("\ufeff").strip().lower()


@dataclass
class MalformedRows:
    """CSV rows whose field count does not match the header (kept, not dropped)."""

    rows: list[tuple[str, int, int]] = field(default_factory=list)

    def __call__(self, row) -> str:  # pyarrow invalid_row_handler
        self.rows.append((row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def drain(self) -> list[tuple[str, int, int]]:
        out, self.rows = self.rows, []
        return out


class ClaimReader:
    """Iterates a claim file as pandas chunks of raw values, in file order.

    `columns` are the file's header names (canonicalised); `malformed` collects
    CSV rows that could not be split into the header's fields, so callers can
    reject them instead of losing them.
    """

    def __init__(self, path: str | os.PathLike, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
                 batch_rows: int = DEFAULT_BATCH_ROWS, option: str = "--data",
                 columns: list[str] | None = None):
        self.path = Path(path)
        self.option = option
        self.format = file_format(path, option=option)
        if not self.path.is_file():
            raise UserError(f"{option} {path}: file not found")
        self.block_bytes = block_bytes
        self.batch_rows = batch_rows
        self.malformed = MalformedRows()
        self._wanted = columns
        self.columns, self._source_names = self._read_header()

    def _read_header(self) -> tuple[list[str], list[str]]:
        try:
            if self.format == "parquet":
                names = pq.ParquetFile(self.path).schema_arrow.names
            else:
                with open(self.path, newline="", encoding="utf-8-sig") as f:
                    names = next(csv.reader(f), None)
                if not names:
                    raise UserError(f"{self.option} {self.path}: empty file (no header row)")
        except UserError:
            raise
        except (UnicodeDecodeError, pa.ArrowException, OSError, csv.Error) as exc:
            raise UserError(f"{self.option} {self.path}: cannot be read ({_one_line(exc)})") from None
        canonical = [canonical_name(n) for n in names]
        seen: set[str] = set()
        dupes = [n for n in canonical if n in seen or seen.add(n)]
        if dupes:
            raise UserError(f"{self.option} {self.path}: column '{dupes[0]}' appears more than once in the header")
        return canonical, list(names)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        try:
            yield from (self._iter_parquet() if self.format == "parquet" else self._iter_csv())
        except pa.ArrowInvalid as exc:
            raise UserError(f"{self.option} {self.path}: cannot be read ({_one_line(exc)})") from None

    def _selected(self) -> list[str]:
        if self._wanted is None:
            return self._source_names
        wanted = set(self._wanted)
        return [s for s, c in zip(self._source_names, self.columns) if c in wanted]

    def _iter_csv(self) -> Iterator[pd.DataFrame]:
        types = {name: pa.string() for name in self._source_names}
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(block_size=self.block_bytes, use_threads=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=self.malformed, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                include_columns=self._selected(),
            ),
        )
        for batch in reader:
            yield self._to_pandas(batch)

    def _iter_parquet(self) -> Iterator[pd.DataFrame]:
        pf = pq.ParquetFile(self.path)
        for batch in pf.iter_batches(batch_size=self.batch_rows, columns=self._selected()):
            yield self._to_pandas(batch)

    def _to_pandas(self, batch: pa.RecordBatch) -> pd.DataFrame:
        df = batch.to_pandas()
        df.columns = [canonical_name(c) for c in df.columns]
        return df


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside `target`; rename it over `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class TableWriter:
    """Appends pandas chunks to one CSV or Parquet file, atomically on close.

    The first chunk fixes the schema; later chunks are cast to it, so a column
    that happens to be all-missing in one chunk does not break the file.
    """

    def __init__(self, target: str | os.PathLike, *, option: str = "--out"):
        self.target = Path(target)
        self.format = file_format(target, option=option)
        self._ctx = atomic_path(self.target)
        self._tmp: Path | None = None
        self._writer = None
        self._schema: pa.Schema | None = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        if self._schema is None:
            self._schema = _nullable(table.schema)
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self._tmp, self._schema)
            else:
                self._writer = pacsv.CSVWriter(self._tmp, self._schema)
        table = _cast(table, self._schema)
        self._writer.write_table(table)
        self.rows += len(df)

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
    arrays = []
    for f in schema:
        col = table.column(f.name)
        if not col.type.equals(f.type):
            col = col.cast(f.type, safe=False) if not pa.types.is_null(col.type) else pa.nulls(len(col), f.type)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=schema)


def write_table(df: pd.DataFrame, target: str | os.PathLike, *, option: str = "--out") -> Path:
    """Write one frame as CSV or Parquet (by extension), atomically."""
    with TableWriter(target, option=option) as w:
        w.write(df)
    return Path(target)


def read_table(path: str | os.PathLike, *, option: str = "--data", columns: list[str] | None = None) -> pd.DataFrame:
    """Read a whole (small or medium) table; large files should use ClaimReader."""
    reader = ClaimReader(path, option=option, columns=columns)
    chunks = list(reader)
    if not chunks:
        return pd.DataFrame({c: pd.Series([], dtype="string") for c in reader.columns})
    return pd.concat(chunks, ignore_index=True)
