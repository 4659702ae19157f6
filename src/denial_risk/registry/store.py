"""The MLflow store, checked before MLflow touches it (no MLflow call here: sqlite3 and a socket).

MLflow creates what it is pointed at: a `sqlite:///` URI to a missing file becomes an empty
store (and its missing folders), an existing empty file becomes a database, and a corrupt
file shows as a 100-line SQLAlchemy traceback, after a whole fit. So:

- a command that only reads the store (`score`, `evaluate`, `promote`, `export`, `serve`,
  `monitor`) needs one to exist: otherwise one line naming the store and the folder, exit 2,
  and nothing is created (`check_readable`);
- a command that writes runs (`train`, `backtest`) may create a store, but only a new file in
  an existing folder (`check_writable`), and the first creation is serialised by a lock on
  that folder (`lock`), so two `train`s on a fresh store do not both run MLflow's
  schema migration;
- an existing file must be an SQLite database whose `alembic_version` is one of the schema
  versions this MLflow knows: a corrupt, foreign or newer file is refused, read-only
  (`mode=ro`), before any fit;
- a remote tracking server (`http://`, `https://`) must answer a TCP connection within
  `CONNECT_SECONDS`, else one line naming its URI (exit 1: the machine, not the user);
  MLflow's own retries are capped (`http_limits`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from denial_risk.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
CONNECT_SECONDS = 5.0
# MLflow retries an unreachable server 7 times with a growing back-off (minutes in all) and waits
# 120 s a request: project judgement, 2 retries and 30 s each; a user's own setting wins.
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def http_limits() -> None:
    """Cap MLflow's retries to a remote server, unless the user set them."""
    for key, value in HTTP_LIMITS.items():
        os.environ.setdefault(key, value)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (relative to the working folder), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :].split("?", 1)[0])


def file_store_path(uri: str) -> Path | None:
    """The folder of a file store (`file:///…`, or a plain path), else None."""
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file://").removeprefix("file:"))
    if "://" not in uri and uri not in ("databricks", "databricks-uc", "uc"):
        return Path(uri)
    return None


def _where(path: Path) -> str:
    return f"{path} (in folder {Path(os.path.abspath(path)).parent})"


def known_schema_versions() -> set[str]:
    """The alembic revisions this MLflow ships (file names `<revision>_<what>.py`)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    folder = Path(spec.origin).parent / "store" / "db_migrations" / "versions"
    return {p.name.split("_", 1)[0] for p in folder.glob("*.py") if not p.name.startswith("_")}


def schema_version(path: Path) -> str:
    """The store's schema version, read without writing; a file that is not an MLflow store
    (corrupt, empty, another database) is one line naming it (exit 2)."""
    name = f"MLflow store {_where(path)}"
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, f"MLflow store {path}") from None
    if not head:
        raise UserError(f"{name}: is an empty file, not an MLflow store (remove it, or name another)")
    if head != SQLITE_MAGIC:
        raise UserError(f"{name}: is not an SQLite database (corrupt, or another kind of file)")
    try:
        con = sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise UserError(f"{name}: an SQLite database, but not an MLflow store") from None
        raise UserError(f"{name}: cannot be read ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{name}: is corrupt ({exc})") from None
    if len(rows) != 1:
        raise UserError(f"{name}: has no schema version (an MLflow store being created, or damaged)")
    version = str(rows[0][0])
    known = known_schema_versions()
    if known and version not in known:  # (none found: an MLflow packaged otherwise; MLflow checks)
        raise UserError(
            f"{name}: schema version {version} is not one this MLflow knows (a newer MLflow's store?)"
        )
    return version


def _check_server(uri: str) -> None:
    """A TCP connection to the server; skipped behind an HTTP proxy (MLflow's capped retries apply)."""
    import urllib.request

    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(parts.netloc):
        return
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=CONNECT_SECONDS):
            return
    except socket.gaierror as exc:  # a host name that does not resolve: the URI's mistake
        raise UserError(
            f"MLflow tracking server {uri}: host {parts.hostname!r} not found ({exc.strerror})"
        ) from None
    except TimeoutError:
        code = errno.ETIMEDOUT
    except OSError as exc:
        code = exc.errno or errno.EHOSTUNREACH
    raise OSError(code, os.strerror(code), f"MLflow tracking server {uri}")


def check_readable(uri: str) -> None:
    """A store to read from exists and is one (module docstring); nothing is created."""
    db = sqlite_path(uri)
    if db is not None:
        if not db.exists():
            raise UserError(
                f"no MLflow store: {_where(db)} does not exist; run from the folder that holds it, "
                "set MLFLOW_TRACKING_URI, or train a model first with `denial-risk train`"
            )
        schema_version(db)
        return
    folder = file_store_path(uri)
    if folder is not None:
        if not folder.is_dir():
            raise UserError(f"no MLflow store: folder {folder} does not exist (MLFLOW_TRACKING_URI={uri})")
        if not any(folder.glob("*/meta.yaml")):  # MLflow would write its default experiment into it
            raise UserError(
                f"no MLflow store in folder {folder}: it holds no experiment (MLFLOW_TRACKING_URI={uri})"
            )
        return
    if uri.startswith(("http://", "https://")):
        _check_server(uri)


def check_writable(uri: str) -> None:
    """A store to write runs to: an existing one that can be written, or a new file in an
    existing folder (no folder is made); the rest as `check_readable`."""
    db = sqlite_path(uri)
    if db is not None:
        folder = Path(os.path.abspath(db)).parent
        if not folder.is_dir():
            raise UserError(f"MLflow store {db}: folder {folder} does not exist (it is not created)")
        if db.exists():
            schema_version(db)
            if not os.access(db, os.W_OK):
                raise UserError(f"MLflow store {db}: cannot be written (permission denied or read-only)")
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"MLflow store {db}: cannot write in {folder} (permission denied or read-only)")
        return
    folder = file_store_path(uri)
    if folder is not None:
        parent = Path(os.path.abspath(folder)).parent
        if not folder.is_dir() and not parent.is_dir():
            raise UserError(f"MLflow store {folder}: folder {parent} does not exist (it is not created)")
        if not os.access(folder if folder.is_dir() else parent, os.W_OK | os.X_OK):
            raise UserError(f"MLflow store {folder}: cannot be written (permission denied or read-only)")
        return
    if uri.startswith(("http://", "https://")):
        _check_server(uri)


@contextlib.contextmanager
def lock(uri: str):
    """Held while MLflow creates or migrates a local sqlite store, or an alias moves: one process at a time.

    The lock is `flock` on the store's folder itself, so no lock file is left behind.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    fd = os.open(Path(os.path.abspath(db)).parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO})  # the machine's: named as the disk's
