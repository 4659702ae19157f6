"""The text of one X12 file -> its segments, and what a reader reports about them.

`normalise(raw)` finds the delimiters and splits the segments:

- an interchange (`ISA…`) declares them: element separator ISA[3], component
  separator ISA16, segment terminator the character after it;
- a bare functional group or transaction (`GS…` / `ST…SE`, as some payers send
  835s) has no ISA: the element separator is the character after the first
  segment id, the terminator the one that ends the first segment, the component
  separator the one its composites (SVC01, SV101, HI01) show, else `:`.

It also handles a UTF-8 BOM, non-ASCII bytes (names with curly quotes: replaced
by `?`), CR/LF around or *instead of* segment terminators, blank lines, NUL
padding and an ISA whose fixed-width fields were trimmed. A file that ends
inside a segment loses that segment (a warning: it may hold half an amount);
the claim it belonged to is judged by `denial_risk.x12.readfile`.

`Issue` is one finding (warning or error) with the segment's position; the
envelope checks are in `denial_risk.x12.envelope`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

# ISA element widths (ISA01..ISA16): the ISA is fixed length (106 characters).
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_AMOUNT = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")

WARNING = "warning"
ERROR = "error"


class X12FileError(Exception):
    """The file (or, inside a transaction, one claim) cannot be used: the message says why."""


@dataclass(slots=True)
class Issue:
    """One finding, a row of `<out>.errors.csv`.

    `severity` is `warning` (nothing lost: an envelope or count defect, an
    unbalanced transaction) or `error` (something lost: a claim cut mid-loop, or
    the whole file). `segment` is the 1-based position of the segment in the
    file (None: the whole file).
    """

    severity: str
    message: str
    segment: int | None = None
    transaction: str | None = None  # ST02 of the transaction, when inside one
    claim_id: str | None = None
    file: str = ""
    role: str = ""
    lost: str = "claim"  # an error's loss: "claim" (or a whole file, segment None), or one "line"


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


class SegmentRouter:
    """Routes each segment of a transaction to its parser's handler: `_ANYWHERE` at any point,
    `_IN_CLAIM` only inside a claim (`self.claim` not None). After a claim is dropped
    (`self.skipping`), segments are passed over up to the next one of `_RESUME_AT`."""

    _ANYWHERE: ClassVar[dict] = {}
    _IN_CLAIM: ClassVar[dict] = {}
    _RESUME_AT: ClassVar[tuple[str, ...]] = ()

    def feed(self, seg: Seg) -> None:
        sid = seg.id
        if self.skipping:
            if sid not in self._RESUME_AT:
                return
            self.skipping = False
        handler = self._ANYWHERE.get(sid)
        if handler is not None:
            handler(self, seg)
        elif self.claim is not None:
            handler = self._IN_CLAIM.get(sid)
            if handler is not None:
                handler(self, seg)


@dataclass
class Delimiters:
    element: str
    component: str
    segment: str  # "\n" for a file whose segments end with line breaks


@dataclass
class Normalised:
    """The segments of one file (no terminators), its delimiters and what was found on the way."""

    segments: list[str]
    delims: Delimiters
    enveloped: bool  # begins with an ISA
    issues: list[Issue] = field(default_factory=list)
    cut_segment: str = ""  # the text of a segment the file ended inside (dropped), if any

    def text(self) -> str:
        """One segment per line with a terminator the data does not use (for pyx12's own readers)."""
        term = self.delims.segment
        if term == "\n":
            body = "\n".join(self.segments)
            term = next((t for t in "~!|`" if t not in body), None)
            if term is None:
                raise X12FileError("cannot choose a segment terminator for a newline-terminated file")
        return "".join(s + term + "\n" for s in self.segments)


def normalise(raw: bytes, *, strict: bool = False) -> Normalised:
    """Delimiters and segments of one file; X12FileError when it is not X12 at all.

    `strict`: today's rules, where only an interchange is X12 and a file that
    ends inside a segment is bad.
    """
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n\x00")
    issues: list[Issue] = []
    if text.startswith("ISA"):
        delims = _isa_delimiters(text)
        enveloped = True
    elif not strict and (text.startswith("GS") or text.startswith("ST")):
        delims = _bare_delimiters(text)
        what = "no ISA envelope" if text.startswith("GS") else "no ISA/GS envelope"
        issues.append(
            Issue(
                WARNING,
                f"{what}: read as a bare {text[:2]} with element separator {delims.element!r}, "
                f"component separator {delims.component!r} and segment terminator "
                f"{'line break' if delims.segment == chr(10) else repr(delims.segment)}",
                segment=1,
            )
        )
        enveloped = False
    else:
        raise X12FileError("not an X12 interchange (does not start with ISA)")
    segs, cut = _split(text, delims, issues, strict)
    if enveloped:
        segs[0] = _pad_isa(segs[0], delims.element)
    return Normalised(segs, delims, enveloped, issues, cut)


def _isa_delimiters(text: str) -> Delimiters:
    """The ISA's own: element separator ISA[3], ISA16, and the terminator after it."""
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
    term = text[pos + 2]
    return Delimiters(ele, text[pos + 1], "\n" if term in "\r\n" else term)


def _bare_delimiters(text: str) -> Delimiters:
    """Delimiters of a file without an ISA: the ones its segments show, else `*`, `:`, `~`."""
    ele = text[2] if len(text) > 2 else "*"
    if ele.isalnum() or ele.isspace():
        raise X12FileError("not an X12 interchange (does not start with ISA)")
    e = re.escape(ele)
    # the first segment ends where the second begins (BHT/BPR after ST, ST after GS)
    m = re.search(rf"(?:([^\sA-Za-z0-9{e}])\s*|\s+)(?:ST|BHT|BPR|TRN){e}", text[3:400])
    if m is None:
        term = "~"  # one segment only, or nothing recognisable: the default
    else:
        term = m.group(1) or "\n"  # nothing but a line break between the segments
    t = re.escape(term) if term != "\n" else ""
    c = re.search(rf"(?:SVC|SV1|HI){e}[A-Z0-9]{{2,3}}([^A-Za-z0-9\s{e}{t}])", text)
    return Delimiters(ele, c.group(1) if c else ":", term)


def _split(text: str, delims: Delimiters, issues: list[Issue], strict: bool) -> tuple[list[str], str]:
    """Segments without terminators; a trailing piece without a terminator is a cut segment."""
    term = delims.segment
    if term == "\n":
        pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        tail = ""
    else:
        pieces = text.split(term)
        tail = pieces.pop().strip(" \t\r\n\x00")
    segs = [p.strip("\r\n\x00").lstrip() for p in pieces]
    segs = [s for s in segs if s.strip()]
    if tail:
        if strict:
            raise X12FileError("truncated envelope: the file ends inside a segment (no terminator)")
        issues.append(
            Issue(
                WARNING,
                f"the file ends inside a segment ({_preview(tail)}, no terminator): that segment is dropped",
                segment=len(segs) + 1,
            )
        )
    if not segs:
        raise X12FileError("not an X12 interchange (no complete segment)")
    return segs, tail


def _preview(text: str) -> str:
    return repr(text[:24] + ("…" if len(text) > 24 else ""))


def _pad_isa(isa_text: str, ele: str) -> str:
    """The ISA with its fixed-width fields padded back (some senders trim them)."""
    isa = isa_text.split(ele)
    if len(isa) != 17:
        raise X12FileError(f"truncated envelope: ISA has {len(isa) - 1} elements, not 16")
    fixed = ["ISA"]
    for i, (value, width) in enumerate(zip(isa[1:], _ISA_WIDTHS), start=1):
        if len(value) > width:
            raise X12FileError(f"malformed ISA{i:02d} ({len(value)} characters, at most {width})")
        fixed.append(value.zfill(width) if i == 13 else value.ljust(width))
    return ele.join(fixed)


def parse_date(text: str) -> str | None:
    """CCYYMMDD (or a CCYYMMDD-CCYYMMDD range: its start) -> 'YYYY-MM-DD'; None if not a date."""
    t = text.strip()[:8]
    if len(t) == 8 and t.isdigit():
        y, m, d = int(t[:4]), int(t[4:6]), int(t[6:])
        if 1 <= m <= 12 and 1 <= d <= 31 and y > 1900:
            return f"{t[:4]}-{t[4:6]}-{t[6:]}"
    return None
