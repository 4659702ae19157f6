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

Where things are
================

`world` holds the constants above (`PAYERS`, `POLICY_CHANGES`, `DEFECTS`,
`DOC_EFFECTS`, ...; the public ones are importable from here too), `catalog` the
code catalogue and diagnosis pools, `draw` the steps that draw what a line shows
(suppliers, patients, claims, codes, units, modifiers, diagnoses), `mechanism`
the steps that decide its outcome (payer rules, documentation, defects, the
base-rate solve, reason, payment). `_draw` below runs them in the random
stream's order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.contract import schema
from denial_risk.synth.catalog import Catalog, Diagnoses, _catalog, _diagnoses
from denial_risk.synth.coding import (
    draw_diagnoses,
    draw_kx_ga_gz,
    draw_modifiers,
    draw_units,
    modifier_string,
)
from denial_risk.synth.draw import (
    Codes,
    Lines,
    Patients,
    Period,
    Suppliers,
    Written,
    draw_claims,
    draw_codes,
    draw_patients,
    draw_suppliers,
    lines_per_claim,
    place_codes,
)
from denial_risk.synth.mechanism import (
    Defects,
    Denials,
    Documentation,
    draw_charges,
    draw_denials,
    draw_documentation,
    draw_reasons,
    find_defects,
    payer_rules,
)
from denial_risk.synth.world import (
    BACKGROUND_REASONS,
    DEFECTS,
    DOC_EFFECTS,
    DOC_FLAGS,
    N_SUPPLIERS,
    PAYER_TYPE_ORDER,
    PAYERS,
    POLICY_CHANGES,
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
    drawn = _draw(rows, np.random.default_rng(seed), Period.of(start, months))
    return _frame(drawn), _details(drawn)


@dataclass(frozen=True)
class _Drawn:
    """Everything one run drew, for the frame and the details."""

    period: Period
    cat: Catalog
    dx: Diagnoses
    sup: Suppliers
    pats: Patients
    lines: Lines
    codes: Codes
    written: Written
    docs: Documentation
    defects: Defects
    denials: Denials
    reason: pd.Series
    billed: np.ndarray
    paid: np.ndarray


def _draw(rows: int, rng: np.random.Generator, period: Period) -> _Drawn:
    """The steps in the random stream's order: moving, adding or dropping a draw changes every later value."""
    cat, dx = _catalog(), _diagnoses()
    sup = draw_suppliers(rng, N_SUPPLIERS, len(cat.groups))
    k = lines_per_claim(rng, rows)
    pats = draw_patients(rng, len(k), cat, sup)
    lines = Lines.of(draw_claims(rng, k, pats, sup, period), sup)
    codes = draw_codes(rng, cat, sup, pats, lines)
    units, both_ok = draw_units(rng, cat, lines, codes)
    bits, units = draw_modifiers(rng, cat, sup, lines, codes, units, both_ok)
    written = Written(units, bits, draw_diagnoses(rng, cat, dx, sup, lines, codes))
    rules = payer_rules(cat, period, lines, codes)
    docs = draw_documentation(rng, cat, sup, period, lines, codes, rules)
    written = draw_kx_ga_gz(rng, cat, dx, sup, lines, codes, written)
    defects = find_defects(cat, dx, lines, codes, written, rules)
    denials = draw_denials(rng, sup, lines, docs, defects)
    reason = draw_reasons(rng, lines, docs, defects, denials.denied)
    billed, paid = draw_charges(rng, cat, sup, lines, codes, written, denials.denied)
    return _Drawn(
        period, cat, dx, sup, pats, lines, codes, written, docs, defects, denials, reason, billed, paid
    )


# --------------------------------------------------------------------------- the frame


def _frame(r: _Drawn) -> pd.DataFrame:
    """The contract table: string columns through arrow dictionaries, unknown flags as <NA>."""
    lines, cat, dx, written = r.lines, r.cat, r.dx, r.written
    start64 = np.datetime64(r.period.start.date(), "D")
    dotted = r.sup.dotted[lines.supplier]
    vocab_all = np.concatenate([dx.vocab, dx.dotted])
    v = len(dx.vocab)
    dx_idx = written.dx_idx
    dx_cols = [
        _arrow_strings(vocab_all, np.where(dx_idx[:, j] >= 0, dx_idx[:, j] + v * dotted, -1))
        for j in range(4)
    ]
    dx_text = pc.binary_join_element_wise(*dx_cols, "|", null_handling="skip")
    mod_uniq, mod_inv = np.unique(written.bits, return_inverse=True)
    mod_text = np.array([modifier_string(int(b)) for b in mod_uniq], dtype=object)
    payer_types = np.array([p.payer_type for p in PAYERS], dtype=object)
    n_pat = len(r.pats.number)

    claim_no = np.arange(lines.n_claims)
    out = pd.DataFrame(
        {
            "claim_id": _prefixed_ids("CLM", claim_no + 1, 9).take(lines.claim).reset_index(drop=True),
            "line_number": pd.array(lines.number, dtype="Int64"),
            "patient_id": _prefixed_ids("P", r.pats.number[lines.patient], max(7, len(str(n_pat)))),
            "provider_id": _strings(r.sup.npi, lines.supplier),
            "payer_id": _strings(np.array([p.payer_id for p in PAYERS], dtype=object), lines.payer),
            "payer_type": _strings(payer_types, lines.payer),
            "service_date": (start64 + lines.day.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "submission_date": (start64 + (lines.day + lines.lag).astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "place_of_service": _strings(place_codes(), lines.pos),
            "hcpcs_code": _strings(cat.codes, r.codes.code),
            "modifiers": _strings(mod_text, mod_inv.reshape(-1)),
            "units": pd.array(written.units, dtype="Int64"),
            "diagnosis_codes": pd.Series(pd.array(dx_text, dtype="string")),
            "billed_amount": r.billed,
        }
    )
    for f in schema.BOOLEAN_FLAGS:
        out[f] = _boolean(r.docs.truth[f], r.docs.hidden[f])
    out["prior_same_code_12m"] = pd.array(r.codes.prior, dtype="Int64")
    out["denied"] = pd.array(r.denials.denied, dtype="boolean")
    out["denial_reason"] = r.reason
    out["paid_amount"] = r.paid
    out[TRUTH_COLUMN] = r.denials.p_marg
    return out


def _details(r: _Drawn) -> dict:
    """The mechanism's internals the tests hold the frame against."""
    truth, expected = r.docs.truth, r.defects.expected
    return {
        "defects": pd.DataFrame(r.defects.flags),
        "missing_documents": pd.DataFrame({f: expected[f] & ~truth[f] for f in DOC_FLAGS}),
        "base_logit": dict(zip(PAYER_TYPE_ORDER, r.denials.base.tolist(), strict=True)),
        "p_actual": r.denials.p_actual,  # with the hidden documentation truth
        "p_if_unknown_on_file": r.denials.p_if_unknown_on_file,
        "hidden_expected": r.denials.hid_mask > 0,
        "change_date": r.period.change_date,
    }


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


# --------------------------------------------------------------------------- files


def contract_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The simulated frame in file form: dates as calendar dates (ISO in CSV), the rest as is."""
    out = frame.copy()
    for c in schema.DATE_COLUMNS:
        if c in out:
            out[c] = pd.Series(
                pd.array(
                    pa.array(out[c].to_numpy().astype("datetime64[D]")), dtype=pd.ArrowDtype(pa.date32())
                ),
                index=out.index,
            )
    return out


def split_labelled_backlog(
    frame: pd.DataFrame, cutoff: str | pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
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


def make_sample_data(
    out_dir="data/sample",
    *,
    rows: int = SAMPLE["rows"],
    seed: int = SAMPLE["seed"],
    start: str = SAMPLE["start"],
    months: int = SAMPLE["months"],
    labelled_months: int = SAMPLE["labelled_months"],
) -> dict[str, int]:
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
