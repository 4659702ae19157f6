"""A small, self-contained contract table generator for X12 round-trip tests and the benchmark.

Not the project's simulator (`denial_risk.simulate`): no denial mechanism,
just every contract column filled with plausible, internally consistent
values (claim-level fields equal across a claim's lines, labels consistent
with the 835 denial rule) so that write -> ingest can be checked exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk import schema

_CODES = ["L0627", "L0648", "L1833", "L1851", "L4361", "E0601", "E0114", "K0001", "A4253", "97760"]
_MODS = ["KX", "NU", "RT", "LT", "RR", "GA", "GZ", "99"]
_DX = ["M54.50", "M51.16", "M17.11", "M17.12", "G47.33", "S83.511A", "M48.06", "E11.9", "I10", "M25.561"]
_PAYERS = [("MCR01", "medicare"), ("MA002", "medicare_advantage"), ("MCD03", "medicaid"),
           ("AET04", "commercial"), ("BCB05", "commercial"), ("OTH06", "other")]
_REASONS = ["CO-16", "CO-4", "CO-50", "CO-197", "CO-29", "PR-204", "CO-11"]


def make_claims(n_lines: int, seed: int = 0) -> pd.DataFrame:
    """About `n_lines` claim lines (whole claims of 1-4 lines) with every contract column."""
    rng = np.random.default_rng(seed)
    rows = []
    claim_no = 0
    npis = [f"1{rng.integers(10**8, 10**9 - 1)}" for _ in range(40)]
    while len(rows) < n_lines:
        claim_no += 1
        n = int(rng.integers(1, 5))
        payer_id, payer_type = _PAYERS[int(rng.integers(len(_PAYERS)))]
        service = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 540)))
        submission = service + pd.Timedelta(days=int(rng.integers(1, 120)))
        patient = f"M{int(rng.integers(1, max(2, n_lines // 4))):08d}"
        provider = npis[int(rng.integers(len(npis)))]
        pos = "12" if rng.random() < 0.7 else "11"
        all_denied = rng.random() < 0.08
        for line in range(1, n + 1):
            k = int(rng.integers(0, 3))
            mods = list(dict.fromkeys(rng.choice(_MODS, size=k, replace=False).tolist()))
            dx = list(dict.fromkeys(rng.choice(_DX, size=int(rng.integers(1, 4)), replace=False).tolist()))
            billed = round(float(rng.uniform(20, 1500)), 2)
            denied = all_denied or rng.random() < 0.12
            if denied:
                reason, paid = _REASONS[int(rng.integers(len(_REASONS)))], 0.0
            else:
                reason = ""
                paid = 0.0 if rng.random() < 0.03 else round(billed * float(rng.uniform(0.4, 1.0)), 2)
            flags = {c: (True if rng.random() < 0.5 else None) for c in schema.BOOLEAN_FLAGS}
            rows.append({
                "claim_id": f"C{seed:02d}{claim_no:08d}",
                "service_date": service.strftime("%Y-%m-%d"),
                "payer_type": payer_type,
                "hcpcs_code": _CODES[int(rng.integers(len(_CODES)))],
                "modifiers": "|".join(mods),
                "diagnosis_codes": "|".join(dx),
                "billed_amount": billed,
                "line_number": line,
                "patient_id": patient,
                "provider_id": provider,
                "payer_id": payer_id,
                "submission_date": submission.strftime("%Y-%m-%d"),
                "units": int(rng.integers(1, 3)),
                "place_of_service": pos,
                **flags,
                "prior_same_code_12m": None,
                "denied": denied,
                "denial_reason": reason,
                "paid_amount": paid,
            })
    df = pd.DataFrame(rows)
    for c in schema.BOOLEAN_FLAGS:
        df[c] = df[c].astype("boolean")
    df["prior_same_code_12m"] = df["prior_same_code_12m"].astype("Int64")
    return df
