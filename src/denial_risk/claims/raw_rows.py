"""The original bytes of CSV rows that are not UTF-8, for the rejects' `raw_line`.

pyarrow parses the file with every byte that is not UTF-8 replaced (the values
then hold U+FFFD), so the bytes themselves are gone by the time a row is
rejected. They are read back here, from the file, only when a file has such
rows: one forward pass with Python's csv module over the file decoded as
Latin-1 (one character per byte, and CSV's quotes, commas and line ends are
ASCII, so the rows split exactly as in UTF-8). A row's text is kept only if
its bytes are not valid UTF-8; `raw_line.encode("latin-1")` gives back the
original bytes (without the line end).

Positions count data rows as the reader does: from 0 after the header row,
blank lines not counted.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterator

log = logging.getLogger(__name__)

_LINE_END = ("\r\n", "\n", "\r")


class RawRows:
    """Reads ahead in a CSV file for the rows asked for, in increasing position order."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self._rows: Iterator[tuple[int, str]] | None = None
        self._next: int = -1  # the position the scan reaches next
        self._found: dict[int, str] = {}
        self._done = False

    def get(self, positions) -> dict[int, str]:
        """{position: Latin-1 text of the row} for those of `positions` whose bytes are not UTF-8."""
        wanted = sorted({int(p) for p in positions})
        if not wanted:
            return {}
        if self._rows is None:
            self._rows = self._scan()
        while not self._done and self._next <= wanted[-1]:
            try:
                pos, text = next(self._rows)
            except StopIteration:
                self._done = True
                break
            except (csv.Error, OSError, ValueError) as exc:  # the bytes stay unknown; the reject stays
                log.debug(f"{self.path}: original bytes of rejected rows not read back ({exc})")
                self._done = True
                break
            self._found[pos] = text
        return {p: self._found.pop(p) for p in wanted if p in self._found}

    def _scan(self) -> Iterator[tuple[int, str]]:
        """(position, text) of each data row whose bytes are not valid UTF-8, in file order."""
        consumed: list[str] = []

        def lines(f):
            for line in f:
                consumed.append(line)
                yield line

        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding="latin-1", newline="")
            rows = csv.reader(lines(text))
            header = False
            pos = 0
            for row in rows:
                record, consumed[:] = "".join(consumed), []
                if not row:  # a blank line: not a row (pyarrow skips it too)
                    continue
                if not header:
                    header = True
                    continue
                self._next = pos + 1
                if not record.isascii() and not _is_utf8(record):
                    yield pos, _strip_line_end(record)
                pos += 1


def _is_utf8(latin1_text: str) -> bool:
    try:
        latin1_text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strip_line_end(record: str) -> str:
    for end in _LINE_END:
        if record.endswith(end):
            return record[: -len(end)]
    return record
