"""What each line's columns cause in the world: the causes of denial, read from a claim table.

Every cause is computed from the written columns (the normalised frame) and the world's
own knowledge (its suppliers, its payers' rules on the date, the patient's history), so
the same code judges a simulated line and any edited copy of it (`oracle`). Vectorised
over lines; lookups run once per distinct code, modifier string or diagnosis list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import facts, policy, reference, values
from denial_risk.synth.world import (
    DEFECTS,
    DOC_CAUSES,
    DOC_FLAGS,
    ELIGIBILITY,
    ELIGIBILITY_PROBLEM_RATE,
    GROUP_SHARES,
    LIFETIME_DAYS,
    LMN_MULTIPLIER,
    MISSING_KX_MA_EFFECT,
    NO_FACE_TO_FACE,
    ORTHOSES,
    PAYER_IDS,
    PAYER_TYPE_ORDER,
    PAYERS,
    POLICY_CHANGES,
    SIDED_BY_RULE,
)

GROUPS = tuple(GROUP_SHARES)
F2F_WINDOW_DAYS = 183  # a visit within the 6 months before the order (CGS, Required F2F and WOPD Q&A)


def _days(s: pd.Series | None, n: int) -> np.ndarray:
    """Dates as float days since the epoch; NaN when missing."""
    if s is None:
        return np.full(n, np.nan)
    d = pd.to_datetime(s, errors="coerce").to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = d.astype(np.int64).astype(np.float64)
    out[np.isnat(d)] = np.nan
    return out


def _tristate(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[col].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)


def _index_of(values: pd.Series, known: tuple[str, ...] | np.ndarray) -> np.ndarray:
    """Position of each value in `known` (-1 when not there or missing)."""
    pos = {v: i for i, v in enumerate(known)}
    codes, uniq = pd.factorize(values.astype("string"), use_na_sentinel=True)
    per = np.array([pos.get(str(u), -1) for u in uniq] + [-1], dtype=np.int64)
    return per[codes] if len(codes) else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class View:
    """A claim table as the world reads it: one array per fact, aligned on the frame's rows."""

    n: int
    payer: np.ndarray  # index into PAYERS (-1 unknown)
    ptype: np.ndarray  # index into PAYER_TYPE_ORDER (-1 other/unknown)
    supplier: np.ndarray  # index into the world's suppliers (-1 unknown)
    patient: np.ndarray  # index into the world's patients (-1 unknown)
    day: np.ndarray  # service date, days since the epoch
    lag: np.ndarray  # submission - service, days (NaN unknown)
    order_day: np.ndarray
    f2f_day: np.ndarray
    group: np.ndarray  # index into GROUPS (-1: no policy group)
    custom: np.ndarray
    unit_limit: np.ndarray  # float, NaN: none
    lifetime: np.ndarray  # has a reasonable useful lifetime
    expected: np.ndarray  # (n, DOC_FLAGS) the policy table's documents (before payer overrides)
    mods: dict[str, np.ndarray]
    units: np.ndarray
    hcpcs_status: np.ndarray  # valid / invalid / cpt / None
    code_shaped: np.ndarray  # a letter and four digits, or five digits
    dx_invalid: np.ndarray
    any_supports: np.ndarray  # 1 / 0 / NaN
    primary_supports: np.ndarray
    pos: np.ndarray  # place of service (object)
    docs: dict[str, np.ndarray]  # has_* flags as 1 / 0 / NaN
    eligibility: np.ndarray  # 1 / 0 / NaN
    npi_valid: np.ndarray  # ordering NPI check digit: 1 / 0 / NaN
    rules: dict[str, np.ndarray]  # Medicare's dated rules in force (Medicare lines only)
    medicare_list: dict[str, np.ndarray]  # the same rules as if the payer were Medicare


