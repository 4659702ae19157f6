"""Output files: the format from the extension, atomic writes, chunked table writing.

Outputs are written to a temporary file beside the target and renamed at the
end: an interrupted run leaves no half file, and never a stale one. The
temporary name carries the writer's process id, so a later run can tell a
file left by a killed run (`remove_stale`) from one another run is writing.

CSV outputs are meant to be opened in a spreadsheet: every cell and header cell
that begins like a formula gets a leading `'` (tableio/cells.py). Numeric columns
and Parquet outputs keep their values. List columns (a Parquet `modifiers` as
`list<string>`) are written to CSV as `|`-joined text. An OS error while writing names the output file, not a
temporary one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import signal
import stat
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from denial_risk.errors import UserError, errno_of
from denial_risk.tableio.cells import FORMULA_START as FORMULA_START  # re-exported (tests, callers)
from denial_risk.tableio.cells import csv_ready, defuse_formulas, defuse_name

log = logging.getLogger(__name__)

SUPPORTED = (".csv", ".parquet")
PARTIAL = ".partial"  # suffix of a file being written
WORK = ".work"  # suffix of a run's working folder beside its output


def file_format(path: str | os.PathLike, *, option: str = "--data") -> str:
    """'csv' or 'parquet' from the extension; anything else is the user's mistake."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED:
        raise UserError(
            f"{option} {path}: unsupported file type '{suffix or '(none)'}' (use .csv or .parquet)"
        )
    return suffix[1:]


def check_input(path: str | os.PathLike, option: str = "--data") -> None:
    """An input must be a regular file: a FIFO would block the read for ever, a device never ends.

    One line naming the option and the path otherwise (exit 2).
    """
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{option} {path}: file not found") from None
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISREG(mode):
        return
    kind = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise UserError(f"{option} {path}: is {kind}, not a regular file")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


NAME_MAX = 255  # bytes in one file name on Linux file systems (pathconf says, where it can)
_TEMP_EXTRA = len(".") + len(".") + 10 + len("-") + 8 + max(len(PARTIAL), len(WORK))  # pid, random, suffix


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return NAME_MAX


def temp_stem(target: Path) -> str:
    """The output's name in its temporary names: the name itself, or, when the temporary name would
    not fit where the output's does, its start and a digest of the whole (`<start>~<8 hex>`)."""
    name = target.name
    limit = _name_max(target.parent if target.parent.is_dir() else Path("."))
    raw = os.fsencode(name)
    if len(raw) + _TEMP_EXTRA <= limit:
        return name
    keep = raw[: max(1, limit - _TEMP_EXTRA - 9)].decode("utf-8", "ignore") or "out"
    return f"{keep}~{hashlib.sha256(raw).hexdigest()[:8]}"


def temp_prefix(target: Path) -> str:
    """The start of every temporary name beside `target` of this process: `.<stem>.<pid>-`."""
    return f".{temp_stem(target)}.{os.getpid()}-"


