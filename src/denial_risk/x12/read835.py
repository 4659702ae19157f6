"""835 remittance advice (5010 X221A1; 4010 X091 reads the same) -> adjudicated claims and lines.

Each CLP (2100 loop) becomes a `RemitClaim` with its service lines (SVC,
2110) and their CAS adjustments. `line_outcome` applies the denial rule
(docs/x12.md):

  a line is denied when the claim status is 4 (denied), or when the payer
  paid nothing for it and an adjustment other than patient cost sharing
  (PR-1 deductible, PR-2 coinsurance, PR-3 copay) or a contractual /
  coordination-of-benefits reduction (45, 42, 253, A2, 94, 23, 59) explains
  it. `denial_reason` is that adjustment's group and code (`CO-16`), the
  largest one when several do.

A zero payment that is all deductible is therefore not a denial. Reversals
(CLP02 = 22) are kept as such; `ingest.apply_reversals` cancels the
adjudication they reverse so it is not counted twice.

Remark codes (RARCs): `LQ*HE` in a service line (2110), `MIA05/20-23` and
`MOA03-07` for the claim (2100); `remark_codes` lists the line's, then the
claim's. They never change the denial rule.

Completeness, for the lenient reader (`readfile`): a claim balances when
CLP03 minus all its CAS amounts (claim and lines) equals CLP04; the
transaction when BPR02 = sum of CLP04 - sum of PLB amounts (the 835's own
balancing rules, 005010X221A1 section 1.10.2, "Service Line Balancing" and
"Claim Balancing", restated in X12 RFI 2601; AMT segments such as interest are
information only, interest nets into PLB L6: RFI 2123). A claim that does not balance is a
warning, unless its transaction stops without SE right after it: then it was
cut and is dropped. A service line whose SVC amounts cannot be read is dropped
and named on its own (`_drop_line`): its claim and the claim's other lines are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from denial_risk.x12.codes import (
    DENIED_CLAIM_STATUS,
    NOT_A_DENIAL_CARCS,
    patient_key,
    payer_type_for,
)
from denial_risk.x12.segments import ERROR, WARNING, Issue, Seg, SegmentRouter, X12FileError, parse_date

_SVC_SEPARATORS = (">", ":", "^", "\\", "!")
# Claim payment remark code elements (X221A1): MIA05, MIA20-23; MOA03-07. LQ01 = HE (remark codes).
_MIA_REMARKS = (5, 20, 21, 22, 23)
_MOA_REMARKS = (3, 4, 5, 6, 7)
_CENT = 0.005


@dataclass
class RemitLine:
    qualifier: str
    code: str | None
    modifiers: list[str]
    charge: float
    paid: float
    units: int
    service_date: str | None = None
    line_control: str | None = None
    adjustments: list[tuple[str, str, float]] = field(default_factory=list)  # (group, carc, amount)
    remarks: list[str] = field(default_factory=list)  # LQ*HE


@dataclass
class RemitClaim:
    claim_id: str
    status: str
    charge: float
    paid: float
    patient_responsibility: float | None
    filing: str | None
    payer_id: str | None
    provider_id: str | None
    patient_id: str | None
    received_date: str | None
    claim_date: str | None
    source_file: str
    adjustments: list[tuple[str, str, float]] = field(default_factory=list)
    lines: list[RemitLine] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # MIA / MOA
    segment: int = 0  # position of the CLP in its file
    dropped_lines: list[RemitLine] = field(default_factory=list)  # unreadable SVC: out of the table
    payer_claim_id: str | None = None  # CLP07, the payer's claim control number (a replacement's REF*F8)
    adjudication_date: str | None = None  # the remit's DTM*405 production date, else BPR16
    initial: RemitClaim | None = None  # the adjudication a reversal cancelled before this one (ingest)

    @property
    def payer_type(self) -> str | None:
        return payer_type_for(self.filing)

    def imbalance(self) -> str | None:
        """None when CLP03 - all CAS amounts = CLP04, else both figures."""
        adjusted = sum(a for _, _, a in self.adjustments) + sum(
            a for line in self.lines + self.dropped_lines for _, _, a in line.adjustments
        )
        if abs(self.charge - adjusted - self.paid) < _CENT:
            return None
        return (
            f"CLP03 {self.charge:,.2f} - adjustments {adjusted:,.2f} = {self.charge - adjusted:,.2f}, "
            f"but CLP04 = {self.paid:,.2f}"
        )


def remark_codes(claim: RemitClaim, line: RemitLine | None) -> str:
    """The line's remark codes, then the claim's, `|`-joined (each once)."""
    codes = (line.remarks if line is not None else []) + claim.remarks
    return "|".join(dict.fromkeys(codes))


def denial_of(adjustments: list[tuple[str, str, float]]) -> str | None:
    """The adjustment that explains a denial (largest non-cost-sharing, non-contractual), 'GR-CODE'."""
    best = None
    for group, code, amount in adjustments:
        if code in NOT_A_DENIAL_CARCS or amount <= 0:
            continue
        if best is None or amount > best[2]:
            best = (group, code, amount)
    return f"{best[0]}-{best[1]}" if best else None


def line_outcome(claim: RemitClaim, line: RemitLine | None) -> tuple[bool, str, float | None]:
    """(denied, denial_reason, paid_amount) of a line, or of the whole claim when `line` is None."""
    if line is None:
        paid = claim.paid
        own = claim.adjustments
    else:
        paid = line.paid
        own = line.adjustments
    reason = denial_of(own) or denial_of(claim.adjustments)
    if claim.status == DENIED_CLAIM_STATUS:
        return True, reason or "", paid
    if abs(paid) < 0.005 and reason:
        return True, reason, paid
    return False, "", paid


def _split_procedure(comps: list[str], parser: Remit835Parser, seg: Seg) -> list[str]:
    """SVC01/SVC06 components; tolerates a composite written with the wrong separator (HC>55669)."""
    if len(comps) == 1 and len(comps[0]) > 3:
        text = comps[0]
        for sep in _SVC_SEPARATORS:
            if sep in text and text.index(sep) == 2:
                cid = parser.claim.claim_id if parser.claim is not None else None
                parser._warn(f"{seg.id} composite uses {sep!r}, not the ISA16 separator", seg.n, cid)
                return text.split(sep)
    return comps


class Remit835Parser(SegmentRouter):
    """Feed the segments of one 835 transaction (ST..SE); collect `claims`.

    `feed` raises X12FileError for a claim it cannot read (a malformed amount, no
    CLP01); `drop_claim` then discards that claim and skips to the next one.
    """

    CLAIM_START = "CLP"
    BOUNDARIES = ("CLP", "LX", "PLB", "SE")  # segments that close a claim loop

    def __init__(self, source_file: str, issues: list[Issue], transaction: str | None = None):
        self.source_file = source_file
        self.issues = issues
        self.transaction = transaction
        self.claims: list[RemitClaim] = []
        self.payer_id = None
        self.payer_ref = None
        self.trn_payer = None
        self.provider_id = None
        self.claim: RemitClaim | None = None
        self.line: RemitLine | None = None
        self.n1 = ""
        self._insured = None
        self._patient = None
        self.current_id: str | None = None  # the claim being read (also one that failed to start)
        self.skipping = False
        self.bpr: tuple[float, int] | None = None  # (BPR02, segment)
        self.clp_paid = 0.0  # sum of CLP04
        self.remit_date: str | None = None  # DTM*405, else BPR16
        self.plb = 0.0  # sum of PLB adjustment amounts

    def _warn(self, message: str, n: int | None, claim_id: str | None = None) -> None:
        self.issues.append(Issue(WARNING, message, n, self.transaction, claim_id))

    def _payer(self) -> str | None:
        return self.payer_id or self.payer_ref or self.trn_payer

    def _flush(self) -> None:
        claim = self.claim
        if claim is not None:
            claim.patient_id = patient_key(self._insured or self._patient)
            gap = claim.imbalance()
            if gap:
                self._warn(f"claim {claim.claim_id} does not balance: {gap}", claim.segment, claim.claim_id)
            self.claims.append(claim)
        self.claim = None
        self.line = None
        self._insured = None
        self._patient = None

    def drop_claim(self) -> str | None:
        """Discard the claim being read; skip its remaining segments. Returns its id."""
        dropped = self.current_id
        self.claim = None
        self.line = None
        self._insured = self._patient = None
        self.skipping = True
        return dropped

    def open_claim_gap(self) -> str | None:
        """Why the claim still open is incomplete (it does not balance), or None."""
        return self.claim.imbalance() if self.claim is not None else None

    def finish(self) -> None:
        self._flush()
        if self.bpr is None:
            return
        bpr02, n = self.bpr
        expected = self.clp_paid - self.plb
        if abs(bpr02 - expected) >= _CENT:
            self._warn(
                f"the transaction does not balance: BPR02 = {bpr02:,.2f}, but sum of CLP04 - sum of PLB = "
                f"{expected:,.2f} (CLP04 {self.clp_paid:,.2f}, PLB {self.plb:,.2f})",
                n,
            )

    # -- header, claim boundaries and totals ------------------------------------------------
    def _bpr(self, seg: Seg) -> None:
        try:
            self.bpr = (seg.amount(2, "BPR02", required=True), seg.n)
            if self.remit_date is None:  # DTM*405, read later, takes precedence
                self.remit_date = parse_date(seg.v(16))
        except X12FileError as exc:
            self._warn(f"{exc}: the transaction's balance is not checked", seg.n)

    def _trn(self, seg: Seg) -> None:
        self.trn_payer = seg.v(3) or None

    def _n1(self, seg: Seg) -> None:
        self.n1 = seg.v(1)
        if self.n1 == "PR":
            self.payer_id = seg.v(4) or None
        elif self.n1 == "PE":
            self.provider_id = seg.v(4) if seg.v(3) == "XX" and seg.v(4) else None

    def _ref(self, seg: Seg) -> None:
        if self.claim is None:
            if self.n1 == "PR" and seg.v(1) == "2U":
                self.payer_ref = seg.v(2) or None
        elif self.line is not None and seg.v(1) == "6R":
            self.line.line_control = seg.v(2) or None

    def _lx(self, seg: Seg) -> None:
        self._flush()

    def _plb(self, seg: Seg) -> None:
        self._flush()
        for k in range(4, 15, 2):
            try:
                amount = seg.amount(k, f"PLB{k:02d}")
            except X12FileError as exc:
                self._warn(f"{exc}: left out of the transaction's balance", seg.n)
                continue
            self.plb += amount or 0.0

    def _clp(self, seg: Seg) -> None:
        self._flush()
        claim_id = seg.v(1).strip()
        self.current_id = claim_id or None
        if not claim_id:
            raise X12FileError(f"remittance without a claim id (CLP01) in segment {seg.n}")
        self.claim = RemitClaim(
            claim_id=claim_id,
            status=seg.v(2),
            charge=seg.amount(3, "CLP03", required=True),
            paid=seg.amount(4, "CLP04", required=True),
            patient_responsibility=seg.amount(5, "CLP05"),
            filing=seg.v(6) or None,
            payer_id=self._payer(),
            provider_id=self.provider_id,
            patient_id=None,
            received_date=None,
            claim_date=None,
            source_file=self.source_file,
            segment=seg.n,
            payer_claim_id=seg.v(7).strip() or None,
            adjudication_date=self.remit_date,
        )
        self.clp_paid += self.claim.paid

    # -- inside a claim -----------------------------------------------------------------------
    def _cas(self, seg: Seg) -> None:
        group = seg.v(1)
        target = self.line.adjustments if self.line is not None else self.claim.adjustments
        for k in range(2, 20, 3):
            code = seg.v(k).strip()
            if not code:
                continue
            amount = seg.amount(k + 1, f"CAS{k + 1:02d}", required=True)
            target.append((group, code, amount))

    def _nm1(self, seg: Seg) -> None:
        entity = seg.v(1)
        if entity == "QC":
            self._patient = seg.v(9) or " ".join((seg.v(3), seg.v(4))).strip() or None
        elif entity == "IL":
            self._insured = seg.v(9) or None

    def _dtm_header(self, seg: Seg) -> None:
        """DTM*405 (production date) before the claims dates the remit; inside a claim, `_dtm`."""
        if self.claim is not None:
            self._dtm(seg)
        elif seg.v(1) == "405":
            self.remit_date = parse_date(seg.v(2)) or self.remit_date

    def _dtm(self, seg: Seg) -> None:
        q = seg.v(1)
        d = parse_date(seg.v(2))
        if self.line is not None and q in ("472", "150"):
            self.line.service_date = self.line.service_date if q == "150" and self.line.service_date else d
        elif self.line is None and q in ("232", "050"):
            if q == "232":
                self.claim.claim_date = d
            else:
                self.claim.received_date = d

    def _svc(self, seg: Seg) -> None:
        proc = seg.comps(6) if seg.v(6) else seg.comps(1)
        proc = _split_procedure(proc, self, seg)
        code = (proc[1].strip().upper() or None) if len(proc) > 1 else None
        try:
            charge = seg.amount(2, "SVC02", required=True)
            paid = seg.amount(3, "SVC03", required=True)
            units = seg.amount(7 if seg.v(6) and seg.v(7) else 5, "SVC05")
        except X12FileError as exc:
            self._drop_line(seg, code, exc)
            return
        self.line = RemitLine(
            qualifier=proc[0] if proc else "",
            code=code,
            modifiers=list(dict.fromkeys(m.strip().upper() for m in proc[2:6] if m.strip())),
            charge=charge,
            paid=paid,
            units=int(round(units)) if units is not None else 1,
        )
        if self.line.code is None:
            cid = self.claim.claim_id
            self._warn(f"SVC without a procedure code (claim {cid})", seg.n, cid)
        self.claim.lines.append(self.line)

    def _drop_line(self, seg: Seg, code: str | None, exc: X12FileError) -> None:
        """An SVC whose amounts cannot be read: that line is dropped and named, not its claim. Its
        CAS, DTM and LQ segments still land on it (so they are not taken for the claim's), and its
        adjustments still count in the claim's balance."""
        cid = self.claim.claim_id
        self.line = RemitLine(qualifier="", code=code, modifiers=[], charge=0.0, paid=0.0, units=1)
        self.claim.dropped_lines.append(self.line)
        self.issues.append(
            Issue(
                ERROR,
                f"service line {code or '(no procedure code)'} of claim {cid} dropped: {exc} "
                "(the claim's other lines are kept)",
                seg.n,
                self.transaction,
                cid,
                lost="line",
            )
        )

    def _lq(self, seg: Seg) -> None:
        code = seg.v(2).strip().upper()
        if self.line is not None and seg.v(1) == "HE" and code:
            self.line.remarks.append(code)

    def _remarks(self, seg: Seg) -> None:
        for i in _MIA_REMARKS if seg.id == "MIA" else _MOA_REMARKS:
            code = seg.v(i).strip().upper()
            if code:
                self.claim.remarks.append(code)

    _RESUME_AT = ("CLP", "LX", "PLB")  # where reading starts again after a dropped claim
    _ANYWHERE = {
        "BPR": _bpr,
        "TRN": _trn,
        "N1": _n1,
        "REF": _ref,
        "LX": _lx,
        "PLB": _plb,
        "CLP": _clp,
        "DTM": _dtm_header,
    }
    _IN_CLAIM = {
        "CAS": _cas,
        "NM1": _nm1,
        "DTM": _dtm,
        "SVC": _svc,
        "LQ": _lq,
        "MIA": _remarks,
        "MOA": _remarks,
    }
