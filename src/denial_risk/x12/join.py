"""Join remittance lines (835) to claim lines (837).

Claims are paired by claim id; when the same claim id occurs more than once
(resubmissions, coordination of benefits, files sent twice) the n-th claim
occurrence is paired with the n-th remittance occurrence, in file order, and
the occurrences are kept apart (claim ids `X`, `X#2`, `X#3`, ...).

Inside a pair, remit lines are matched to claim lines by, in this order:
1. the line item control number (837 REF*6R = 835 REF*6R),
2. the procedure code and modifiers (the submitted ones: SVC06 when the
   payer changed the code), preferring an equal charge,
3. order among the lines still unmatched.
A remittance without service lines (claim-level adjudication) labels every
line of its claim from the claim level.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from denial_risk.x12.links import remit_fields
from denial_risk.x12.read835 import RemitClaim, RemitLine, line_outcome, remark_codes


@dataclass
class JoinResult:
    labelled: list[dict] = field(default_factory=list)
    unlabelled: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _key(code: str | None, mods) -> tuple:
    return (code or "", tuple(sorted(mods)))


def _remit_only_rows(rc: RemitClaim, claim_id: str, start: int = 1) -> list[dict]:
    rows = []
    lines: list[RemitLine | None] = list(rc.lines) or [None]
    for i, line in enumerate(lines, start=start):
        denied, reason, paid = line_outcome(rc, line)
        rows.append(
            {
                "claim_id": claim_id,
                "service_date": (line.service_date if line else None) or rc.claim_date,
                "payer_type": rc.payer_type,
                "hcpcs_code": line.code if line else None,
                "modifiers": "|".join(line.modifiers) if line else "",
                "diagnosis_codes": None,  # an 835 carries no diagnoses: unknown
                "billed_amount": line.charge if line else rc.charge,
                "line_number": i,
                "patient_id": rc.patient_id,
                "provider_id": rc.provider_id,
                "payer_id": rc.payer_id,
                "submission_date": rc.received_date,
                "units": line.units if line else None,
                "denied": denied,
                "denial_reason": reason,
                "paid_amount": paid,
                "remark_codes": remark_codes(rc, line),
                "x12_line_control_number": line.line_control if line else None,
                "remit_file": rc.source_file,
                "match_method": "remit_only",
                **remit_fields(rc, line),
            }
        )
    return rows


def _label(row: dict, rc: RemitClaim, line: RemitLine | None, method: str) -> dict:
    denied, reason, paid = line_outcome(rc, line)
    out = dict(row)
    out["denied"] = denied
    out["denial_reason"] = reason
    out["paid_amount"] = paid
    out["remark_codes"] = remark_codes(rc, line)
    out["remit_file"] = rc.source_file
    out["match_method"] = method
    out.update(remit_fields(rc, line))
    if out.get("payer_type") is None:
        out["payer_type"] = rc.payer_type
    return out


def _match_lines(rows: list[dict], rc: RemitClaim, res: JoinResult) -> None:
    c = res.counts
    if not rc.lines:
        # claim-level adjudication: the claim's outcome labels every line
        for row in rows:
            out = _label(row, rc, None, "claim")
            if len(rows) > 1:
                out["paid_amount"] = None  # only the claim total is known
            res.labelled.append(out)
            c["matched_lines_by_claim"] += 1
        return
    free = list(range(len(rows)))
    pairs: dict[int, tuple[RemitLine, str]] = {}
    pending: list[RemitLine] = []
    by_lcn = {
        rows[i].get("x12_line_control_number"): i for i in free if rows[i].get("x12_line_control_number")
    }
    for rl in rc.lines:
        i = by_lcn.get(rl.line_control) if rl.line_control else None
        if i is not None and i not in pairs:
            pairs[i] = (rl, "line_control_number")
        else:
            pending.append(rl)
    free = [i for i in free if i not in pairs]
    still: list[RemitLine] = []
    for rl in pending:
        k = _key(rl.code, rl.modifiers)
        cands = [
            i
            for i in free
            if _key(rows[i]["hcpcs_code"], rows[i]["modifiers"].split("|") if rows[i]["modifiers"] else [])
            == k
        ]
        if cands:
            same_charge = [i for i in cands if abs((rows[i]["billed_amount"] or 0) - rl.charge) < 0.005]
            i = (same_charge or cands)[0]
            pairs[i] = (rl, "procedure")
            free.remove(i)
        else:
            still.append(rl)
    for rl in list(still):
        if not free:
            break
        i = free.pop(0)
        pairs[i] = (rl, "order")
        still.remove(rl)
    for i, row in enumerate(rows):
        if i in pairs:
            rl, method = pairs[i]
            res.labelled.append(_label(row, rc, rl, method))
            c[f"matched_lines_by_{method}"] += 1
        else:
            res.unlabelled.append(row)
            c["unmatched_claim_lines"] += 1
    next_number = max([r["line_number"] or 0 for r in rows] + [0]) + 1
    for k, rl in enumerate(still):
        sub = RemitClaim(**{**rc.__dict__, "lines": [rl]})
        res.labelled.extend(_remit_only_rows(sub, rows[0]["claim_id"], start=next_number + k))
        c["unmatched_remit_lines"] += 1


def join(claims: list[tuple[str, list[dict]]], remits: list[RemitClaim]) -> JoinResult:
    """`claims`: (raw claim id, its line rows) per claim occurrence in file order; `remits` likewise."""
    res = JoinResult()
    c = res.counts
    remit_by_id: dict[str, list[RemitClaim]] = defaultdict(list)
    for rc in remits:
        remit_by_id[rc.claim_id].append(rc)
    seen: Counter = Counter()
    for raw_id, rows in claims:
        seen[raw_id] += 1
        n = seen[raw_id]
        claim_id = raw_id if n == 1 else f"{raw_id}#{n}"
        for r in rows:
            r["claim_id"] = claim_id
        c["claim_lines"] += len(rows)
        queue = remit_by_id.get(raw_id)
        if queue and len(queue) >= n:
            c["matched_claims"] += 1
            _match_lines(rows, queue[n - 1], res)
        else:
            c["unmatched_claims"] += 1
            c["unmatched_claim_lines"] += len(rows)
            res.unlabelled.extend(rows)
    for raw_id, queue in remit_by_id.items():
        for n, rc in enumerate(queue, start=1):
            c["remit_lines"] += max(1, len(rc.lines))
            if n <= seen.get(raw_id, 0):
                continue
            claim_id = raw_id if n == 1 else f"{raw_id}#{n}"
            c["unmatched_remit_claims"] += 1
            c["unmatched_remit_lines"] += max(1, len(rc.lines))
            res.labelled.extend(_remit_only_rows(rc, claim_id))
    return res
