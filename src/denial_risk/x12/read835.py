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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from denial_risk.x12.codes import (
    DENIED_CLAIM_STATUS,
    NOT_A_DENIAL_CARCS,
    patient_key,
    payer_type_for,
)
from denial_risk.x12.segments import Seg, X12FileError, parse_date

_SVC_SEPARATORS = (">", ":", "^", "\\", "!")


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

    @property
    def payer_type(self) -> str | None:
        return payer_type_for(self.filing)


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


def _split_procedure(comps: list[str], warnings: list[str], seg: Seg) -> list[str]:
    """SVC01/SVC06 components; tolerates a composite written with the wrong separator (HC>55669)."""
    if len(comps) == 1 and len(comps[0]) > 3:
        text = comps[0]
        for sep in _SVC_SEPARATORS:
            if sep in text and text.index(sep) == 2:
                warnings.append(f"segment {seg.n}: {seg.id} composite uses {sep!r}, not the ISA16 separator")
                return text.split(sep)
    return comps


class Remit835Parser:
    """Feed the segments of one 835 transaction (ST..SE); collect `claims`."""

    def __init__(self, source_file: str, warnings: list[str]):
        self.source_file = source_file
        self.warnings = warnings
        self.claims: list[RemitClaim] = []
        self.payer_id = None
        self.payer_ref = None
        self.trn_payer = None
        self.provider_id = None
        self.claim: RemitClaim | None = None
        self.line: RemitLine | None = None
        self.in_header = True
        self.n1 = ""
        self._insured = None
        self._patient = None

    def _payer(self) -> str | None:
        return self.payer_id or self.payer_ref or self.trn_payer

    def _flush(self) -> None:
        if self.claim is not None:
            self.claim.patient_id = patient_key(self._insured or self._patient)
            self.claims.append(self.claim)
        self.claim = None
        self.line = None
        self._insured = None
        self._patient = None

    def finish(self) -> None:
        self._flush()

    def feed(self, seg: Seg) -> None:
        sid = seg.id
        if sid == "TRN":
            self.trn_payer = seg.v(3) or None
        elif sid == "N1":
            self.n1 = seg.v(1)
            if self.n1 == "PR":
                self.payer_id = seg.v(4) or None
            elif self.n1 == "PE":
                self.provider_id = seg.v(4) if seg.v(3) == "XX" and seg.v(4) else None
        elif sid == "REF" and self.claim is None:
            if self.n1 == "PR" and seg.v(1) == "2U":
                self.payer_ref = seg.v(2) or None
        elif sid == "CLP":
            self._flush()
            claim_id = seg.v(1).strip()
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
            )
        elif sid == "PLB" or self.claim is None:
            return
        elif sid == "CAS":
            group = seg.v(1)
            target = self.line.adjustments if self.line is not None else self.claim.adjustments
            for k in range(2, 20, 3):
                code = seg.v(k).strip()
                if not code:
                    continue
                amount = seg.amount(k + 1, f"CAS{k + 1:02d}", required=True)
                target.append((group, code, amount))
        elif sid == "NM1":
            entity = seg.v(1)
            if entity == "QC":
                self._patient = seg.v(9) or " ".join((seg.v(3), seg.v(4))).strip() or None
            elif entity == "IL":
                self._insured = seg.v(9) or None
        elif sid == "DTM":
            q = seg.v(1)
            d = parse_date(seg.v(2))
            if self.line is not None and q in ("472", "150"):
                self.line.service_date = (
                    self.line.service_date if q == "150" and self.line.service_date else d
                )
            elif self.line is None and q in ("232", "050"):
                if q == "232":
                    self.claim.claim_date = d
                else:
                    self.claim.received_date = d
        elif sid == "SVC":
            proc = seg.comps(6) if seg.v(6) else seg.comps(1)
            proc = _split_procedure(proc, self.warnings, seg)
            units = seg.amount(7 if seg.v(6) and seg.v(7) else 5, "SVC05")
            self.line = RemitLine(
                qualifier=proc[0] if proc else "",
                code=(proc[1].strip().upper() or None) if len(proc) > 1 else None,
                modifiers=list(dict.fromkeys(m.strip().upper() for m in proc[2:6] if m.strip())),
                charge=seg.amount(2, "SVC02", required=True),
                paid=seg.amount(3, "SVC03", required=True),
                units=int(round(units)) if units is not None else 1,
            )
            if self.line.code is None:
                self.warnings.append(
                    f"segment {seg.n}: SVC without a procedure code (claim {self.claim.claim_id})"
                )
            self.claim.lines.append(self.line)
        elif sid == "REF" and self.line is not None and seg.v(1) == "6R":
            self.line.line_control = seg.v(2) or None
