"""837 claims (5010 X222 professional, 4010 X098; institutional SV2 lines too) -> claim lines.

One row per service line (2400 loop), in the contract's column names. The
parser is a small state machine over pyx12's segments: HL levels (20 billing
provider, 22 subscriber, 23 patient), the claim (CLM, 2300) and its lines
(LX, 2400). Segments of loops it does not need (2310 providers, 2320 other
payers, 2420 line providers, ...) are skipped, being careful that the SBR /
NM1 of a 2320 "other subscriber" loop never overrides the claim's own payer.

Completeness, for the lenient reader (`readfile`): a claim is complete when
every LX has its SV1/SV2 and its line charges add up to CLM02 (the guides'
rule: 005010X222A1/X223A2, CLM02 "Total Claim Charge Amount" must equal the
sum of the service lines' charges, SV102/SV203). One that does not is a warning, unless its transaction stops
without SE right after it: then it was cut and is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from denial_risk.contract import schema
from denial_risk.x12.codes import (
    ICD9_QUALIFIERS,
    ICD10_QUALIFIERS,
    PWK_TO_FLAG,
    patient_key,
    payer_type_for,
)
from denial_risk.x12.segments import WARNING, Issue, Seg, SegmentRouter, X12FileError, parse_date

FLAG_COLUMNS = schema.BOOLEAN_FLAGS


@dataclass
class ClaimStats:
    claims: int = 0
    lines: int = 0
    icd9_claims: int = 0
    claims_without_lines: int = 0

    def add(self, other: ClaimStats) -> None:
        self.claims += other.claims
        self.lines += other.lines
        self.icd9_claims += other.icd9_claims
        self.claims_without_lines += other.claims_without_lines


def _undot(code: str) -> str:
    return code.replace(".", "").strip().upper()


class Claim837Parser(SegmentRouter):
    """Feed the segments of one 837 transaction (ST..SE); collect (claim id, line rows) in `claims`."""

    CLAIM_START = "CLM"
    BOUNDARIES = ("CLM", "HL", "SE")  # segments that close a claim loop

    def __init__(
        self,
        source_file: str,
        version: str,
        gs_date: str | None,
        stats: ClaimStats,
        issues: list[Issue],
        transaction: str | None = None,
    ):
        self.source_file = source_file
        self.version = version
        self.submission_date = gs_date
        self.stats = stats
        self.issues = issues
        self.transaction = transaction
        self.current_id: str | None = None  # the claim being read (also one that failed to start)
        self.skipping = False
        self.claims: list[tuple[str, list[dict]]] = []  # (claim id, line rows) per CLM
        self.provider_id = None
        self._reset_subscriber()
        self.claim = None
        self.line = None
        self.last_nm1 = ""
        # institutional claims: CLM05-1 is a facility type, not a place of service
        self.institutional = "X223" in version or "X096" in version

    # -- levels -------------------------------------------------------------
    def _reset_subscriber(self) -> None:
        self.filing = None
        self.payer_id = None
        self.member_id = None
        self.sub_name = ("", "", "")
        self.dep_name = None  # (last, first, dob) when the patient is a dependent (HL 23)

    def _warn(self, message: str, n: int | None, claim_id: str | None) -> None:
        self.issues.append(Issue(WARNING, message, n, self.transaction, claim_id))

    def _flush_claim(self) -> None:
        claim = self.claim
        if claim is None:
            return
        self._flush_line()
        gap = self._imbalance(claim)
        if gap:
            self._warn(f"claim {claim['claim_id']} does not balance: {gap}", claim["n"], claim["claim_id"])
        if not claim["lines"]:
            self.stats.claims_without_lines += 1
        self.stats.claims += 1
        if claim["icd9"]:
            self.stats.icd9_claims += 1
        self.claims.append((claim["claim_id"], claim["lines"]))
        self.claim = None

    def _flush_line(self) -> None:
        line, claim = self.line, self.claim
        if line is None or claim is None:
            self.line = None
            return
        self.line = None
        if line.get("_no_service"):
            cid = claim["claim_id"]
            self._warn(
                f"claim line {cid}/{line['line_number']} has no SV1/SV2 service (skipped)", line["_n"], cid
            )
            claim["missing_service"] += 1
            return
        codes = claim["dx"]  # [(qualifier set, code)] in HI order
        pointers = line.pop("_pointers")
        if pointers:
            chosen = [codes[p - 1] for p in pointers if 1 <= p <= len(codes)]
        else:
            chosen = list(codes)
        icd10 = list(dict.fromkeys(c for is9, c in chosen if not is9))
        icd9 = list(dict.fromkeys(c for is9, c in chosen if is9))
        flags = dict(claim["flags"])
        flags.update(line.pop("_flags"))
        dep = self.dep_name
        if self.member_id:
            pid = patient_key(self.member_id, *(dep or ("", "", "")))
        else:
            pid = patient_key(*self.sub_name, *(dep or ("", "", "")))
        row = {
            "claim_id": claim["claim_id"],
            "service_date": line.pop("_date") or claim["date"],
            "payer_type": payer_type_for(self.filing),
            "hcpcs_code": line.pop("hcpcs_code"),
            "modifiers": "|".join(line.pop("_mods")),
            "diagnosis_codes": "|".join(icd10),
            "billed_amount": line.pop("billed_amount"),
            "line_number": line.pop("line_number"),
            "patient_id": pid,
            "provider_id": self.provider_id,
            "payer_id": self.payer_id,
            "submission_date": self.submission_date,
            "units": line.pop("units"),
            "place_of_service": line.pop("_pos") or claim["pos"],
            **{c: (True if flags.get(c) else None) for c in FLAG_COLUMNS},
            "prior_same_code_12m": None,
            "icd9_diagnosis_codes": "|".join(icd9),
            "x12_line_control_number": line.pop("_lcn"),
            "source_file": self.source_file,
            "claim_frequency": claim["frequency"],
            "original_claim_ref": claim["original_ref"],
        }
        claim["lines"].append(row)

    @staticmethod
    def _imbalance(claim: dict, open_line: dict | None = None) -> str | None:
        """None when every line has a service and the line charges add up to CLM02, else why not."""
        total = sum(r["billed_amount"] or 0.0 for r in claim["lines"])
        missing = claim["missing_service"]
        if open_line is not None:
            if open_line["_no_service"]:
                missing += 1
            else:
                total += open_line["billed_amount"] or 0.0
        parts = []
        if missing:
            parts.append(f"{missing} line(s) without SV1/SV2")
        if abs(total - claim["charge"]) >= 0.005:
            parts.append(f"CLM02 = {claim['charge']:,.2f} but its lines add up to {total:,.2f}")
        return "; ".join(parts) or None

    def open_claim_gap(self) -> str | None:
        """Why the claim still open is incomplete, or None (no open claim, or a complete one)."""
        if self.claim is None:
            return None
        return self._imbalance(self.claim, self.line)

    def drop_claim(self) -> str | None:
        """Discard the claim being read; skip to the next claim (CLM) or level (HL). Returns its id."""
        self.claim = None
        self.line = None
        self.skipping = True
        return self.current_id

    def finish(self) -> None:
        self._flush_claim()

    # -- segments -----------------------------------------------------------

    def _bht(self, seg: Seg) -> None:
        d = parse_date(seg.v(4))
        if d:
            self.submission_date = d

    def _hl(self, seg: Seg) -> None:
        self._flush_claim()
        level = seg.v(3)
        if level == "20":
            self.provider_id = None
            self._reset_subscriber()
        elif level == "22":
            self._reset_subscriber()
        elif level == "23":
            self.dep_name = ("", "", "")

    def _sbr(self, seg: Seg) -> None:
        if self.claim is None:  # 2000B; an SBR after CLM is a 2320 other payer
            self.filing = seg.v(9) or None

    def _nm1(self, seg: Seg) -> None:
        entity = seg.v(1)
        self.last_nm1 = entity
        if self.claim is not None:
            return  # 2310x / 2330x / 2420x: not needed
        if entity == "85":
            self.provider_id = seg.v(9) if seg.v(8) == "XX" and seg.v(9) else None
        elif entity == "IL":
            self.member_id = seg.v(9) or None
            self.sub_name = (seg.v(3), seg.v(4), "")
        elif entity == "PR":
            self.payer_id = seg.v(9) or None
        elif entity == "QC" and self.dep_name is not None:
            self.dep_name = (seg.v(3), seg.v(4), "")

    def _dmg(self, seg: Seg) -> None:
        if self.claim is None:
            dob = seg.v(2)
            if self.last_nm1 == "QC" and self.dep_name is not None:
                self.dep_name = (self.dep_name[0], self.dep_name[1], dob)
            elif self.last_nm1 == "IL":
                self.sub_name = (self.sub_name[0], self.sub_name[1], dob)

    def _clm(self, seg: Seg) -> None:
        self._flush_claim()
        claim_id = seg.v(1).strip()
        self.current_id = claim_id or None
        if not claim_id:
            raise X12FileError(f"claim without a claim id (CLM01) in segment {seg.n}")
        charge = seg.amount(2, "CLM02", required=True)
        self.claim = {
            "claim_id": claim_id,
            "charge": charge,
            "n": seg.n,
            "missing_service": 0,
            "pos": None if self.institutional else (seg.v(5, 0) or None),
            "frequency": seg.v(5, 2) or None,  # CLM05-3: 1 original, 7 replacement, 8 void
            "original_ref": None,  # 2300 REF*F8: the payer's claim control number it replaces
            "dx": [],
            "icd9": False,
            "flags": {},
            "date": None,
            "lines": [],
        }

    def _hi(self, seg: Seg) -> None:
        if self.line is not None:
            return
        claim = self.claim
        for comps in seg.els[1:]:
            qual = comps[0] if comps else ""
            code = _undot(comps[1]) if len(comps) > 1 else ""
            if not code:
                continue
            if qual in ICD10_QUALIFIERS:
                claim["dx"].append((False, code))
            elif qual in ICD9_QUALIFIERS:
                claim["dx"].append((True, code))
                claim["icd9"] = True

    def _flags_here(self) -> dict:
        return self.line["_flags"] if self.line is not None else self.claim["flags"]

    def _pwk(self, seg: Seg) -> None:
        flag = PWK_TO_FLAG.get(seg.v(1))
        if flag:
            self._flags_here()[flag] = True

    def _ref(self, seg: Seg) -> None:
        qual = seg.v(1)
        if qual == "G1" and seg.v(2):
            self._flags_here()["has_prior_auth"] = True
        elif qual == "6R" and self.line is not None:
            self.line["_lcn"] = seg.v(2) or None
        elif qual == "F8" and self.line is None:
            self.claim["original_ref"] = seg.v(2).strip() or None

    def _dtp(self, seg: Seg) -> None:
        if seg.v(1) in ("472", "434") or (seg.v(1) == "435" and self.claim["date"] is None):
            d = parse_date(seg.v(3))
            if self.line is not None and seg.v(1) == "472":
                self.line["_date"] = d
            elif self.line is None and self.claim["date"] is None:
                self.claim["date"] = d

    def _lx(self, seg: Seg) -> None:
        self._flush_line()
        try:
            number = int(seg.v(1))
        except ValueError:
            raise X12FileError(f"malformed line number LX01={seg.v(1)!r} in segment {seg.n}") from None
        self.line = {
            "line_number": number,
            "hcpcs_code": None,
            "_mods": [],
            "billed_amount": None,
            "units": 1,
            "_pos": None,
            "_pointers": [],
            "_flags": {},
            "_date": None,
            "_lcn": None,
            "_no_service": True,
            "_n": seg.n,
        }

    def _sv(self, seg: Seg) -> None:
        if self.line is None:
            return
        sid = seg.id
        line = self.line
        line["_no_service"] = False
        if sid == "SV1":
            proc, charge_i, units_i = seg.comps(1), 2, 4
            line["_pos"] = seg.v(5) or None
            pointers = []
            for p in seg.comps(7):
                if p.strip().isdigit():
                    pointers.append(int(p))
            line["_pointers"] = pointers
        else:
            proc, charge_i, units_i = seg.comps(2), 3, 5
        line["hcpcs_code"] = proc[1].strip().upper() if len(proc) > 1 and proc[1].strip() else None
        line["_mods"] = list(dict.fromkeys(m.strip().upper() for m in proc[2:6] if m.strip()))
        line["billed_amount"] = seg.amount(charge_i, f"{sid}{charge_i:02d}", required=True)
        units = seg.amount(units_i, f"{sid}{units_i:02d}")
        line["units"] = int(round(units)) if units is not None else 1

    _RESUME_AT = ("CLM", "HL")  # where reading starts again after a dropped claim
    _ANYWHERE = {"BHT": _bht, "HL": _hl, "SBR": _sbr, "NM1": _nm1, "DMG": _dmg, "CLM": _clm}
    _IN_CLAIM = {"HI": _hi, "PWK": _pwk, "REF": _ref, "DTP": _dtp, "LX": _lx, "SV1": _sv, "SV2": _sv}
