"""Segments of one file through pyx12's reader, with its envelope errors collected, not raised.

`SegmentStream(path)` yields `Seg`s. pyx12's `X12Reader` tokenises each segment
and checks the envelope: ST/SE, GS/GE and ISA/IEA control numbers, the SE01
segment count, the GE01 and IEA01 counts, duplicate control numbers. A
subclass feeds it the segments `segments.normalise` split (so a bare `ST…SE`
without ISA reads too) and closes the envelope loops pyx12 cannot close itself:
a missing SE, GE or IEA (at the next ST/GS/ISA, at a GE/IEA, or at the end of
the file), a trailer without its header, a transaction outside a group.

Every defect becomes an `Issue` (warning) with the segment's position in
`stream.issues`; the claims of the file are still read (`readfile`). With
`strict=True` the first one raises `X12FileError`: the whole file is bad, as
ingestion did before it was lenient.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyx12.x12file

from denial_risk.x12.segments import WARNING, Delimiters, Issue, Seg, X12FileError, normalise

# pyx12 error (kind, code) -> the element it is about, so the message names the defect.
_ELEMENT = {
    ("st", "4"): "SE01",
    ("st", "3"): "SE02",
    ("st", "23"): "ST02",
    ("gs", "5"): "GE01",
    ("gs", "4"): "GE02",
    ("gs", "6"): "GS06",
    ("isa", "021"): "IEA01",
    ("isa", "001"): "IEA02",
    ("isa", "025"): "ISA13",
}
_TRAILER = {"ST": ("SE", "transaction", "ST02"), "GS": ("GE", "functional group", "GS06")}
_TRAILER["ISA"] = ("IEA", "interchange", "ISA13")


class _LenientReader(pyx12.x12file.X12Reader):
    """pyx12's reader over already-split segments; `notes` holds the envelope defects it cannot see."""

    def __init__(self, segments: list[str], delims: Delimiters):
        pyx12.x12file.X12Base.__init__(self)
        self.fd_in = None  # type: ignore[assignment]
        self.need_to_close = False
        self.raw = segments  # type: ignore[assignment]  # X12Reader.__iter__ iterates it
        self.seg_term, self.ele_term, self.subele_term = delims.segment, delims.element, delims.component
        self.repetition_term = None
        self.icvn = ""
        self.notes: list[tuple[str, str | None]] = []  # (message, ST02 it is about)
        self.isa_seen = False
        self.iea_counts: tuple[str, int] | None = None
        self.closing_st: str | None = None  # ST02 of the transaction an SE closes

    def _close(self, kinds: tuple[str, ...]) -> None:
        """Pop the open loops of these kinds from the top, each a missing trailer."""
        while self.loops and self.loops[-1][0] in kinds:
            kind, control = self.loops.pop()
            trailer, what, element = _TRAILER.get(kind, ("?", kind, "id"))
            message = f"missing {trailer} trailer: the {what} {element}={control} was not closed"
            self.notes.append((message, control if kind == "ST" else None))

    def _has_open(self, kind: str) -> bool:
        return bool(self.loops) and self.loops[-1][0] == kind

    def _parse_segment(self, seg_data) -> None:
        sid = seg_data.get_seg_id()
        if sid == "ISA":
            self._close(("ST", "GS", "ISA"))
            self.isa_seen = True
        elif sid == "GS":
            self._close(("ST", "GS"))
        elif sid == "ST":
            self._close(("ST",))
            if self.isa_seen and not any(k == "GS" for k, _ in self.loops):
                self.notes.append(("ST outside a functional group (no GS before it)", None))
        elif sid in ("SE", "GE", "IEA"):
            self.closing_st = None
            self._close({"SE": (), "GE": ("ST",), "IEA": ("ST", "GS")}[sid])
            header = {"SE": "ST", "GE": "GS", "IEA": "ISA"}[sid]
            if not self._has_open(header):
                self.notes.append(
                    (f"{sid} without its {header} header (ignored by the envelope checks)", None)
                )
                self.cur_line += 1
                return
            if sid == "IEA":
                self.iea_counts = (seg_data.get_value("IEA01") or "", self.gs_count)
            elif sid == "SE":
                self.closing_st = self.loops[-1][1]
        super()._parse_segment(seg_data)

    def close_all(self) -> None:
        self._close(("ST", "GS", "ISA"))


class SegmentStream:
    """The segments of one file in order; envelope defects in `issues` (raised when `strict`)."""

    def __init__(self, path: str | Path, raw: bytes | None = None, *, strict: bool = False):
        if raw is None:
            raw = Path(path).read_bytes()
        self.strict = strict
        self._norm = normalise(raw, strict=strict)
        self.issues: list[Issue] = self._norm.issues
        self.enveloped = self._norm.enveloped
        self.delims = self._norm.delims
        self.cut_segment = self._norm.cut_segment  # a segment the file ended inside (dropped)
        self.segments_read = 0

    def _report(self, message: str, n: int | None, transaction: str | None) -> None:
        if self.strict:
            if message.startswith("missing"):
                message = f"truncated envelope: {message}"
            raise X12FileError(message if n is None else f"{message} (segment {n})")
        self.issues.append(Issue(WARNING, message, segment=n, transaction=transaction))

    def __iter__(self) -> Iterator[Seg]:
        reader = _LenientReader(self._norm.segments, self._norm.delims)
        n = 0
        for seg in reader:
            n += 1
            sid = seg.get_seg_id() or ""
            if sid == "ISA":
                els = [[sid]] + [[c.format()] for c in seg.elements]
            else:
                els = [[sid]] + [[e.value for e in c.elements] for c in seg.elements]
            st = reader.closing_st if sid == "SE" else reader.get_st_id()
            for note, about in reader.notes:
                self._report(note, n, about or st)
            reader.notes.clear()
            for kind, code, msg, _value, _line in reader.pop_errors():
                self._pyx12_error(reader, kind, code, msg, n, st)
            self.segments_read = n
            yield Seg(sid, els, n)
        reader.close_all()
        for note, about in reader.notes:
            self._report(f"{note} (the file ends at segment {n})", n or None, about)

    def _pyx12_error(self, reader: _LenientReader, kind: str, code: str, msg: str, n: int, st) -> None:
        if kind == "seg":
            # a segment id that is not one (garbage between segments); HL/LX numbering is not ours to judge
            if code in ("1", "8") and "leading space" not in msg:
                self._report(f"{msg} (segment skipped by the readers)", n, st)
            return
        element = _ELEMENT.get((kind, code))
        if (kind, code) == ("isa", "021") and reader.iea_counts is not None:
            said, groups = reader.iea_counts
            msg = f"IEA01: IEA count of {said or '(empty)'} functional group(s) is wrong. I count {groups}"
        elif element:
            msg = f"{element}: {msg}"
        self._report(msg, n, st if kind == "st" else None)
