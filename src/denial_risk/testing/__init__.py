"""Hand-built claim tables for tests, examples and benchmarks (no simulator, no denial mechanism).

- `make_frame`, `one_line`, `lines`: *normalised* frames (the documented dtypes) for feature and model tests;
- `make_claims`: a contract table in file form with every column filled consistently (claim-level fields
  equal across a claim's lines, labels that follow the 835 denial rule), so X12 write -> ingest can be
  checked exactly.
"""

from __future__ import annotations

import errno

import numpy as np
import pandas as pd

from denial_risk.contract import schema

# (code, what it is): spinal (not sided, no KX rule, limit 1), knee (sided, KX for Medicare,
# limit 1 a line), AFO, upper limb, custom-fabricated spinal, PAP supplies (no lifetime), outside the
# policy table, invalid (L0620: never a HCPCS code), CPT.
CODES = ["L0627", "L1832", "L1906", "L3916", "L0452", "A7035", "E1399", "L0620", "97760"]
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
    for (
        c
    ) in schema.OPTIONAL:  # the record's columns (eligibility, ordering NPI, order and visit dates): unknown
        if c not in df:
            dtype = schema.NORMALISED_DTYPES[c]
            df[c] = (
                pd.Series(pd.NaT, index=df.index, dtype=dtype)
                if dtype.startswith("datetime")
                else pd.Series(pd.array([None] * n, dtype=dtype))
            )
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
        dtype = base[k].dtype if k in base else schema.NORMALISED_DTYPES[k]
        if k in schema.DATE_COLUMNS:
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


# --- another team's claim table: CPT codes, no modifiers, no documentation flags, extra columns

# Specialty → (CPT codes it bills, ICD-10-CM diagnoses it codes, log-odds of a denial). The codes are
# common CPT Category I codes of each specialty (AMA CPT); the diagnoses are ICD-10-CM codes in their
# dotted form, as billing systems export them.
_CPT_SPECIALTIES = {
    "family_medicine": (["99213", "99214", "99203", "36415"], ["I10", "E11.9", "Z00.00", "J06.9"], 0.0),
    "physical_therapy": (["97110", "97140", "97530", "97161"], ["M54.50", "M25.561", "M62.81"], 0.8),
    "dermatology": (["11102", "11103", "17000", "99213"], ["L82.1", "D48.5", "L57.0"], 0.4),
    "cardiology": (["93000", "93306", "99214"], ["I10", "R00.2", "I48.91"], 0.2),
    "orthopedics": (["20610", "29125", "99203", "73030"], ["M17.11", "M25.511", "S93.401A"], 0.6),
    "radiology": (["71046", "73030", "72100"], ["R07.9", "M54.2"], -0.3),
    "laboratory": (["36415", "80053", "85025"], ["E78.5", "D64.9"], -0.5),
    "emergency": (["99283", "99284", "12001"], ["R10.9", "R51.9"], 0.1),
}
# The six yes/no columns, and the share of claims with "N" in each (blank in 4% of claims).
CPT_FLAGS = {
    "coverage_checked": 0.18,
    "referral_on_file": 0.25,
    "in_network": 0.12,
    "telehealth": 0.8,  # "N" for 80%: most visits are in person
    "new_patient": 0.7,
    "secondary_insurance": 0.75,
}
CPT_CATEGORICAL = "specialty"
_CPT_PAYERS = [("MCR01", "medicare"), ("BCBS1", "commercial"), ("AETN2", "commercial"), ("MCD03", "medicaid")]
# CARCs (X12 Claim Adjustment Reason Codes, x12.org/codes/claim-adjustment-reason-codes): 31 patient not
# identified as insured, 288 referral absent, 242 not provided by network providers; the rest generic.
_CPT_OTHER_REASONS = ["CO-16", "CO-50", "CO-97", "CO-4"]


