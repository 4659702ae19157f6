"""Reworks linked: a denied line and what became of it (the rework queue's history, docs/x12.md).

Three links, each from the X12 itself:

* `reversal`: the payer reversed its adjudication (CLP02 = 22) and adjudicated the
  claim again (a reopening or a won appeal); `ingest.apply_reversals` keeps the
  cancelled adjudication as the new one's `initial`.
* `replacement`: a claim sent with frequency code 7 (CLM05-3) naming the payer's claim
  control number of the one it replaces (2300 REF*F8 = the earlier 835's CLP07).
* `resubmission`: a new claim (frequency 1) with the same claim id after lines of the
  earlier one came back unprocessable (MA130: corrected and sent as a new claim).

A linked row keeps its own (latest) labels and carries the first determination in
`initial_denial_reason`, `initial_remark_codes` and `initial_adjudication_date`; a
replaced row names its replacement in `replaced_by`. Only lines first denied are linked.
"""

from __future__ import annotations

from denial_risk.x12.read835 import RemitClaim, RemitLine, line_outcome, remark_codes

REMIT_COLUMNS = (
    "adjudication_date",
    "payer_claim_id",
    "rework_link",
    "initial_denial_reason",
    "initial_remark_codes",
    "initial_adjudication_date",
    "replaced_by",
)
UNPROCESSABLE = "MA130"


def initial_of(cancelled: RemitClaim | None) -> RemitClaim | None:
    """The first adjudication behind a cancelled one (a claim reversed twice keeps its first)."""
    if cancelled is None:
        return None
    return cancelled.initial or cancelled


def _same_line(initial: RemitClaim, line: RemitLine | None) -> RemitLine | None:
    if line is None or not initial.lines:
        return None
    if line.line_control:
        for old in initial.lines:
            if old.line_control == line.line_control:
                return old
    for old in initial.lines:
        if old.code == line.code and sorted(old.modifiers) == sorted(line.modifiers):
            return old
    return None


def remit_fields(rc: RemitClaim, line: RemitLine | None) -> dict:
    """The remit's date and claim number for a labelled row, and its reversal link when first denied."""
    out = {"adjudication_date": rc.adjudication_date, "payer_claim_id": rc.payer_claim_id}
    first = rc.initial
    if first is None:
        return out
    old = _same_line(first, line)
    if line is not None and old is None and first.lines:
        return out
    denied, reason, _ = line_outcome(first, old)
    if denied:
        out.update(
            rework_link="reversal",
            initial_denial_reason=reason,
            initial_remark_codes=remark_codes(first, old),
            initial_adjudication_date=first.adjudication_date,
        )
    return out


def _raw_id(claim_id: str) -> str:
    return str(claim_id).split("#", 1)[0]


def _original(rows: list[dict], by_ref: dict[str, str], by_raw: dict[str, list[str]], claims) -> tuple:
    """The earlier claim occurrence these rows rework, and how; (None, "") when none."""
    first = rows[0]
    if first.get("claim_frequency") == "7" and first.get("original_claim_ref"):
        ref = first["original_claim_ref"]
        key = by_ref.get(ref) or (by_raw.get(ref) or [None])[-1]
        return (claims[key], "replacement") if key else (None, "")
    for key in reversed(by_raw.get(_raw_id(first["claim_id"]), [])):
        if any(r.get("denied") and UNPROCESSABLE in str(r.get("remark_codes") or "") for r in claims[key]):
            return claims[key], "resubmission"
    return None, ""


def _pairs(rows: list[dict], old_rows: list[dict]) -> list[tuple[dict, dict]]:
    """Lines of a rework paired with the lines they rework: by line control number (REF*6R), else by
    line number with the same procedure code."""
    by_lcn = {r.get("x12_line_control_number"): r for r in old_rows if r.get("x12_line_control_number")}
    by_number = {r.get("line_number"): r for r in old_rows}
    out = []
    for row in rows:
        old = by_lcn.get(row.get("x12_line_control_number")) if row.get("x12_line_control_number") else None
        if old is None:
            old = by_number.get(row.get("line_number"))
            old = old if old is not None and old.get("hcpcs_code") == row.get("hcpcs_code") else None
        if old is not None:
            out.append((row, old))
    return out


def link_resubmissions(labelled: list[dict]) -> int:
    """Link replacement claims and resubmissions to the lines they rework (in place); returns links made."""
    claims: dict[str, list[dict]] = {}
    for row in labelled:
        claims.setdefault(row["claim_id"], []).append(row)
    by_ref: dict[str, str] = {}  # payer's claim number -> the latest occurrence seen so far
    by_raw: dict[str, list[str]] = {}
    made = 0
    for key, rows in claims.items():
        old_rows, how = _original(rows, by_ref, by_raw, claims)
        if rows[0].get("payer_claim_id"):
            by_ref[rows[0]["payer_claim_id"]] = key
        by_raw.setdefault(_raw_id(key), []).append(key)
        if old_rows is None:
            continue
        for row, old in _pairs(rows, old_rows):
            if not old.get("denied"):
                continue
            row.update(
                rework_link=how,
                initial_denial_reason=old.get("denial_reason"),
                initial_remark_codes=old.get("remark_codes"),
                initial_adjudication_date=old.get("adjudication_date"),
            )
            old["replaced_by"] = row["claim_id"]
            made += 1
    return made
