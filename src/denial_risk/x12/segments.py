"""Read one X12 interchange file into segments with pyx12's tokenizer.

`iter_segments(path)` normalises the raw text (encoding, line breaks between
or instead of segment terminators, a short-padded ISA), hands it to
`pyx12.x12file.X12Reader` -- which splits segments, elements and components
with the delimiters the ISA declares, and checks the envelope: ISA/IEA,
GS/GE and ST/SE control numbers, SE01 segment counts, GE01/IEA01 counts and
missing trailers -- and yields light `Seg` objects.

Any envelope error makes the whole file bad (`X12FileError`): a file whose
counts do not add up may be truncated or spliced, and its content is not
trusted. pyx12's *implementation-guide* validation (the map walk behind
`x12n_document`) is not run here; see docs/x12.md for why and `validate_file`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyx12.errors
import pyx12.x12file

# ISA element widths (ISA01..ISA16): the ISA is fixed length (106 characters).
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_AMOUNT = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")


class X12FileError(Exception):
    """The file cannot be used: the message says why (and where, when known)."""


@dataclass(slots=True)
class Seg:
    """One segment: `id` and `els[i]` = list of components of element i (1-based; els[0] = [id])."""

    id: str
    els: list[list[str]]
    n: int  # segment number in the file (1-based)

    def v(self, i: int, j: int = 0) -> str:
        """Element i, component j (0-based), '' when absent."""
        els = self.els
        if i >= len(els):
            return ""
        comps = els[i]
        return comps[j] if j < len(comps) else ""

    def comps(self, i: int) -> list[str]:
        return self.els[i] if i < len(self.els) else []

    def amount(self, i: int, name: str, *, required: bool = False) -> float | None:
        """A decimal element (X12 type R); malformed -> X12FileError naming it."""
        text = self.v(i).strip()
        if not text:
            if required:
                raise X12FileError(f"missing amount {name} in segment {self.n} ({self.id})")
            return None
        if not _AMOUNT.match(text):
            raise X12FileError(f"malformed amount {name}={text!r} in segment {self.n} ({self.id})")
        return float(text)


@dataclass
class Delimiters:
    element: str
    component: str
    segment: str


def normalise(raw: bytes) -> tuple[str, Delimiters]:
    """Clean X12 text that pyx12's reader accepts: one segment per line, fixed-width ISA.

    Handles a UTF-8 BOM, non-ASCII bytes (names with curly quotes: replaced by
    '?'), CR/LF around or instead of segment terminators, blank lines and an
    ISA whose fixed-width fields were trimmed.
    """
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text.startswith("ISA"):
        raise X12FileError("not an X12 interchange (does not start with ISA)")
    if len(text) < 20:
        raise X12FileError("truncated envelope: incomplete ISA segment")
    ele = text[3]
    # find the 16th element separator of the ISA: ISA16 is the next character,
    # the segment terminator the one after it
    pos = 3  # the separator before ISA01
    for _ in range(15):  # ... up to the one before ISA16
        pos = text.find(ele, pos + 1)
        if pos < 0 or pos > 200:
            raise X12FileError("truncated envelope: incomplete ISA segment")
    if pos + 2 >= len(text):
        raise X12FileError("truncated envelope: incomplete ISA segment")
    comp = text[pos + 1]
    term = text[pos + 2]
    if term in "\r\n":
        # newline-terminated segments: pick a terminator the data does not use
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        pieces = text.split("\n")
        term = next((t for t in "~!|`" if t not in text), None)
        if term is None:
            raise X12FileError("cannot choose a segment terminator for a newline-terminated file")
    else:
        if not text.rstrip(" \t\r\n").endswith(term):
            raise X12FileError("truncated envelope: the file ends inside a segment (no terminator)")
        pieces = text.split(term)
    segs = []
    for p in pieces:
        p = p.strip("\r\n")
        if p.strip():
            segs.append(p.lstrip())
    isa = segs[0].split(ele)
    if len(isa) != 17:
        raise X12FileError(f"truncated envelope: ISA has {len(isa) - 1} elements, not 16")
    fixed = ["ISA"]
    for i, (value, width) in enumerate(zip(isa[1:], _ISA_WIDTHS), start=1):
        if len(value) > width:
            raise X12FileError(f"malformed ISA{i:02d} ({len(value)} characters, at most {width})")
        fixed.append(value.zfill(width) if i == 13 else value.ljust(width))
    segs[0] = ele.join(fixed)
    clean = "".join(s + term + "\n" for s in segs)
    return clean, Delimiters(ele, comp, term)


_FATAL_KINDS = ("isa", "gs", "st")


def iter_segments(path: str | Path, raw: bytes | None = None) -> Iterator[Seg]:
    """Segments of one file; raises X12FileError for envelope problems (after the last segment)."""
    if raw is None:
        raw = Path(path).read_bytes()
    text, delims = normalise(raw)
    try:
        reader = pyx12.x12file.X12Reader(io.StringIO(text))
    except pyx12.errors.X12Error as exc:
        raise X12FileError(f"bad ISA segment: {exc}") from None
    errors: list[str] = []
    n = 0
    last_id = ""
    for seg in reader:
        n += 1
        sid = seg.get_seg_id() or ""
        if sid == "ISA":
            els = [[sid]] + [[c.format()] for c in seg.elements]
        else:
            els = [[sid]] + [[e.value for e in c.elements] for c in seg.elements]
        for kind, code, msg, _value, _line in reader.pop_errors():
            if kind in _FATAL_KINDS or (kind == "seg" and code in ("1", "8") and "leading space" not in msg):
                errors.append(f"{msg} (segment {n})")
        if errors:
            raise X12FileError(errors[0])
        last_id = sid
        yield Seg(sid, els, n)
    reader.cleanup()
    for kind, _code, msg, _value, _line in reader.pop_errors():
        if kind in _FATAL_KINDS:
            errors.append(msg)
    if errors:
        raise X12FileError(f"truncated envelope: {errors[0]}")
    if n == 0 or last_id != "IEA":
        raise X12FileError("truncated envelope: no IEA trailer")


def parse_date(text: str) -> str | None:
    """CCYYMMDD (or a CCYYMMDD-CCYYMMDD range: its start) -> 'YYYY-MM-DD'; None if not a date."""
    t = text.strip()[:8]
    if len(t) == 8 and t.isdigit():
        y, m, d = int(t[:4]), int(t[4:6]), int(t[6:])
        if 1 <= m <= 12 and 1 <= d <= 31 and y > 1900:
            return f"{t[:4]}-{t[4:6]}-{t[6:]}"
    return None