def _cpt_flags(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per claim: 'Y' / 'N' / '' (blank) for each of the six flags."""
    out = {}
    for name, p_no in CPT_FLAGS.items():
        u = rng.random(n)
        out[name] = np.where(u < 0.04, "", np.where(rng.random(n) < p_no, "N", "Y"))
    return out


def _cpt_logit(flags: dict[str, np.ndarray], specialty: np.ndarray) -> tuple[np.ndarray, dict]:
    """Per-claim log-odds of a denial (additive: a logistic regression's world) and each CARC's share.

    A blank flag counts half a "N". `telehealth`, `new_patient` and `secondary_insurance` are noise.
    """
    no = {k: (v == "N").astype(float) + 0.5 * (v == "").astype(float) for k, v in flags.items()}
    causes = {
        "CO-31": 2.6 * no["coverage_checked"],
        "CO-288": 2.0 * no["referral_on_file"],
        "CO-242": 1.6 * no["in_network"],
    }
    spec = np.array([_CPT_SPECIALTIES[s][2] for s in specialty])
    return -2.8 + spec + sum(causes.values()), causes


def make_cpt_claims(n_lines: int, seed: int = 0, *, truth: bool = False) -> pd.DataFrame:
    """About `n_lines` labelled lines shaped like a physician-practice export, in file form (strings).

    CPT codes, no modifiers, no documentation flags and no prior-use counts, so every policy feature
    is missing; six extra yes/no columns (`CPT_FLAGS`) and a categorical `specialty` for `--config`.
    A denial's log-odds add up effects of three flags and the specialty (`_cpt_logit`); claims have
    1-3 lines that share the claim's flags and outcome draw (a line escapes its claim's denial 5% of
    the time). `truth` adds `true_denial_probability` (an outcome column, so never a feature).
    """
    rng = np.random.default_rng(seed)
    n_claims = max(1, int(n_lines / 1.6))
    names = list(_CPT_SPECIALTIES)
    specialty = rng.choice(names, size=n_claims, p=[0.3, 0.15, 0.1, 0.1, 0.1, 0.08, 0.1, 0.07])
    flags = _cpt_flags(rng, n_claims)
    logit, causes = _cpt_logit(flags, specialty)
    p = 1 / (1 + np.exp(-logit))
    per_claim = rng.integers(1, 4, size=n_claims)
    claim = np.repeat(np.arange(n_claims), per_claim)[:n_lines]
    n = len(claim)
    line_no = np.concatenate([np.arange(1, k + 1) for k in per_claim])[:n]
    service = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 540, size=n_claims), unit="D")
    lag = rng.integers(1, 45, size=n_claims)
    spec = specialty[claim]
    code = np.array([rng.choice(_CPT_SPECIALTIES[s][0]) for s in spec])
    dx = np.array([rng.choice(_CPT_SPECIALTIES[s][1]) for s in spec])
    payer = rng.integers(len(_CPT_PAYERS), size=n_claims)[claim]
    denied = (rng.random(n_claims) < p)[claim] & (rng.random(n) < 0.95)
    billed = np.round(rng.gamma(3.0, 60.0, size=n) + 25, 2)
    weights = np.column_stack([*causes.values(), np.full(n_claims, 0.4)])[claim]
    labels = np.array([*causes, "other"])
    pick = (weights.cumsum(1) / weights.sum(1, keepdims=True) > rng.random((n, 1))).argmax(1)
    reason = np.where(labels[pick] == "other", rng.choice(_CPT_OTHER_REASONS, size=n), labels[pick])
    frame = pd.DataFrame(
        {
            "claim_id": [f"E{seed:02d}{c:07d}" for c in claim],
            "line_number": line_no,
            "patient_id": [f"MRN{c * 7919 % 100_003:06d}" for c in claim],
            "provider_id": [f"1{(c % 60) * 1_000_003 % 10**9:09d}" for c in claim],
            "payer_id": [_CPT_PAYERS[i][0] for i in payer],
            "payer_type": [_CPT_PAYERS[i][1] for i in payer],
            "service_date": service[claim].strftime("%Y-%m-%d"),
            "submission_date": (service + pd.to_timedelta(lag, unit="D"))[claim].strftime("%Y-%m-%d"),
            "hcpcs_code": code,
            "modifiers": "",
            "diagnosis_codes": dx,
            "units": np.where(np.char.startswith(code.astype(str), "97"), rng.integers(1, 5, size=n), 1),
            "place_of_service": np.where(flags["telehealth"][claim] == "Y", "02", "11"),
            "billed_amount": billed,
            **{k: v[claim] for k, v in flags.items()},
            CPT_CATEGORICAL: spec,
            "denied": np.where(denied, "true", "false"),
            "denial_reason": np.where(denied, reason, ""),
            "paid_amount": np.where(denied, 0.0, np.round(billed * rng.uniform(0.4, 0.9, size=n), 2)),
        }
    )
    if truth:
        frame["true_denial_probability"] = 0.95 * p[claim]
    return frame


class FullDiskWriter:
    """Stands in for pyarrow's CSV / Parquet writer on a full disk: errno 28, and no file named
    (as pyarrow reports it)."""

    def __init__(self, *args, **kwargs):
        pass

    def write_table(self, table):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    def close(self):
        pass
