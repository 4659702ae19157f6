"""Hand-built claim tables for tests, examples and benchmarks (no simulator, no denial mechanism).

- `make_frame`, `one_line`, `lines`: *normalised* frames (the documented dtypes) for feature and model tests;
- `make_claims`: a contract table in file form with every column filled consistently (claim-level fields
  equal across a claim's lines, labels that follow the 835 denial rule), so X12 write -> ingest can be
  checked exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema

# (code, what it is): spinal (not sided, no KX rule, limit 1), knee (sided, KX for Medicare,
# limit 2), AFO, upper limb, custom-fabricated spinal, PAP supplies (no lifetime), outside the
# policy table, invalid (L1320), CPT.
CODES = ["L0627", "L1832", "L1906", "L3916", "L0452", "A7035", "E1399", "L1320", "97760"]
DIAGNOSES = ["M5450", "M5450|M4806", "M1711", "Z96611", "M48X", "", "M1711|M5450", "S8300XA", "G4733"]
MODIFIERS = ["", "KX", "RT", "LT", "KX|RT", "KX|LT", "NU", "GA", "KX|GA", "RT|LT", "99|KX|RT|NU", "ZZ"]
PAYERS = [
    ("medicare", "MCR1"),
    ("medicare_advantage", "MA1"),
    ("commercial", "COM1"),
    ("commercial", "COM2"),
    ("medicaid", "MCD1"),
    ("other", "OTH1"),
]


def make_frame(n: int = 400, seed: int = 0, *, labels: bool = True) -> pd.DataFrame:
    """A normalised frame of `n` lines over ~2 years with every contract column."""
    rng = np.random.default_rng(seed)
    payer = [PAYERS[i] for i in rng.integers(len(PAYERS), size=n)]
    service = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, size=n), unit="D")
    lag = rng.integers(1, 200, size=n)

    def boolean(p_true: float, p_na: float) -> pd.Series:
        u = rng.random(n)
        vals = np.where(u < p_na, None, rng.random(n) < p_true)
        return pd.Series(pd.array(list(vals), dtype="boolean"))

    df = pd.DataFrame(
        {
            "claim_id": pd.array([f"C{i:06d}" for i in range(n)], dtype="string"),
            "line_number": pd.array(np.ones(n, dtype=int), dtype="Int64"),
            "patient_id": pd.array([f"P{i % 97:04d}" for i in range(n)], dtype="string"),
            "provider_id": pd.array(
                [None if i % 23 == 0 else f"{1000000000 + i % 7}" for i in range(n)], dtype="string"
            ),
            "payer_id": pd.array([p[1] for p in payer], dtype="string"),
            "place_of_service": pd.array(["12"] * n, dtype="string"),
            "payer_type": pd.array([p[0] for p in payer], dtype="string"),
            "hcpcs_code": pd.array(rng.choice(CODES, size=n), dtype="string"),
            "modifiers": pd.array(rng.choice(MODIFIERS, size=n), dtype="string"),
            "diagnosis_codes": pd.array(rng.choice(DIAGNOSES, size=n), dtype="string"),
            "service_date": service.astype("datetime64[ns]"),
            "submission_date": pd.Series(service + pd.to_timedelta(lag, unit="D"))
            .astype("datetime64[ns]")
            .where(rng.random(n) > 0.05),
            "billed_amount": np.round(rng.gamma(2.0, 150.0, size=n), 2),
            "units": pd.array(rng.choice([1, 1, 1, 2, 3], size=n), dtype="Int64"),
            "prior_same_code_12m": pd.array(
                [None if v < 0 else v for v in rng.integers(-1, 3, size=n)], dtype="Int64"
            ),
        }
    )
    for f in schema.BOOLEAN_FLAGS:
        df[f] = boolean(0.7, 0.15)
    if labels:
        p = 0.15 + 0.3 * (df["has_prior_auth"].fillna(True) == False).to_numpy()  # noqa: E712
        denied = rng.random(n) < p
        df["denied"] = pd.array(denied, dtype="boolean")
        df["denial_reason"] = pd.array(np.where(denied, "CO-197", None), dtype="string")
        remarks = np.where(rng.random(n) < 0.5, "N19|MA130", "M38")
        df["remark_codes"] = pd.array(np.where(denied, remarks, None), dtype="string")
        df["paid_amount"] = np.where(denied, 0.0, df["billed_amount"] * 0.8)
        df["true_denial_probability"] = p
    return df


def one_line(**values) -> pd.DataFrame:
    """A one-row frame: sensible defaults, overridden by `values` (plain Python values)."""
    base = make_frame(1, seed=0, labels=False)
    defaults = dict(
        hcpcs_code="L0627",
        modifiers="",
        diagnosis_codes="M5450",
        payer_type="medicare",
        payer_id="MCR1",
        units=1,
        prior_same_code_12m=0,
        billed_amount=100.0,
    )
    defaults.update(values)
    for k, v in defaults.items():
        dtype = base[k].dtype
        if k in ("service_date", "submission_date"):
            base[k] = pd.Series([pd.Timestamp(v) if v is not None else pd.NaT], dtype="datetime64[ns]")
        else:
            base[k] = pd.Series(pd.array([v], dtype=dtype))
    return base


def lines(*rows: dict) -> pd.DataFrame:
    return pd.concat([one_line(**r) for r in rows], ignore_index=True)


# --- a contract table for X12 round trips

_CODES = ["L0627", "L0648", "L1833", "L1851", "L4361", "E0601", "E0114", "K0001", "A4253", "97760"]
_MODS = ["KX", "NU", "RT", "LT", "RR", "GA", "GZ", "99"]
_DX = ["M54.50", "M51.16", "M17.11", "M17.12", "G47.33", "S83.511A", "M48.06", "E11.9", "I10", "M25.561"]
_PAYERS = [
    ("MCR01", "medicare"),
    ("MA002", "medicare_advantage"),
    ("MCD03", "medicaid"),
    ("AET04", "commercial"),
    ("BCB05", "commercial"),
    ("OTH06", "other"),
]
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
            rows.append(
                {
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
                }
            )
    df = pd.DataFrame(rows)
    for c in schema.BOOLEAN_FLAGS:
        df[c] = df[c].astype("boolean")
    df["prior_same_code_12m"] = df["prior_same_code_12m"].astype("Int64")
    return df