def check_name_fits(path: str | os.PathLike, option: str) -> None:
    """A file name longer than its file system holds is refused before the work, not after it."""
    target = Path(path)
    folder = Path(os.path.abspath(target)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    limit = _name_max(folder)
    for part in Path(os.path.abspath(target)).parts:
        if len(os.fsencode(part)) > limit:
            raise UserError(
                f"{option} {path}: a name of {len(os.fsencode(part))} bytes is longer than the "
                f"{limit} its file system allows"
            )


def check_output(path: str | os.PathLike, *, option: str = "--out", folder: bool = False) -> None:
    """Before any work: the output's folder exists or can be made, and can be written in.

    One line naming the option and the path otherwise (exit 2). A condition only
    the write itself finds (root on a folder it may not write, a full disk) is
    named by the error the write raises (`named_os_error`, `errors.os_error_exit`).
    """
    target = Path(path)
    check_name_fits(target, option)
    if not folder and target.is_dir():
        raise UserError(f"{option} {path}: is a folder")
    if folder and target.exists() and not target.is_dir():
        raise UserError(f"{option} {path}: is a file, not a folder")
    where = target if folder else target.parent
    where = Path(os.path.abspath(where))
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise UserError(f"{option} {path}: {where} is a file, not a folder")
    if not os.access(where, os.W_OK | os.X_OK):
        try:
            read_only = bool(os.statvfs(where).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        why = "a read-only file system" if read_only else "permission denied"
        raise UserError(f"{option} {path}: cannot write in {where} ({why})")


def named_os_error(exc: OSError, target: str | os.PathLike, temporary: str | None = None) -> OSError:
    """`exc`, naming `target` when it names no file or only a temporary one of ours (pyarrow names none)."""
    name = None if exc.filename is None else str(exc.filename)
    ours = name is not None and (
        name == str(temporary) or os.path.basename(name).startswith(f".{temp_stem(Path(target))}.")
    )
    if name is not None and not ours:
        return exc
    code = errno_of(exc)
    if code is None:
        return exc
    return OSError(code, os.strerror(code), str(target))  # the subclass for the code (PermissionError, ...)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path beside `target`; rename it over `target` only on success."""
    target = Path(target)
    remove_stale(target)
    # SIGTERM/SIGHUP unwind a command (cli.main): held from the file's creation until the cleanup
    # below is in force, so a signal in between cannot leave the `.partial` behind
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=PARTIAL, dir=target.parent)
    except FileExistsError as exc:  # mkdir met a file where a folder must be
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), exc.filename) from exc
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise named_os_error(exc, target) from exc
    try:
        try:
            os.close(fd)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a signal held till now unwinds here
            yield Path(tmp)
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
            os.replace(tmp, target)
        except OSError as exc:
            named = named_os_error(exc, target, tmp)
            if named is exc:
                raise
            raise named from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale(target: str | os.PathLike) -> list[Path]:
    """Remove what a killed run left beside `target`: its `.partial` files and `.work` folders.

    A left-over is named `.<name>.<pid>-<random>.partial` (or `.work`); it is stale
    when no process with that id runs on this machine (a name without an id is from
    an older version, and stale too). Another run writing the same output now is
    left alone. Returns what was removed.
    """
    target = Path(target)
    pattern = re.compile(
        rf"^\.{re.escape(temp_stem(target))}\.(?:(\d+)-)?[^/]*({re.escape(PARTIAL)}|{WORK})$"
    )
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:  # no folder yet: nothing left over
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if not m or (m.group(1) is not None and _pid_alive(int(m.group(1)))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    if removed:
        log.info(f"removed {len(removed)} left-over(s) of an interrupted run beside {target}")
    return removed


@contextlib.contextmanager
def work_dir(target: str | os.PathLike):
    """A working folder beside `target` (`.<name>.<pid>-<random>.work`), removed on exit."""
    target = Path(target)
    try:
        ctx = tempfile.TemporaryDirectory(prefix=temp_prefix(target), suffix=WORK, dir=target.parent)
    except OSError as exc:
        raise named_os_error(exc, target) from exc
    with ctx as path:
        yield Path(path)


class TableWriter:
    """Appends chunks (pandas or pyarrow) to one CSV or Parquet file, atomically on close.

    The first chunk fixes the schema; later chunks are cast to it, so a column
    that happens to be all-missing in one chunk does not break the file. Every
    table the product writes goes through here.
    """

    def __init__(
        self,
        target: str | os.PathLike,
        *,
        option: str = "--out",
        compression: str | None = None,
        shown_as: str | os.PathLike | None = None,
    ):
        self.target = Path(target)
        self.shown_as = Path(shown_as) if shown_as is not None else self.target  # named in an OS error
        self.format = file_format(target, option=option)
        self.compression = compression  # Parquet only; None is pyarrow's default
        self._ctx = atomic_path(self.target)
        self._tmp: Path | None = None
        self._writer = None
        self._sink: pa.NativeFile | None = None  # ours to close, even when the writer's close fails
        self._schema: pa.Schema | None = None
        self.rows = 0

    def __enter__(self) -> TableWriter:
        try:
            self._tmp = self._ctx.__enter__()
        except OSError as exc:
            raise named_os_error(exc, self.shown_as) from exc
        return self

    def write(self, df: pd.DataFrame) -> None:
        self.write_arrow(pa.Table.from_pandas(df, preserve_index=False))

    def write_arrow(self, table: pa.Table) -> None:
        csv = self.format == "csv"
        if csv:
            table = csv_ready(table)
        try:
            if self._schema is None:
                self._schema = _nullable(table.schema)
                self._sink = pa.OSFile(str(self._tmp), "wb")
                if not csv:
                    options = {"compression": self.compression} if self.compression else {}
                    self._writer = pq.ParquetWriter(self._sink, self._schema, **options)
                else:
                    header = [defuse_name(n) for n in self._schema.names]
                    self._writer = pacsv.CSVWriter(self._sink, _renamed(self._schema, header))
            table = _cast(table, self._schema)
            if csv:
                table = defuse_formulas(table).rename_columns([defuse_name(n) for n in table.column_names])
            self._writer.write_table(table)
        except OSError as exc:
            raise named_os_error(exc, self.shown_as, self._tmp) from exc
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
        try:
            if self._writer is not None:
                self._writer.close()
            if self._sink is not None:
                self._sink.close()
        except OSError as close_exc:
            self._close_sink()
            if exc is None:  # the data did not reach the disk (a full disk shows here): fail, name the file
                named = named_os_error(close_exc, self.shown_as, self._tmp)
                self._ctx.__exit__(type(named), named, None)
                raise named from close_exc
        self._close_sink()  # after a failed write the writer never closed it: no descriptor left open
        self._ctx.__exit__(exc_type, exc, tb)
        return False

    def _close_sink(self) -> None:
        if self._sink is not None and not self._sink.closed:
            with contextlib.suppress(OSError):
                self._sink.close()


def _renamed(schema: pa.Schema, names: list[str]) -> pa.Schema:
    return pa.schema([f.with_name(n) for f, n in zip(schema, names)])


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
