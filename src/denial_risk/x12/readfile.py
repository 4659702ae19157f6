"""One X12 file -> its claims (837) and remittances (835), as far as each is complete.

The leniency rules (docs/x12.md):

- envelope and count defects (SE01, GE01, IEA01, control numbers, a missing
  ISA/GS, a missing SE/GE/IEA) are warnings: the claims are still read;
- every transaction is read as far as it goes; a claim is kept when its loop
  was closed (by the next claim, level or the SE) or, when the transaction
  stops without SE, when its amounts show it complete (837: every line has
  its service and the charges add up to CLM02; 835: CLP03 - adjustments =
  CLP04). Otherwise it was cut mid-loop: it is dropped and named (an error);
- a claim that cannot be read (a malformed amount, no claim id) is dropped and
  named; the rest of its transaction is read; an 835 service line whose amounts
  cannot be read is dropped and named alone (`Issue.lost == "line"`), its claim kept;
- an 835 transaction whose BPR02 differs from sum CLP04 - sum PLB is a warning
  carrying both figures;
- a file that yields no 837 or 835 transaction at all (not X12, only other
  transaction sets) is unreadable: `X12FileError`.

`strict=True` is the old rule: any envelope defect or unreadable claim makes
the whole file bad (`X12FileError`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from denial_risk.x12.envelope import SegmentStream
from denial_risk.x12.read835 import Remit835Parser, RemitClaim
from denial_risk.x12.read837 import Claim837Parser, ClaimStats
from denial_risk.x12.segments import ERROR, WARNING, Issue, Seg, X12FileError, parse_date

_ENVELOPE = ("ISA", "GS", "ST", "SE", "GE", "IEA", "TA1")
_KNOWN = ("837", "835")


@dataclass
class FileContent:
    claims: list[tuple[str, list[dict]]] = field(default_factory=list)
    remits: list[RemitClaim] = field(default_factory=list)
    transactions: Counter = field(default_factory=Counter)
    issues: list[Issue] = field(default_factory=list)
    stats: ClaimStats = field(default_factory=ClaimStats)
    dropped_claims: int = 0


class _FileReader:
    """The state of one file's read: the open transaction and where segments fall outside one."""

    def __init__(self, path: Path, strict: bool):
        self.name = str(path)
        self.strict = strict
        self.stream = SegmentStream(path, strict=strict)
        self.content = FileContent(issues=self.stream.issues)
        self.version = ""
        self.gs_date: str | None = None
        self.parser: Claim837Parser | Remit835Parser | None = None
        self.skipping_kind: str | None = None  # an unknown transaction set being skipped
        self.outside: tuple[Seg, int] | None = None  # first segment outside any transaction, how many

    def issue(self, severity: str, message: str, n: int | None, claim_id: str | None = None) -> None:
        tx = getattr(self.parser, "transaction", None)
        self.content.issues.append(Issue(severity, message, n, tx, claim_id))

    def run(self) -> FileContent:
        last = 0
        for seg in self.stream:
            last = seg.n
            if seg.id in _ENVELOPE:
                self._envelope(seg)
            elif self.parser is not None:
                self._feed(seg)
            elif self.skipping_kind is None:
                self._outside(seg)
        if self.parser is not None:
            self._close(complete=False, n=last, cut=self.stream.cut_segment)
        self._finish()
        return self.content

    def _envelope(self, seg: Seg) -> None:
        sid = seg.id
        if sid == "SE":
            if self.parser is not None:
                self._close(complete=True, n=seg.n)
            self.skipping_kind = None
            return
        if self.parser is not None:  # a transaction that stops without its SE (the stream warned)
            self._close(complete=False, n=seg.n - 1)
        self.skipping_kind = None
        if sid == "GS":
            self.version = seg.v(8)
            self.gs_date = parse_date(seg.v(4))
        elif sid == "ST":
            self._open(seg)

    def _open(self, seg: Seg) -> None:
        kind, control = seg.v(1), seg.v(2) or None
        self.content.transactions[kind] += 1
        if kind == "837":
            version = seg.v(3) or self.version
            stats = ClaimStats()
            self.parser = Claim837Parser(
                self.name, version, self.gs_date, stats, self.content.issues, control
            )
        elif kind == "835":
            self.parser = Remit835Parser(self.name, self.content.issues, control)
        else:
            message = f"unknown transaction set {kind!r} in segment {seg.n} (only 837 and 835 are read)"
            if self.strict:
                raise X12FileError(message)
            self.content.issues.append(Issue(WARNING, f"{message}: skipped", seg.n, control))
            self.skipping_kind = kind

    def _feed(self, seg: Seg) -> None:
        try:
            self.parser.feed(seg)
        except X12FileError as exc:
            if self.strict:
                raise
            claim_id = self.parser.drop_claim()
            self.content.dropped_claims += 1
            what = f"claim {claim_id}" if claim_id else "a claim without an id"
            self.issue(ERROR, f"{what} dropped: {exc}", seg.n, claim_id)

    def _close(self, *, complete: bool, n: int, cut: str = "") -> None:
        """End the open transaction; without its SE, a claim still open must show it is complete.

        `cut`: the segment the file ended inside (dropped). Unless it is one that closes
        a claim (the next CLM, CLP, HL, ... whose id arrived whole), the claim still
        open lost it; when it is a claim's first segment, that claim is lost too.
        """
        parser = self.parser
        cut_id = cut.split(self.stream.delims.element)[0] if self.stream.delims.element in cut else None
        if cut and cut_id == parser.CLAIM_START:
            self.content.dropped_claims += 1
            self.issue(ERROR, f"a claim is cut inside its first segment ({cut[:30]!r}…): dropped", n + 1)
        if not complete:
            gap = parser.open_claim_gap()
            if cut and parser.claim is not None and cut_id not in parser.BOUNDARIES:
                gap = f"the file ends inside its segment {n + 1}"
            if gap:
                claim_id = parser.drop_claim()
                self.content.dropped_claims += 1
                self.issue(
                    ERROR,
                    f"claim {claim_id} dropped: cut mid-loop (its transaction stops at segment {n} "
                    f"without SE, and {gap})",
                    n,
                    claim_id,
                )
        parser.finish()
        if isinstance(parser, Claim837Parser):
            self.content.claims.extend(parser.claims)
            self.content.stats.add(parser.stats)
        else:
            self.content.remits.extend(parser.claims)
        self.parser = None

    def _outside(self, seg: Seg) -> None:
        if self.strict:
            raise X12FileError(f"segment {seg.id} outside a transaction (segment {seg.n})")
        first, count = self.outside or (seg, 0)
        self.outside = (first, count + 1)

    def _finish(self) -> None:
        content = self.content
        if self.outside:
            first, count = self.outside
            message = f"{count} segment(s) outside any transaction (ST…SE) ignored, the first {first.id}"
            self.content.issues.append(Issue(WARNING, message, first.n))
        if not any(content.transactions[k] for k in _KNOWN):
            others = sorted(content.transactions)
            if others:
                raise X12FileError(
                    f"no 837 or 835 transaction: unknown transaction set {', '.join(others)} "
                    "(only 837 and 835 are read)"
                )
            raise X12FileError("no transaction (ST…SE) in the file")
        content.issues.sort(key=lambda i: i.segment if i.segment is not None else 1 << 62)


def read_file(path: str | Path, *, strict: bool = False) -> FileContent:
    """Every transaction of one file, as far as each is complete; X12FileError if the file yields nothing."""
    return _FileReader(Path(path), strict).run()