def view(frame: pd.DataFrame, supplier_npis: np.ndarray, patient_index: dict[str, int]) -> View:
    """Read the facts the world needs from a normalised claim table."""
    n = len(frame)
    codes = frame["hcpcs_code"].astype("string")
    dates = frame["service_date"]
    ptype_s = frame["payer_type"].astype("string")
    pol = facts.policy_for_rows(codes)
    expected_docs = pol["expected_documents"].astype("string").fillna("")
    e_codes, e_uni = pd.factorize(expected_docs, use_na_sentinel=False)
    per = np.array([[f in str(u).split("|") for f in DOC_FLAGS] for u in e_uni] or [[False] * len(DOC_FLAGS)])
    status = reference.hcpcs_status(codes).to_numpy(dtype=object, na_value=None)
    dx = values.normalise_diagnoses(
        frame["diagnosis_codes"].astype("string")
    )  # a payer reads M17.11 as M1711
    support = policy.diagnosis_support(pol["policy_group"].astype("string"), dx)
    bad, _, _ = facts.diagnosis_problems(dx)
    day = _days(dates, n)
    return View(
        n=n,
        payer=_index_of(frame["payer_id"], PAYER_IDS),
        ptype=_index_of(ptype_s, PAYER_TYPE_ORDER),
        supplier=_index_of(frame["provider_id"], tuple(supplier_npis)),
        patient=_patients(frame.get("patient_id"), patient_index, n),
        day=day,
        lag=_days(frame.get("submission_date"), n) - day,
        order_day=_days(frame.get("order_date"), n),
        f2f_day=_days(frame.get("face_to_face_date"), n),
        group=_index_of(pol["policy_group"], GROUPS),
        custom=pol["custom_fabricated"].fillna(False).to_numpy(dtype=bool),
        unit_limit=pol["unit_limit"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        lifetime=pol["useful_lifetime_years"].notna().to_numpy(dtype=bool),
        expected=per[e_codes] if n else np.zeros((0, len(DOC_FLAGS)), dtype=bool),
        mods=facts.modifier_flags(frame["modifiers"]),
        units=frame["units"].astype("Float64").fillna(1.0).to_numpy(dtype=float),
        hcpcs_status=status,
        code_shaped=codes.str.fullmatch(r"[A-Z]\d{4}|\d{5}").fillna(False).to_numpy(dtype=bool),
        dx_invalid=(bad.to_numpy(dtype=object) != ""),
        any_supports=support["any_supports"].to_numpy(dtype="float64", na_value=np.nan),
        primary_supports=support["primary_supports"].to_numpy(dtype="float64", na_value=np.nan),
        pos=frame["place_of_service"].astype("string").fillna("").to_numpy(dtype=object),
        docs={f: _tristate(frame, f) for f in DOC_FLAGS},
        eligibility=_tristate(frame, "eligibility_verified"),
        npi_valid=facts.npi_valid(frame["ordering_npi"]) if "ordering_npi" in frame else np.full(n, np.nan),
        rules=facts.dated_rules(codes, dates, ptype_s),
        medicare_list=facts.dated_rules(codes, dates, None),
    )


def _patients(ids: pd.Series | None, index: dict[str, int], n: int) -> np.ndarray:
    if ids is None or not index:
        return np.full(n, -1, dtype=np.int64)
    codes, uniq = pd.factorize(ids.astype("string"), use_na_sentinel=True)
    per = np.array([index.get(str(u), -1) for u in uniq] + [-1], dtype=np.int64)
    return per[codes]


# --------------------------------------------------------------------------- payer rules on the date


def prior_auth_required(v: View, change_day: int) -> tuple[np.ndarray, np.ndarray]:
    """(required, newly): Medicare by its dated list; other payers by their groups and their changes."""
    required = v.rules["prior_auth"].copy()
    newly = np.zeros(v.n, dtype=bool)
    after = v.day >= change_day
    for pi, p in enumerate(PAYERS):
        if p.payer_type == "medicare":
            continue
        mine = v.payer == pi
        groups = [GROUPS.index(g) for g in p.prior_auth_groups]
        required |= mine & np.isin(v.group, groups)
        for ch in POLICY_CHANGES:
            if ch.payer_id != p.payer_id or ch.policy_group is None:
                continue
            g = GROUPS.index(ch.policy_group)
            if ch.kind == "prior_auth_added":
                hit = mine & (v.group == g) & after
                newly |= hit & ~required
                required |= hit
            elif ch.kind == "prior_auth_dropped":
                required &= ~(mine & (v.group == g) & after)
    return required, newly


def filing_limit(v: View, change_day: int) -> np.ndarray:
    limit = np.full(v.n, np.nan)
    after = v.day >= change_day
    for pi, p in enumerate(PAYERS):
        limit[v.payer == pi] = p.filing_limit_days
        for ch in POLICY_CHANGES:
            if ch.payer_id == p.payer_id and ch.kind == "filing_limit":
                limit[(v.payer == pi) & after] = ch.filing_limit_days
    return limit


def expected_documents(v: View, pa_required: np.ndarray) -> np.ndarray:
    """(n, DOC_FLAGS): the documents this payer expects for this line (the table, with the payer's own
    additions and omissions; prior authorization where the payer requires it)."""
    exp = v.expected.copy()
    for pi, p in enumerate(PAYERS):
        for changes, on in ((p.documents_added, True), (p.documents_dropped, False)):
            for group, docs in changes.items():
                rows = (v.payer == pi) & (v.group == GROUPS.index(group))
                for d in docs:
                    exp[rows, DOC_FLAGS.index(d)] = on
    exp[:, DOC_FLAGS.index("has_prior_auth")] = pa_required
    return exp


def document_effects(v: View, expected: np.ndarray) -> np.ndarray:
    """(n, DOC_FLAGS): logit effect of each document missing (0 where not expected)."""
    eff = np.array([DOC_CAUSES[f].effect for f in DOC_FLAGS])[None, :] * expected
    lmn = np.array([LMN_MULTIPLIER[t] for t in PAYER_TYPE_ORDER] + [1.0])[v.ptype]
    j = DOC_FLAGS.index("has_medical_necessity_letter")
    eff[:, j] = eff[:, j] * lmn
    return eff


# --------------------------------------------------------------------------- causes on the line itself


def line_causes(v: View, change_day: int, same_or_similar: np.ndarray) -> dict[str, np.ndarray]:
    """Logit effect of each `DEFECTS` cause per line (0 where absent), from the written columns."""
    m = v.mods
    medicare = v.ptype == 0
    mcare_or_ma = v.ptype <= 1
    mcare_or_ma &= v.ptype >= 0
    side = m["RT"] | m["LT"] | m["50"]
    both = m["RT"] & m["LT"]
    sided = np.isin(v.group, [GROUPS.index(g) for g in SIDED_BY_RULE])
    kx_ma = np.array([p.kx_like_medicare for p in PAYERS] + [False])[v.payer]
    kx_list = v.rules["kx_required"] | (kx_ma & v.medicare_list["kx_required"])
    purchase = np.array([p.requires_purchase_modifier for p in PAYERS] + [False])[v.payer]
    limit = np.where(both, 2.0, 1.0) * v.unit_limit
    d = {
        "invalid_hcpcs": (v.hcpcs_status == "invalid") & v.code_shaped,
        "malformed_hcpcs": (v.hcpcs_status == "invalid") & ~v.code_shaped,
        "invalid_diagnosis": v.dx_invalid,
        "diagnosis_not_supporting": v.any_supports == 0.0,
        "primary_not_supporting": (v.primary_supports == 0.0) & (v.any_supports == 1.0),
        "missing_side": sided & ~side,
        "rtlt_one_line": v.rules["rt_lt_separate_lines"] & both,
        "both_sides_one_unit": sided & ~v.rules["rt_lt_separate_lines"] & both & (v.units < 2),
        "missing_kx": kx_list & ~m["KX"] & ~m["conflict"],
        "kx_with_ga_gz": m["KX"] & m["conflict"],
        "missing_cg": v.rules["cg_required"] & ~m["CG"],
        "ga_abn_on_file": m["GA"] & mcare_or_ma,
        "gz_no_abn": m["GZ"] & mcare_or_ma,
        "rental_modifier_on_purchase": np.isin(v.group, [GROUPS.index(g) for g in ORTHOSES]) & m["RR"],
        "missing_purchase_modifier": purchase & (v.group >= 0) & ~m["NU"] & ~m["RR"] & ~m["UE"],
        "late_filing": v.lag > filing_limit(v, change_day),
        "units_over_limit": v.units > limit,
        "same_or_similar": same_or_similar & v.lifetime & ~m["RA"] & ~facts.capped_rental_month(m),
        "facility_setting": (v.pos == "21") | ((v.pos == "31") & mcare_or_ma),
        "invalid_ordering_npi": v.npi_valid == 0.0,
        "order_after_delivery": v.rules["face_to_face_wopd"] & (v.order_day > v.day),
        "order_after_claim": v.order_day > v.day + v.lag,
        "face_to_face_not_qualifying": v.rules["face_to_face_wopd"]
        & ((v.f2f_day > v.order_day) | (_reference_day(v) - v.f2f_day > F2F_WINDOW_DAYS)),
    }
    effects = {name: np.where(d[name], DEFECTS[name].effect, 0.0) for name in DEFECTS}
    effects["missing_kx"] = np.where(d["missing_kx"] & ~medicare, MISSING_KX_MA_EFFECT, effects["missing_kx"])
    return effects


def _reference_day(v: View) -> np.ndarray:
    """The day a face-to-face visit must precede by at most 6 months: the order's, else the service's."""
    return np.where(np.isnan(v.order_day), v.day, v.order_day)


def eligibility_problem_rate(v: View, verify_habit: np.ndarray) -> np.ndarray:
    """P(the patient is not covered as billed): 0 if verified; its rate if not; unknown: not verified
    with the supplier's habit. `verify_habit` per line."""
    rate = np.array([ELIGIBILITY_PROBLEM_RATE[t] for t in PAYER_TYPE_ORDER] + [0.05])[v.ptype]
    return np.where(
        v.eligibility == 1.0, 0.0, np.where(v.eligibility == 0.0, rate, (1 - verify_habit) * rate)
    )


def no_face_to_face_rate(v: View, no_visit: np.ndarray) -> np.ndarray:
    """P(no qualifying visit) where Medicare's F2F list binds and the visit date is unknown."""
    return np.where(v.rules["face_to_face_wopd"] & np.isnan(v.f2f_day), no_visit, 0.0)


EFFECT_ELIGIBILITY = ELIGIBILITY.effect
EFFECT_NO_F2F = NO_FACE_TO_FACE.effect
LIFETIME = LIFETIME_DAYS
