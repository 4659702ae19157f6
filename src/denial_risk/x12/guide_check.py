"""pyx12's implementation-guide validation of one file, as (ok, messages).

This is the full map walk (`pyx12.x12n_document.x12n_document`): every
segment checked against the 5010/4010 guide (mandatory segments, codes,
lengths, loop repeats). It is used to prove the writer's files are valid and
by `ingest-x12 --validate` to report guide problems as warnings; it is not a
gate on ingestion, because real files routinely break the guide in ways that
do not matter for claim lines (see docs/x12.md).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyx12.params
import pyx12.x12n_document

from denial_risk.x12.segments import normalise


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validate_file(path: str | Path) -> tuple[bool, list[str]]:
    """(valid, error messages) from pyx12's guide validation of the normalised file."""
    import io

    try:
        text = normalise(Path(path).read_bytes(), strict=True).text()
    except Exception as exc:
        return False, [str(exc)]
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    logger.addHandler(handler)
    old_propagate = logger.propagate
    logger.propagate = False
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None)
    except Exception as exc:
        return False, handler.messages + [f"{type(exc).__name__}: {exc}"]
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate
    return bool(ok) and not handler.messages, handler.messages
