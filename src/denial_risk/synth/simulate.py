"""The synthetic claim world: DME/orthotics claim lines and their first-pass outcome.

`simulate_claims(rows, seed)` returns a contract table (claims-schema.md: every
required and optional column, the labels `denied`, `denial_reason`,
`paid_amount`) plus `true_denial_probability`, the probability with which the
line's denial was drawn *given what the table shows*. Tests and benchmarks hold
a model against it (the Bayes limit); nothing in training or scoring may read
it (`schema.OUTCOME_COLUMNS`).

The world (facts from ../shared/domain.md, policies from `denial_risk.policy`)
==========================================================================

* Payers (`PAYERS`): ten payers of the four types, each with its own timely-filing
  limit (days after service) and prior-authorisation list (policy groups; the two
  Medicare DME MACs a short code list, `MEDICARE_PRIOR_AUTH_CODES`), a small
  strictness offset, and one Medicaid plan that wants a purchase/rental modifier
  (NU/RR) on every line. Patients keep their payer.
* Policy changes (`POLICY_CHANGES`) at `policy_change_date(start, months)`, the
  period's middle month: commercial payer COM301 starts requiring prior
  authorisation for knee orthoses (suppliers learn it over ~6 months, so its
  knee denial rate jumps, then eases), and Medicaid plan MCD401 shortens its
  filing limit from 365 to 180 days (for services from that date).
* Suppliers: 60 DME suppliers (10-digit NPIs with a valid check digit) that
  differ in size, product mix, documentation habit (how often each document is
  on file), coding accuracy (side/KX/unit/diagnosis errors, invalid codes),
  record completeness (how often the documentation flags are *unknown*), filing
  lag, charge mark-up and diagnosis format (a few write dotted ICD-10-CM).
* Patients (`P0001234`): a condition (policy group), a side, a preferred code, a
  payer and a usual supplier; patients come back (repeat claims, bilateral
  pairs, replacements), so `prior_same_code_12m` is the exact count of the
  patient's earlier lines for the same code in the 365 days before the service
  date within the file (plus, in the first year, a few from before the file).
* Claims: 1-4 lines sharing patient, supplier, payer, service and submission
  date; lines are real HCPCS Level II codes of the policy table's groups
  (popular codes more often), with real billable ICD-10-CM codes (supporting or,
  for a share, not supporting the device: `policy.supporting_diagnoses` /
  `non_supporting_diagnoses`), modifiers (RT/LT, KX, GA/GZ, NU/RR, KH/KI/KJ, 99
  when more than four apply), units, charges. About 0.5-1 % of lines carry an
  invalid code: `L1320` (not in HCPCS, domain.md), `LO627` (letter O), or a
  malformed / non-billable diagnosis (`M48X`, `M54`, `M545`, `S83`, ...).

The mechanism (what decides a denial)
=====================================

For line i with observable defects d_ij (0/1, computed from the written
columns only) and documentation flags T_if (true if the document is on file)::

    logit_i = base[payer_type] + strictness[payer] + supplier_effect[provider]
              + sum_j effect_j * d_ij
              + sum_f effect_f(payer_type) * expected_if * (1 - T_if)
    P(denied_i) = sigmoid(logit_i)

Observable defects (CARC, logit effect) -- `DEFECTS`:

==============================  =======  ======  ==========================================
defect                          CARC     effect  when (all from the line's columns)
==============================  =======  ======  ==========================================
invalid_hcpcs                   CO-181   6.5     code not in HCPCS Level II (`L1320`)
malformed_hcpcs                 CO-16    6.5     not a code at all (`LO627`)
invalid_diagnosis               CO-16    3.0     a listed ICD-10-CM code invalid or not billable
diagnosis_not_supporting        CO-11    2.2     no listed code starts with a supporting prefix
missing_side                    CO-4     2.3     sided code without RT/LT
both_sides_one_unit             CO-4     1.8     RT and LT on one line with units 1
missing_kx                      CO-4     2.5     Medicare (1.8 MA) where policy requires KX, no KX/GA/GZ
kx_with_ga_gz                   CO-4     2.0     KX on the same line as GA or GZ
ga_abn_on_file                  PR-204   2.8     GA (expected denial, ABN signed: patient owes)
gz_no_abn                       CO-50    2.8     GZ (expected denial, no ABN)
rental_modifier_on_purchase     CO-4     1.5     RR on an orthosis (purchase-only item)
missing_purchase_modifier       CO-4     1.5     no NU/RR where the payer wants one
late_filing                     CO-29    6.0     submission_date - service_date > payer's limit
units_over_limit                CO-151   2.2     units above the policy's unit limit
replacement_within_lifetime     CO-119   2.0     prior_same_code_12m > 0, purchase item with a lifetime
facility_setting                CO-97    1.8     place of service 21 (inpatient), or 31 (SNF) for Medicare/MA
==============================  =======  ======  ==========================================

Documentation (`DOC_EFFECTS`; expected per the policy's `expected_documents`,
measurements only for custom-fabricated codes, prior authorisation only where
the payer requires it for the code on the service date):

==============================  =======  ======
missing document                CARC     effect
==============================  =======  ======
has_prescription                CO-16    2.0
has_medical_necessity_letter    CO-50    1.2 x (Medicare 0.5, MA 0.8, commercial/Medicaid 1.2)
has_progress_notes              CO-50    1.3
has_measurements                CO-16    1.6
has_proof_of_delivery           CO-16    1.6
has_prior_auth                  CO-197   3.0
==============================  =======  ======

`has_photos` is recorded but never matters (a distractor).

Unknown documentation. A share of flags is written empty (claim-level: some
suppliers send no documentation status for a claim, and single flags go
missing). The truth behind an empty flag is still drawn -- it decides the
denial -- but `true_denial_probability` is its expectation over what the table
cannot show: the flag is on file with probability q_if, which depends only on
observable columns (supplier, code, payer, service date), so for a line with
hidden flags H::

    true_denial_probability_i = sum over a in {0,1}^H of
        prod_f q_if^a_f (1 - q_if)^(1 - a_f) * sigmoid(logit_i with T_iH = a)

It is therefore the exact Bayes probability given the line's columns, and
"unknown" carries its own risk. Nothing else is random: no noise enters the
logit; the Bernoulli draw is the only other chance. Flags, modifiers and hiding
never depend on the hidden truth, so nothing observable leaks it.

Base logits are solved per payer type (Newton steps on the simulated lines) so
that the mean `true_denial_probability` equals the published first-pass denial
rate (`TARGET_DENIAL_RATES`, domain.md: Medicare 8.4 %, Medicare Advantage
15.7 %, commercial 13.9 %, Medicaid 16.7 %). Supplier effects are N(0, 0.35).

Reason. A denied line's `denial_reason` is drawn among its active causes with
weight exp(effect) - 1 for each present defect (using the true documentation)
and 1 for the background (payer base), whose reason follows a payer-type mix
(`BACKGROUND_REASONS`). `paid_amount` is 0 when denied, else the allowed amount
(a payer-type share of a per-code fee, always below the billed charge).

Everything is vectorised numpy over lines, claims, patients (loops run over
payers, groups, codes or hidden-flag patterns only); the result depends only on
(rows, seed, start, months).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.contract import schema
from denial_risk.synth.catalog import _catalog, _diagnoses
from denial_risk.synth.world import (
    ALL_FLAGS,
    BACKGROUND_REASONS,
    DEFECTS,
    DOC_EFFECTS,
    DOC_FLAGS,
    GROUP_SHARES,
    INVALID_HCPCS,
    LMN_MULTIPLIER,
    MISSING_KX_MA_EFFECT,
    MODIFIER_BIT as _BIT,
    MODIFIER_ORDER,
    N_SUPPLIERS,
    ORTHOSES,
    PAYER_TYPE_ORDER,
    PAYERS,
    PAYMENT,
    PLACES_OF_SERVICE,
    POLICY_CHANGES,
    RENTAL_GROUPS,
    TARGET_DENIAL_RATES,
    TRUTH_COLUMN,
    Payer,
    PolicyChange,
    policy_change_date,
)

__all__ = [
    "BACKGROUND_REASONS",
    "DEFECTS",
    "DOC_EFFECTS",
    "PAYERS",
    "POLICY_CHANGES",
    "TARGET_DENIAL_RATES",
    "Payer",
    "PolicyChange",
    "SAMPLE",
    "TRUTH_COLUMN",
    "policy_change_date",
    "contract_frame",
    "make_sample_data",
    "simulate_claims",
    "split_labelled_backlog",
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


# --------------------------------------------------------------------------- helpers


def _npis(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 10-digit NPIs starting with 1, check digit by the Luhn rule on 80840 + 9 digits."""
    body = rng.choice(100_000_000, size=n, replace=False).astype(np.int64) + 100_000_000
    digits = np.stack([(body // 10 ** (8 - k)) % 10 for k in range(9)], axis=1)  # 9 digits, msd first
    # Luhn over 80840 + 9 digits + check: double every second digit from the right of the payload.
    payload = np.concatenate([np.tile([8, 0, 8, 4, 0], (n, 1)), digits], axis=1)
    dbl = payload[:, ::-1].copy()
    dbl[:, ::2] *= 2
    dbl = np.where(dbl > 9, dbl - 9, dbl)
    check = (10 - dbl.sum(axis=1) % 10) % 10
    return np.array([f"{b}{c}" for b, c in zip(body.tolist(), check.tolist())], dtype=object)


def _draw_within(rng: np.random.Generator, keys: np.ndarray, probs: list[np.ndarray],
                 values: list[np.ndarray] | None = None) -> np.ndarray:
    """For each row, draw from the categorical `probs[keys[row]]` (loop over keys, not rows)."""
    out = np.zeros(len(keys), dtype=np.int64)
    for k in np.unique(keys):
        hit = np.flatnonzero(keys == k)
        draw = rng.choice(len(probs[k]), size=len(hit), p=probs[k])
        out[hit] = draw if values is None else values[k][draw]
    return out


def _skewed(rng: np.random.Generator, n: int, size: np.ndarray | int, power: float = 2.0) -> np.ndarray:
    """Indices in [0, size) with early ones more frequent (u^power)."""
    return np.minimum((rng.random(n) ** power * size).astype(np.int64), np.asarray(size) - 1)


def _arrow_strings(values: np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] as an arrow string array (index -1 -> null), via a dictionary."""
    dictionary = pa.array(list(values), type=pa.string())
    idx = pa.array(index.astype(np.int32), mask=index < 0)
    return pa.DictionaryArray.from_arrays(idx, dictionary).cast(pa.string())


def _strings(values: np.ndarray, index: np.ndarray) -> pd.Series:
    """values[index] as a pandas string Series (index -1 -> <NA>)."""
    return pd.Series(pd.array(_arrow_strings(values, index), dtype="string"))


def _boolean(values: np.ndarray, hidden: np.ndarray) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(values.astype(bool), hidden.astype(bool)))


def _prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    arr = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.string()), width, "0")
    arr = pc.binary_join_element_wise(pa.scalar(prefix), arr, "")
    return pd.Series(pd.array(arr, dtype="string"))


# --------------------------------------------------------------------------- the world


@dataclass
class _Suppliers:
    npi: np.ndarray
    size: np.ndarray
    specialty: np.ndarray  # (S, G) probabilities
    doc_quality: np.ndarray
    coding_error: np.ndarray
    effect: np.ndarray
    kx_discipline: np.ndarray
    nu_habit: np.ndarray
    pa_habit: np.ndarray
    lag_median: np.ndarray
    late_share: np.ndarray
    dotted: np.ndarray
    block_hidden: np.ndarray
    flag_hidden: np.ndarray
    markup: np.ndarray
    invalid_hcpcs: np.ndarray
    invalid_dx: np.ndarray


def _suppliers(rng: np.random.Generator, n: int, n_groups: int) -> _Suppliers:
    shares = np.array(list(GROUP_SHARES.values()))
    spec = 0.5 * shares + 0.5 * rng.dirichlet(np.full(n_groups, 0.6), size=n)
    sloppy = rng.random(n) < 0.15
    return _Suppliers(
        npi=_npis(rng, n),
        size=rng.lognormal(0.0, 1.0, n),
        specialty=spec / spec.sum(axis=1, keepdims=True),
        doc_quality=rng.normal(0.0, 1.0, n),
        coding_error=np.where(sloppy, rng.uniform(0.10, 0.20, n), rng.beta(2, 60, n)),
        effect=rng.normal(0.0, 0.35, n),
        kx_discipline=rng.uniform(0.85, 0.99, n),
        nu_habit=rng.uniform(0.2, 0.95, n),
        pa_habit=rng.beta(18, 2, n),
        lag_median=np.exp(rng.uniform(np.log(3), np.log(40), n)),
        late_share=rng.beta(1.5, 140, n),
        dotted=rng.random(n) < 0.2,
        block_hidden=np.where(rng.random(n) < 0.12, rng.uniform(0.2, 0.5, n), 0.0),
        flag_hidden=rng.uniform(0.0, 0.04, n),
        markup=rng.uniform(1.4, 2.4, n),
        invalid_hcpcs=np.where(rng.random(n) < 0.2, rng.uniform(0.01, 0.04, n), rng.uniform(0, 0.003, n)),
        invalid_dx=np.where(rng.random(n) < 0.2, rng.uniform(0.01, 0.03, n), rng.uniform(0, 0.003, n)),
    )


def _lines_per_claim(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Lines per claim (1-4) whose sum is exactly `rows`."""
    k = rng.choice(np.array([1, 2, 3, 4]), size=max(rows, 1), p=[0.62, 0.25, 0.09, 0.04])
    total = np.cumsum(k)
    n_claims = int(np.searchsorted(total, rows) + 1) if rows > 0 else 0
    k = k[:n_claims].copy()
    if n_claims:
        k[-1] -= total[n_claims - 1] - rows
    return k


# --------------------------------------------------------------------------- main entry


def simulate_claims(rows: int, seed: int, start: str = "2024-01-01", months: int = 24) -> pd.DataFrame:
    """`rows` labelled claim lines of the world above, services from `start` over `months` months.

    Columns: the contract's required and optional columns, `denied`, `denial_reason`,
    `paid_amount`, then `true_denial_probability`, in the normalised dtypes
    (`schema.NORMALISED_DTYPES`), sorted by service date (then claim, line).
    Deterministic for (rows, seed, start, months).
    """
    return _simulate(rows, seed, start, months)[0]


def _simulate(rows: int, seed: int, start: str, months: int) -> tuple[pd.DataFrame, dict]:
    """The frame and the mechanism's internals (defect flags, base logits) for tests."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if months < 1:
        raise ValueError("months must be >= 1")
    rng = np.random.default_rng(seed)
    cat = _catalog()
    dx = _diagnoses()
    groups = cat.groups
    n_groups = len(groups)
    start_ts = pd.Timestamp(start).normalize()
    end_ts = start_ts + pd.DateOffset(months=months)
    n_days = int((end_ts - start_ts).days)
    change_day = int((policy_change_date(start, months) - start_ts).days)

    sup = _suppliers(rng, N_SUPPLIERS, n_groups)
    payer_types = np.array([p.payer_type for p in PAYERS], dtype=object)
    ptype_idx = np.array([PAYER_TYPE_ORDER.index(p.payer_type) for p in PAYERS])

    # ---- claims and patients
    k = _lines_per_claim(rng, rows)
    n_claims = len(k)
    n_pat = max(1, int(1.0 * n_claims))
    pat_weight = rng.lognormal(0.0, 0.8, n_pat)
    pat_payer = rng.choice(len(PAYERS), size=n_pat, p=np.array([p.share for p in PAYERS]))
    pat_group = rng.choice(n_groups, size=n_pat, p=np.array(list(GROUP_SHARES.values())))
    sup_by_group = [sup.size * sup.specialty[:, g] for g in range(n_groups)]
    pat_supplier = _draw_within(rng, pat_group, [w / w.sum() for w in sup_by_group])
    pat_side = rng.integers(0, 2, n_pat)  # 0 = RT, 1 = LT
    pat_code = _draw_within(rng, pat_group, list(cat.weights), list(cat.by_group))
    pat_number = rng.permutation(n_pat) + 1

    c_pat = rng.choice(n_pat, size=n_claims, p=pat_weight / pat_weight.sum())
    # service day: volume grows 15 % over the period (inverse CDF of a linear density)
    g = 0.15
    u = rng.random(n_claims)
    frac = (-1 + np.sqrt(1 + 2 * g * u + g * g * u)) / g if n_claims else u
    c_day = np.minimum((frac * n_days).astype(np.int64), n_days - 1)
    weekday = (start_ts.day_of_week + c_day) % 7
    move = rng.random(n_claims) < 0.9
    c_day = np.where((weekday == 5) & move & (c_day > 0), c_day - 1, c_day)
    c_day = np.where((weekday == 6) & move & (c_day < n_days - 1), c_day + 1, c_day)
    order = np.argsort(c_day, kind="stable")
    k, c_pat, c_day = k[order], c_pat[order], c_day[order]

    c_sup = np.where(rng.random(n_claims) < 0.9, pat_supplier[c_pat],
                     rng.choice(N_SUPPLIERS, size=n_claims, p=sup.size / sup.size.sum()))
    c_payer = pat_payer[c_pat]
    c_lag = np.round(sup.lag_median[c_sup] * rng.lognormal(0.0, 0.6, n_claims)).astype(np.int64) + 1
    late = rng.random(n_claims) < sup.late_share[c_sup]
    c_lag = np.where(late, rng.integers(60, 541, n_claims), c_lag)
    pos_codes = np.array([p for p, _ in PLACES_OF_SERVICE], dtype=object)
    c_pos = rng.choice(len(pos_codes), size=n_claims, p=np.array([w for _, w in PLACES_OF_SERVICE]))

    # ---- lines
    n = int(k.sum())
    claim = np.repeat(np.arange(n_claims), k)
    first = np.repeat(np.cumsum(k) - k, k)
    line_no = np.arange(n) - first + 1
    pat = c_pat[claim]
    s_ = c_sup[claim]
    payer = c_payer[claim]
    day = c_day[claim]
    ptype = ptype_idx[payer]

    own = rng.random(n) < np.where(line_no == 1, 0.8, 0.5)
    group = np.where(own, pat_group[pat], rng.choice(n_groups, size=n, p=np.array(list(GROUP_SHARES.values()))))
    code = _draw_within(rng, group, list(cat.weights), list(cat.by_group))
    code = np.where(own & (rng.random(n) < 0.35), np.where(group == pat_group[pat], pat_code[pat], code), code)
    # bilateral pairs: a later line repeats the first line's sided code on the other side
    side = pat_side[pat].copy()
    bilateral = (line_no > 1) & cat.sided[code[first]] & (rng.random(n) < 0.35)
    code = np.where(bilateral, code[first], code)
    # a later line that repeats the first line's code is the other side, or another code
    again = (line_no > 1) & ~bilateral & (code == code[first])
    bilateral |= again & cat.sided[code]
    redraw = again & ~cat.sided[code]
    if redraw.any():
        code[redraw] = _draw_within(rng, cat.group[code[redraw]], list(cat.weights), list(cat.by_group))
    side = np.where(bilateral, 1 - side[first], side)
    # invalid HCPCS on spinal lines (the billing guide's L1320; a typed letter O)
    inv_h = (group == groups.index("spinal_orthosis")) & (rng.random(n) < sup.invalid_hcpcs[s_] * 3)
    inv_pick = rng.choice(len(INVALID_HCPCS), size=n, p=[w for _, _, w in INVALID_HCPCS])
    code = np.where(inv_h & ~bilateral, cat.n_valid + inv_pick, code)
    # no line repeats another line of its claim (same code and side): redraw such codes
    for _ in range(4):
        sidekey = np.where(cat.sided[code], side, 2)
        key = (claim.astype(np.int64) * len(cat.codes) + code) * 3 + sidekey
        dup = np.ones(n, dtype=bool)
        dup[np.unique(key, return_index=True)[1]] = False
        dup &= cat.group[code] >= 0
        if not dup.any():
            break
        code[dup] = _draw_within(rng, cat.group[code[dup]], list(cat.weights), list(cat.by_group))
    # ---- prior same code in 12 months (exact within the file, plus a little history before it)
    prior = _prior_same_code(pat, code, day, len(cat.codes))
    # suppliers usually see the history: most repeats of a purchase item become another code
    redo = (prior > 0) & cat.lifetime[code] & ~bilateral & (rng.random(n) < 0.85)
    if redo.any():
        code[redo] = _draw_within(rng, cat.group[code[redo]], list(cat.weights), list(cat.by_group))
        prior = _prior_same_code(pat, code, day, len(cat.codes))
    pre = rng.random(n) < 0.02 * np.clip((365 - day) / 365.0, 0, 1)
    prior = prior + pre

    cgroup = cat.group[code]  # policy group of the written code (-1: none)
    has_policy = cgroup >= 0
    sided = cat.sided[code]
    err = sup.coding_error[s_]

    # units
    ulimit = cat.unit_limit[code]
    pap_sup = cgroup == groups.index("pap_supplies")
    units = np.where(pap_sup, 1 + (rng.random(n) * np.minimum(ulimit, 6)).astype(np.int64), 1)
    both_ok = sided & ~bilateral & (rng.random(n) < 0.06)  # RT|LT, units 2: bilateral on one line
    units = np.where(both_ok, 2, units)
    over = has_policy & (rng.random(n) < 0.3 * err + 0.004)
    units = np.where(over, np.maximum(units, ulimit) + rng.integers(1, 4, n), units)

    # modifiers (bit masks)
    bits = np.zeros(n, dtype=np.int64)
    rental = np.isin(cgroup, [groups.index(x) for x in RENTAL_GROUPS])
    rr = rental & (rng.random(n) < 0.92)
    nu = ~rr & (rng.random(n_claims)[claim] < sup.nu_habit[s_])  # a supplier's habit, claim by claim
    rr_wrong = np.isin(cgroup, [groups.index(x) for x in ORTHOSES]) & (rng.random(n) < 0.08 * err)
    bits |= np.where(nu & ~rr_wrong, _BIT["NU"], 0) | np.where(rr | rr_wrong, _BIT["RR"], 0)
    mcare = ptype <= 1
    month_mod = rng.choice(3, size=n, p=[0.35, 0.2, 0.45])
    bits |= np.where(rr & mcare, np.array([_BIT["KH"], _BIT["KI"], _BIT["KJ"]])[month_mod], 0)
    r = rng.random(n)
    miss_side = sided & (r < 0.4 * err + 0.01)
    both_err = sided & ~miss_side & (r < 0.55 * err + 0.013) & ~both_ok
    side_bit = np.where(side == 0, _BIT["RT"], _BIT["LT"])
    bits |= np.where(sided & ~miss_side, side_bit, 0)
    bits |= np.where(both_ok | both_err, _BIT["RT"] | _BIT["LT"], 0)
    units = np.where(both_err, 1, units)

    # diagnoses: primary supporting unless the supplier erred; 0-3 further codes
    nsup_p = np.clip(0.02 + 0.6 * err, 0, 0.5)
    not_sup = has_policy & (rng.random(n) < nsup_p)
    n_dx = rng.choice(np.array([1, 2, 3, 4]), size=n, p=[0.40, 0.35, 0.18, 0.07])
    gsafe = np.where(cgroup >= 0, cgroup, groups.index("spinal_orthosis"))
    sizes_s = np.array([len(p) for p in dx.supporting_pool])
    sizes_n = np.array([len(p) for p in dx.non_supporting_pool])
    pool_s = np.full((n_groups, sizes_s.max()), -1)
    pool_n = np.full((n_groups, sizes_n.max()), -1)
    for gi in range(n_groups):
        pool_s[gi, : sizes_s[gi]] = dx.supporting_pool[gi]
        pool_n[gi, : sizes_n[gi]] = dx.non_supporting_pool[gi]
    primary = np.where(not_sup, pool_n[gsafe, _skewed(rng, n, sizes_n[gsafe])],
                       pool_s[gsafe, _skewed(rng, n, sizes_s[gsafe])])
    inv_d = rng.random(n) < sup.invalid_dx[s_]
    primary = np.where(inv_d, dx.invalid_pool[rng.integers(0, len(dx.invalid_pool), n)], primary)
    slots = [primary]
    for j in range(1, 4):
        second_sup = ~not_sup & (rng.random(n) < 0.3)
        extra = np.where(second_sup, pool_s[gsafe, _skewed(rng, n, sizes_s[gsafe])],
                         dx.comorbid[rng.integers(0, len(dx.comorbid), n)])
        slots.append(np.where(n_dx > j, extra, -1))
    dx_idx = np.stack(slots, axis=1)
    for j in range(1, 4):  # a code is listed once
        dx_idx[(dx_idx[:, [j]] == dx_idx[:, :j]).any(axis=1), j] = -1

    # ---- payer rules at the service date
    pa_code = np.zeros((len(PAYERS), len(cat.codes)), dtype=bool)
    pa_code_new = np.zeros_like(pa_code)
    limit_before = np.array([p.filing_limit_days for p in PAYERS])
    limit_after = limit_before.copy()
    for pi, p in enumerate(PAYERS):
        in_groups = np.isin(cat.group, [groups.index(x) for x in p.prior_auth_groups])
        in_codes = np.isin(cat.codes, list(p.prior_auth_codes))
        pa_code[pi] = cat.pa_prone & (in_groups | in_codes)
    for ch in POLICY_CHANGES:
        pi = [p.payer_id for p in PAYERS].index(ch.payer_id)
        if ch.kind == "prior_auth":
            pa_code_new[pi] = cat.pa_prone & (cat.group == groups.index(ch.policy_group)) & ~pa_code[pi]
        elif ch.kind == "filing_limit":
            limit_after[pi] = ch.filing_limit_days
    after = day >= change_day
    pa_required = pa_code[payer, code] | (pa_code_new[payer, code] & after)
    newly = pa_code_new[payer, code] & after
    filing_limit = np.where(after, limit_after[payer], limit_before[payer])
    lag = c_lag[claim]

    # ---- documentation: probability on file (observable inputs only), truth, hidden
    z = sup.doc_quality[s_]
    custom = cat.custom[code]
    a = {
        "has_prescription": np.full(n, 3.0),
        "has_medical_necessity_letter": np.full(n, 1.0),
        "has_progress_notes": np.full(n, 1.8),
        "has_measurements": np.where(custom, 1.8, -1.2),
        "has_proof_of_delivery": np.full(n, 2.6),
        "has_photos": np.where(custom, 0.2, -0.8),
    }
    q = {f: _sigmoid(v + 0.9 * z) for f, v in a.items()}
    ramp = np.clip(0.2 + 0.8 * (day - change_day) / 180.0, 0.0, 1.0)
    q_pa_req = np.where(newly, 0.08 + (sup.pa_habit[s_] - 0.08) * ramp, sup.pa_habit[s_])
    q["has_prior_auth"] = np.where(pa_required, q_pa_req, 0.08)
    cu = rng.random((n_claims, len(ALL_FLAGS)))  # one uniform per claim and flag, shared by its lines
    truth = {f: cu[claim, j] < q[f] for j, f in enumerate(ALL_FLAGS)}
    block = rng.random(n_claims) < sup.block_hidden[c_sup]
    per_flag_rate = {f: sup.flag_hidden[c_sup] for f in ALL_FLAGS}
    per_flag_rate["has_prior_auth"] = sup.flag_hidden[c_sup] + 0.05
    per_flag_rate["has_photos"] = sup.flag_hidden[c_sup] + 0.15
    hu = rng.random((n_claims, len(ALL_FLAGS)))
    hidden = {f: (block | (hu[:, j] < per_flag_rate[f]))[claim] for j, f in enumerate(ALL_FLAGS)}

    # KX / GA / GZ (never from the hidden truth)
    kx_req = cat.kx[code] & mcare
    dx_support = dx.supports[gsafe[:, None], np.maximum(dx_idx, 0)] & (dx_idx >= 0)
    not_supporting = has_policy & ~dx_support.any(axis=1)
    ga = mcare & (rng.random(n) < np.where(not_supporting, 0.15, 0.008))
    gz = mcare & ~ga & (rng.random(n) < np.where(not_supporting, 0.05, 0.004))
    kx = np.where(kx_req, rng.random(n) < sup.kx_discipline[s_], rng.random(n) < 0.04)
    kx_conflict_ok = rng.random(n) < 0.3 * err + 0.05
    kx = kx & ~((ga | gz) & ~kx_conflict_ok)
    bits |= np.where(kx, _BIT["KX"], 0) | np.where(ga, _BIT["GA"], 0) | np.where(gz, _BIT["GZ"], 0)
    bits = _cap_modifiers(bits)

    # ---- observable defects (from the written values)
    has = lambda m: (bits & _BIT[m]) != 0  # noqa: E731
    kind = cat.invalid_kind[code]
    ptype_names = np.array(PAYER_TYPE_ORDER, dtype=object)[ptype]
    pos = pos_codes[c_pos[claim]]
    d = {
        "invalid_hcpcs": kind == "invalid_hcpcs",
        "malformed_hcpcs": kind == "malformed_hcpcs",
        "invalid_diagnosis": (dx.invalid[np.maximum(dx_idx, 0)] & (dx_idx >= 0)).any(axis=1),
        "diagnosis_not_supporting": not_supporting,
        "missing_side": sided & ~has("RT") & ~has("LT"),
        "both_sides_one_unit": sided & has("RT") & has("LT") & (units < 2),
        "missing_kx": kx_req & ~has("KX") & ~has("GA") & ~has("GZ"),
        "kx_with_ga_gz": has("KX") & (has("GA") | has("GZ")),
        "ga_abn_on_file": has("GA"),
        "gz_no_abn": has("GZ"),
        "rental_modifier_on_purchase": np.isin(cgroup, [groups.index(x) for x in ORTHOSES]) & has("RR"),
        "missing_purchase_modifier": np.array([p.requires_purchase_modifier for p in PAYERS])[payer]
        & has_policy & ~has("NU") & ~has("RR"),
        "late_filing": lag > filing_limit,
        "units_over_limit": has_policy & (units > cat.unit_limit[code]),
        "replacement_within_lifetime": (prior > 0) & cat.lifetime[code] & ~has("RR"),
        "facility_setting": (pos == "21") | ((pos == "31") & mcare),
    }
    effects = {name: np.where(d[name], eff, 0.0) for name, (_, eff) in DEFECTS.items()}
    effects["missing_kx"] = np.where(d["missing_kx"], np.where(ptype == 0, DEFECTS["missing_kx"][1],
                                                                MISSING_KX_MA_EFFECT), 0.0)
    expected = {f: cat.expected[code, j] for j, f in enumerate(DOC_FLAGS)}
    expected["has_prior_auth"] = pa_required
    lmn_mult = np.array([LMN_MULTIPLIER[t] for t in PAYER_TYPE_ORDER])[ptype]
    doc_eff = {f: np.where(expected[f], eff, 0.0) for f, (_, eff) in DOC_EFFECTS.items()}
    doc_eff["has_medical_necessity_letter"] = doc_eff["has_medical_necessity_letter"] * lmn_mult
    strict = np.array([p.strictness for p in PAYERS])[payer] + sup.effect[s_]
    x_obs = strict + sum(effects.values())

    # known part of the documentation logit; hidden flags enumerated
    known_doc = sum(np.where(hidden[f], 0.0, doc_eff[f] * ~truth[f]) for f in DOC_FLAGS)
    actual_doc = sum(doc_eff[f] * ~truth[f] for f in DOC_FLAGS)
    hid_mask = sum(((hidden[f] & (doc_eff[f] > 0)).astype(np.int64) << j) for j, f in enumerate(DOC_FLAGS))
    q_mat = np.stack([q[f] for f in DOC_FLAGS], axis=1)
    e_mat = np.stack([doc_eff[f] for f in DOC_FLAGS], axis=1)

    base = np.array([_logit(TARGET_DENIAL_RATES[t]) - 1.5 for t in PAYER_TYPE_ORDER])
    for _ in range(30):  # Newton steps: mean marginal probability per payer type = target
        p_marg, slope = _marginal(base[ptype] + x_obs + known_doc, hid_mask, q_mat, e_mat)
        got = np.bincount(ptype, weights=p_marg, minlength=4)
        cnt = np.bincount(ptype, minlength=4)
        der = np.bincount(ptype, weights=slope, minlength=4)
        present = cnt > 0
        target = np.array([TARGET_DENIAL_RATES[t] for t in PAYER_TYPE_ORDER])
        step = np.where(present & (der > 0), (target * cnt - got) / np.maximum(der, 1e-12), 0.0)
        base = base + np.clip(step, -2.0, 2.0)
        if np.all(np.abs(step) < 1e-6):
            break
    p_marg, _ = _marginal(base[ptype] + x_obs + known_doc, hid_mask, q_mat, e_mat)
    p_actual = _sigmoid(base[ptype] + x_obs + actual_doc)
    denied = rng.random(n) < p_actual

    # ---- reason: one active cause, weight exp(effect) - 1; background weight 1
    reason = _reasons(rng, denied, effects, {f: doc_eff[f] * ~truth[f] for f in DOC_FLAGS}, ptype_names)

    # ---- charges and payment
    fee = cat.fee[code]
    billed = np.round(fee * units * sup.markup[s_] * rng.lognormal(0.0, 0.05, n), 2)
    allowed_f = np.array([PAYMENT[t][0] * PAYMENT[t][1] for t in PAYER_TYPE_ORDER])[ptype]
    paid = np.where(denied, 0.0, np.round(fee * units * allowed_f, 2))

    # ---- the frame
    start64 = np.datetime64(start_ts.date(), "D")
    dotted = sup.dotted[s_]
    vocab_all = np.concatenate([dx.vocab, dx.dotted])
    v = len(dx.vocab)
    dx_cols = [_arrow_strings(vocab_all, np.where(dx_idx[:, j] >= 0, dx_idx[:, j] + v * dotted, -1))
               for j in range(4)]
    dx_text = pc.binary_join_element_wise(*dx_cols, "|", null_handling="skip")
    mod_uniq, mod_inv = np.unique(bits, return_inverse=True)
    mod_text = np.array([_modifier_string(int(b)) for b in mod_uniq], dtype=object)

    claim_no = np.arange(n_claims)
    out = pd.DataFrame({
        "claim_id": _prefixed_ids("CLM", claim_no + 1, 9).take(claim).reset_index(drop=True),
        "line_number": pd.array(line_no, dtype="Int64"),
        "patient_id": _prefixed_ids("P", pat_number[pat], max(7, len(str(n_pat)))),
        "provider_id": _strings(sup.npi, s_),
        "payer_id": _strings(np.array([p.payer_id for p in PAYERS], dtype=object), payer),
        "payer_type": _strings(payer_types, payer),
        "service_date": (start64 + day.astype("timedelta64[D]")).astype("datetime64[ns]"),
        "submission_date": (start64 + (day + lag).astype("timedelta64[D]")).astype("datetime64[ns]"),
        "place_of_service": _strings(pos_codes, c_pos[claim]),
        "hcpcs_code": _strings(cat.codes, code),
        "modifiers": _strings(mod_text, mod_inv.reshape(-1)),
        "units": pd.array(units, dtype="Int64"),
        "diagnosis_codes": pd.Series(pd.array(dx_text, dtype="string")),
        "billed_amount": billed,
    })
    for f in schema.BOOLEAN_FLAGS:
        out[f] = _boolean(truth[f], hidden[f])
    out["prior_same_code_12m"] = pd.array(prior, dtype="Int64")
    out["denied"] = pd.array(denied, dtype="boolean")
    out["denial_reason"] = reason
    out["paid_amount"] = paid
    out[TRUTH_COLUMN] = p_marg
    details = {
        "defects": pd.DataFrame(d),
        "missing_documents": pd.DataFrame({f: expected[f] & ~truth[f] for f in DOC_FLAGS}),
        "base_logit": dict(zip(PAYER_TYPE_ORDER, base.tolist(), strict=True)),
        "p_actual": p_actual,  # with the hidden documentation truth
        "p_if_unknown_on_file": _sigmoid(base[ptype] + x_obs + known_doc),
        "hidden_expected": hid_mask > 0,
        "change_date": policy_change_date(start, months),
    }
    return out, details


def _cap_modifiers(bits: np.ndarray) -> np.ndarray:
    """More than four modifiers: keep the first three (MODIFIER_ORDER) and add 99."""
    count = np.zeros_like(bits)
    for m in MODIFIER_ORDER[:-1]:
        count += (bits & _BIT[m]) != 0
    over = count > 4
    if not over.any():
        return bits
    capped = np.zeros_like(bits)
    kept = np.zeros_like(bits)
    for m in MODIFIER_ORDER[:-1]:
        on = ((bits & _BIT[m]) != 0) & (kept < 3)
        capped |= np.where(on, _BIT[m], 0)
        kept += on
    return np.where(over, capped | _BIT["99"], bits)


def _modifier_string(b: int) -> str:
    return schema.LIST_SEP.join(m for m in MODIFIER_ORDER if b & _BIT[m])


def _prior_same_code(pat: np.ndarray, code: np.ndarray, day: np.ndarray, n_codes: int) -> np.ndarray:
    """Lines of the same patient and code with a service date in [day - 365, day)."""
    span = int(day.max(initial=0)) + 800
    key = (pat.astype(np.int64) * n_codes + code) * span + day + 400
    srt = np.sort(key)
    return np.searchsorted(srt, key, side="left") - np.searchsorted(srt, key - 365, side="left")


def _marginal(known: np.ndarray, hid_mask: np.ndarray, q: np.ndarray, e: np.ndarray):
    """E[sigmoid(known + sum_hidden e_f (1 - T_f))] over hidden T_f ~ Bernoulli(q_f); and its slope."""
    p = _sigmoid(known)
    slope = p * (1 - p)
    rows = np.flatnonzero(hid_mask)
    if len(rows) == 0:
        return p, slope
    masks = hid_mask[rows]
    for m in np.unique(masks):
        r = rows[masks == m]
        flags = [j for j in range(q.shape[1]) if m >> j & 1]
        acc = np.zeros(len(r))
        acc_s = np.zeros(len(r))
        for assign in range(1 << len(flags)):
            w = np.ones(len(r))
            add = known[r].copy()
            for t, j in enumerate(flags):
                on = assign >> t & 1
                w *= q[r, j] if on else 1 - q[r, j]
                if not on:
                    add += e[r, j]
            pr = _sigmoid(add)
            acc += w * pr
            acc_s += w * pr * (1 - pr)
        p[r] = acc
        slope[r] = acc_s
    return p, slope


def _reasons(rng: np.random.Generator, denied: np.ndarray, effects: dict, doc_effects: dict,
             ptype_names: np.ndarray) -> pd.Series:
    rows = np.flatnonzero(denied)
    labels = [DEFECTS[k][0] for k in effects] + [DOC_EFFECTS[k][0] for k in doc_effects]
    w = np.stack([np.expm1(v[rows]) for v in (*effects.values(), *doc_effects.values())]
                 + [np.ones(len(rows))], axis=1)
    cum = np.cumsum(w, axis=1)
    pick = (cum < (rng.random(len(rows)) * cum[:, -1])[:, None]).sum(axis=1)
    pick = np.minimum(pick, w.shape[1] - 1)
    background = pick == w.shape[1] - 1
    out = np.empty(len(denied), dtype=object)
    out[:] = None
    chosen = np.array(labels + [""], dtype=object)[pick]
    bg_u = rng.random(len(rows))
    for t in np.unique(ptype_names[rows]):
        mix = BACKGROUND_REASONS.get(t, BACKGROUND_REASONS["other"])
        codes = np.array(list(mix), dtype=object)
        cumw = np.cumsum(list(mix.values()))
        hit = background & (ptype_names[rows] == t)
        chosen[hit] = codes[np.minimum(np.searchsorted(cumw, bg_u[hit] * cumw[-1]), len(codes) - 1)]
    out[rows] = chosen
    return pd.Series(pd.array(out, dtype="string"))


# --------------------------------------------------------------------------- files


def contract_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The simulated frame in file form: dates as calendar dates (ISO in CSV), the rest as is."""
    out = frame.copy()
    for c in schema.DATE_COLUMNS:
        if c in out:
            out[c] = pd.Series(pd.array(pa.array(out[c].to_numpy().astype("datetime64[D]")),
                                        dtype=pd.ArrowDtype(pa.date32())), index=out.index)
    return out


def split_labelled_backlog(frame: pd.DataFrame, cutoff: str | pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(labelled lines serviced before `cutoff`, unlabelled backlog from `cutoff` on).

    A claim belongs wholly to one side (its lines share a service date). The backlog
    drops the labels and `true_denial_probability`.
    """
    cut = pd.Timestamp(cutoff)
    before = frame["service_date"] < cut
    labelled = frame[before].reset_index(drop=True)
    backlog = frame[~before].drop(columns=[*schema.LABELS, TRUTH_COLUMN]).reset_index(drop=True)
    return labelled, backlog


SAMPLE = {"rows": 25_000, "seed": 7, "start": "2024-01-01", "months": 30, "labelled_months": 24}


def make_sample_data(out_dir="data/sample", *, rows: int = SAMPLE["rows"], seed: int = SAMPLE["seed"],
                     start: str = SAMPLE["start"], months: int = SAMPLE["months"],
                     labelled_months: int = SAMPLE["labelled_months"]) -> dict[str, int]:
    """The embedded sample: one simulated world cut in time.

    Lines serviced in the first `labelled_months` go to `claims.csv` (labelled, with
    `true_denial_probability`); the later ones to `backlog.csv` (no labels, no truth) and
    their truth to `backlog_truth.csv` (claim_id, line_number, true_denial_probability).
    Returns the row count per file.
    """
    from pathlib import Path

    from denial_risk.claims import files

    out = Path(out_dir)
    frame = simulate_claims(rows, seed, start=start, months=months)
    cutoff = pd.Timestamp(start).normalize() + pd.DateOffset(months=labelled_months)
    labelled, backlog = split_labelled_backlog(frame, cutoff)
    truth = frame.loc[frame["service_date"] >= cutoff, ["claim_id", "line_number", TRUTH_COLUMN]]
    files.write_table(contract_frame(labelled), out / "claims.csv")
    files.write_table(contract_frame(backlog), out / "backlog.csv")
    files.write_table(truth.reset_index(drop=True), out / "backlog_truth.csv")
    return {"claims.csv": len(labelled), "backlog.csv": len(backlog), "backlog_truth.csv": len(truth)}
