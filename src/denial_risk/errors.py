"""Errors that the CLI turns into exit codes instead of tracebacks.

A user's mistake (missing file, missing column, bad option) is a `UserError`:
exit 2, one line on stderr, no partial output. Files that could not be read
while the rest were written are a `PartialInputError`: exit 1. An OS error
(`os_error_exit`) is one line naming the file: exit 2 when another path would
do (permission denied, a read-only folder, a file where a folder is expected),
exit 1 when the machine failed (no space left, an I/O error).
"""

from __future__ import annotations

import errno
import os
import re


class UserError(Exception):
    """The user's mistake: one line naming the file, column or option (exit 2)."""

    exit_code = 2


class PartialInputError(Exception):
    """Done, but some input files could not be read (exit 1)."""

    exit_code = 1


# OS errors that a different path or option fixes: the user's mistake (exit 2). Every other OS
# error (a full disk, a quota, an I/O error, too many open files) is the environment's (exit 1).
_USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES",  # permission denied
        "EPERM",
        "EROFS",  # read-only file system
        "ENOENT",
        "ENOTDIR",  # a file where a folder is expected
        "EISDIR",  # a folder where a file is expected
        "EEXIST",
        "ENOTEMPTY",
        "ENAMETOOLONG",
        "ELOOP",
        "ETXTBSY",
        "ENXIO",  # a FIFO or device with nothing behind it
        "ENODEV",
        "ESPIPE",
    )
    if hasattr(errno, name)
)


def errno_of(exc: OSError) -> int | None:
    """The error number, also from pyarrow's message (`... Detail: [errno 28] ...`) when it sets none."""
    if exc.errno is not None:
        return exc.errno
    found = re.search(r"\[errno (\d+)\]", str(exc), flags=re.IGNORECASE)
    return int(found.group(1)) if found else None


def os_error_exit(exc: OSError) -> tuple[str, int]:
    """One line naming the file, and the exit code, for an OS error that reached the command line."""
    code = errno_of(exc)
    what = os.strerror(code) if code else " ".join(str(exc).split())[:300]
    where = exc.filename if exc.filename is not None else None
    line = f"{where}: {what}" if where is not None else what
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        line += " (free some space, or write the output elsewhere)"
    return line, (UserError.exit_code if code in _USER_ERRNOS else PartialInputError.exit_code)


_ERRNO_TEXT = (  # what libraries say instead of raising the OSError (sqlite through SQLAlchemy, MLflow)
    ("database or disk is full", errno.ENOSPC),
    ("no space left on device", errno.ENOSPC),
    ("attempt to write a readonly database", errno.EROFS),
    ("read-only file system", errno.EROFS),
    ("unable to open database file", errno.EACCES),
    ("permission denied", errno.EACCES),
)


def as_os_error(exc: BaseException, where: str) -> OSError | None:
    """The OS error behind a library's exception (an OSError in its chain, or its message), naming
    `where`; None when it is not one (then it is a bug, and keeps its traceback)."""
    if isinstance(exc, (UserError, PartialInputError)):
        return None
    seen, depth = exc, 0
    while seen is not None and depth < 20:
        if isinstance(seen, OSError) and errno_of(seen) is not None:
            return OSError(errno_of(seen), os.strerror(errno_of(seen)), where)
        seen, depth = seen.__cause__ or seen.__context__, depth + 1
    text = str(exc).lower()
    found = re.search(r"\[errno (\d+)\]", text)
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code), where)
    for needle, code in _ERRNO_TEXT:
        if needle in text:
            return OSError(code, os.strerror(code), where)
    return None
