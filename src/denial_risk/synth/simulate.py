"""The synthetic claim world: DME/orthotics claim lines, their first-pass outcome, and the world's truth.

`simulate_claims(rows, seed)` returns a contract table (docs/claims.md: every required
and optional column, the labels `denied`, `denial_reason`, `remark_codes`,
`paid_amount`) plus `true_denial_probability`, the world's probability of denying the
line given what the table shows. `simulate_world` also returns the world itself, whose
`true_denial_probability(rows)` judges any rows, edited ones included: the oracle that
tells whether a fix is true. Nothing in training or scoring may read the truth
(`schema.OUTCOME_COLUMNS`).

The world (facts: docs/domain.md; constants: `world`)
=====================================================

* Payers: ten payers of the four types. Medicare fee-for-service follows the real
  dated rules in `contract.rules` (the Required Prior Authorization List, the
  Face-to-Face and Written Order Prior to Delivery List, KX, CG, RT/LT on separate
  lines). The others follow their own lists, unknown to any table: which groups need
  prior authorization (MCD402: canes and walkers too; COM303: not knee orthoses),
  which documents (MA202 wants a letter of medical necessity for knee orthoses, COM303
  none for spinal orthoses), whether Medicare's KX list applies (MA202 yes, MA101 no),
  a purchase/rental modifier on every line (MCD402), a filing limit.
* Rule changes mid-period (`POLICY_CHANGES`, at the period's middle month): COM301
  starts requiring prior authorization for knee orthoses (suppliers learn it over ~6
  months), MA202 stops requiring it for upper-limb orthoses, MCD401 shortens its
  filing limit; Medicare's lists change on their published dates (2024-08-12,
  2026-04-13).
* Suppliers: 60, whose habits lean on one quality score: careful suppliers keep their
  documents, verify eligibility, get prior authorization, code carefully, and are
  denied less for reasons no column shows (confounding: a line with every document is
  usually a careful supplier's line).
* Patients come back (repeat claims, bilateral pairs, replacements); a share had an
  item before the period. Claims have 1-4 lines of real HCPCS codes of the policy
  table's groups with real ICD-10-CM codes, modifiers, units, charges, and a record:
  documents on file, eligibility verified, the ordering practitioner's NPI, the order
  and face-to-face dates (each sometimes unknown).

The mechanism (`oracle`, `causes`)
==================================

    logit = base[payer type] + strictness[payer] + effect[supplier]
            + sum of the line's causes' effects
    P(denied) = sigmoid(logit)

Causes read from the columns (`world.DEFECTS`, with their CARC and remarks): invalid
or malformed codes, invalid diagnoses, a diagnosis that supports nothing or is not
first, a missing side, RT and LT on one line (Medicare: always; others: with one
unit), KX/CG missing where Medicare requires them, KX with GA/GZ, GA (PR-50 M38), GZ,
RR on a purchase item, no NU/RR where a payer wants one, late filing, units over the
limit, the same or a similar item (same side) inside its 5-year lifetime without RA,
a facility setting, an ordering NPI that fails its check digit, an order signed after
delivery (Medicare's WOPD list) or after the claim, a face-to-face visit outside the
6 months before the order (Medicare's F2F list). Documents the payer expects and that
are not on file (`world.DOC_CAUSES`), prior authorization where the payer requires it.

Latent causes: what the table does not show -- a document whose status is unknown, an
unverified eligibility (the patient not covered as billed), an unrecorded visit -- is
drawn per claim; `true_denial_probability` is the expectation over them, exactly (the
probability each is absent depends only on columns the table shows).

The world is the same for every seed: its suppliers are drawn from `world.WORLD_SEED`, and
its base logits (`world.BASE_LOGIT`) were solved once on a 400k-line reference draw so that
the mean truth per payer type is its target rate (`world.TARGET_DENIAL_RATES`;
scripts/solve_base.py). A seed draws claims, patients and records in that world. A denied
line's reason is one of its active causes,
weight exp(effect) - 1, or the background (weight 1) with a payer-type mix of reasons;
its remark codes come with it (MA130: returned as unprocessable). `paid_amount` is 0
when denied, else the payer type's share of the code's fee.

Where things are
================

`world` holds the constants, `catalog` the code catalogue and diagnosis pools, `draw`
and `coding` the steps that draw what a line shows, `records` its record, `causes` and
`oracle` what the world makes of any line, `mechanism` the base rates, the draw, the
reason and the payment, `frame` the table. `_draw` below runs them in the random
stream's order. Deterministic for (rows, seed, start, months).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from denial_risk.contract import schema
from denial_risk.synth import causes, harder
from denial_risk.synth.catalog import _catalog, _diagnoses
from denial_risk.synth.coding import draw_diagnoses, draw_late_modifiers, draw_modifiers, draw_units
from denial_risk.synth.draw import (
    Lines,
    Period,
    _npis,
    draw_claims,
    draw_codes,
    draw_patients,
    draw_suppliers,
    lines_per_claim,
)
from denial_risk.synth.frame import modifier_strings, observable_frame, patient_ids
from denial_risk.synth.mechanism import draw_charges, draw_denials, draw_reasons
from denial_risk.synth.oracle import History, SupplierTable, World
from denial_risk.synth.records import draw_records
from denial_risk.synth.world import (
    BACKGROUND_REASONS,
    BASE_LOGIT,
    DEFECTS,
    DOC_CAUSES,
    LIFETIME_DAYS,
    N_SUPPLIERS,
    PAYERS,
    POLICY_CHANGES,
    TARGET_DENIAL_RATES,
    TRUTH_COLUMN,
    WORLD_SEED,
    Payer,
    PolicyChange,
    policy_change_date,
)

__all__ = [
    "BACKGROUND_REASONS",
    "DEFECTS",
    "DOC_CAUSES",
    "PAYERS",
    "POLICY_CHANGES",
    "TARGET_DENIAL_RATES",
    "Payer",
    "PolicyChange",
    "SAMPLE",
    "TRUTH_COLUMN",
    "World",
    "policy_change_date",
    "contract_frame",
    "make_sample_data",
    "simulate_claims",
    "simulate_world",
    "split_labelled_backlog",
]

EPOCH = np.datetime64("1970-01-01", "D")
N_PRACTITIONERS = 400
HISTORY_BEFORE = 0.025  # share of patients with an item of their group before the period


def simulate_claims(
    rows: int,
    seed: int,
    start: str = "2024-01-01",
    months: int = 24,
    *,
    world: str = "plain",
    shared_claim_causes: bool = False,
) -> pd.DataFrame:
    """`rows` labelled claim lines of the world above, services from `start` over `months` months
    (`world="harder"`: the variant of `synth.harder`).

    Columns: the contract's required and optional columns, the labels, then
    `true_denial_probability`, in the normalised dtypes (`schema.NORMALISED_DTYPES`), sorted by
    service date (then claim, line). Deterministic for (rows, seed, start, months).
    `shared_claim_causes`: some claims are returned whole (`synth.claim_causes`; opt-in).
    """
    return simulate_world(rows, seed, start, months, world=world, shared_claim_causes=shared_claim_causes)[0]


def simulate_world(
    rows: int,
    seed: int,
    start: str = "2024-01-01",
    months: int = 24,
    *,
    world: str = "plain",
    shared_claim_causes: bool = False,
) -> tuple[pd.DataFrame, World]:
    """The table and its world: `world.true_denial_probability(rows)` is the truth for any rows."""
    frame, the_world, _ = _simulate(rows, seed, start, months, world)
    if shared_claim_causes:
        from denial_risk.synth.claim_causes import return_whole_claims

        frame = return_whole_claims(frame, the_world, seed)
    return frame, the_world


def _simulate(
    rows: int, seed: int, start: str, months: int, world: str = "plain"
) -> tuple[pd.DataFrame, World, dict]:
    """The frame, the world and the mechanism's internals (causes, base logits) for tests."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    if months < 1:
        raise ValueError("months must be >= 1")
    variant = harder.rules_for(world, start, months)
    return _draw(rows, np.random.default_rng(seed), Period.of(start, months), variant)


def _draw(
    rows: int, rng: np.random.Generator, period: Period, variant=None
) -> tuple[pd.DataFrame, World, dict]:
    """The steps in the random stream's order: moving, adding or dropping a draw changes every later value."""
    cat, dx = _catalog(), _diagnoses()
    sup = draw_suppliers(np.random.default_rng(WORLD_SEED), N_SUPPLIERS, len(cat.groups))
    k = lines_per_claim(rng, rows)
    pats = draw_patients(rng, len(k), cat, sup)
    lines = Lines.of(draw_claims(rng, k, pats, sup, period), sup)
    codes = draw_codes(rng, cat, sup, pats, lines)
    units, both_ok = draw_units(rng, cat, lines, codes)
    bits, units = draw_modifiers(rng, cat, sup, lines, codes, units, both_ok)
    from denial_risk.synth.draw import Written

    written = Written(units, bits, draw_diagnoses(rng, cat, dx, sup, lines, codes))
    world = _world(rng, period, cat, sup, pats, lines, codes)
    world.variant = variant
    frame = observable_frame(period, cat, dx, sup, pats, lines, codes, written)
    view = causes.view(frame, world.suppliers.npi, world.patient_index)
    pa_required, newly, since = world.prior_auth(view, frame)
    doc_q = world._doc_q(view, pa_required, newly, since)
    records = draw_records(rng, sup, lines, doc_q, view.day.astype(np.int64), _npis(rng, N_PRACTITIONERS))
    for name, col in records.columns().items():
        frame[name] = col
    replacement = world._same_or_similar(view) & view.lifetime
    written = draw_late_modifiers(rng, view, sup, lines, written, replacement)
    frame["modifiers"] = modifier_strings(written.bits)
    frame["prior_same_code_12m"] = pd.array(codes.prior, dtype="Int64")

    fee, markup = cat.fee[codes.code], sup.markup[lines.supplier]
    if variant is not None:  # the harder world reads the amount billed: drawn before the denials
        frame["billed_amount"] = draw_charges(
            rng, fee, written.units, markup, lines.payer_type, np.zeros(len(fee), bool)
        )[0]
    parts = world.parts(frame)
    fine = records.fine(parts)
    denials = draw_denials(rng, parts, fine, world.base)
    reason, remarks = draw_reasons(rng, parts, fine, denials.denied)
    billed, paid = draw_charges(rng, fee, written.units, markup, lines.payer_type, denials.denied)
    if variant is not None:
        billed = frame["billed_amount"].to_numpy(dtype=float)
    frame = _finish(frame, billed, paid, denials, reason, remarks)
    details = {
        "causes": pd.DataFrame(parts.causes),
        "base_logit": denials.base,
        "p_actual": denials.p_actual,
        "fine": fine,
        "latent_e": parts.latent_e,
        "change_date": period.change_date,
    }
    return frame, world, details


def _world(rng, period: Period, cat, sup, pats, lines: Lines, codes) -> World:
    """The world's knowledge: its suppliers by NPI, each patient's items (before and in the period)."""
    start_day = int((np.datetime64(period.start.date(), "D") - EPOCH).astype(np.int64))
    n_pat = len(pats.number)
    before = rng.random(n_pat) < HISTORY_BEFORE
    before_day = start_day - rng.integers(30, LIFETIME_DAYS + 200, n_pat)
    side_of = np.where(cat.sided[pats.code], pats.side, 2)
    line_side = np.where(cat.sided[codes.code], codes.side, 2)
    pat_rows = np.flatnonzero(before)
    history = History.of(
        np.concatenate([pat_rows, lines.patient]),
        np.concatenate([pats.group[pat_rows], codes.group]),
        np.concatenate([side_of[pat_rows], line_side]),
        np.concatenate([before_day[pat_rows], start_day + lines.day]),
        len(cat.groups),
    )
    ids = patient_ids(pats).to_numpy(dtype=object)
    table = SupplierTable(sup.npi, sup.effect, sup.doc_quality, sup.pa_habit, sup.verify_habit, sup.no_visit)
    change_day = int((np.datetime64(period.change_date.date(), "D") - EPOCH).astype(np.int64))
    return World(table, {p: i for i, p in enumerate(ids)}, history, change_day, np.array(BASE_LOGIT))


def _finish(frame: pd.DataFrame, billed, paid, denials, reason, remarks) -> pd.DataFrame:
    """Columns in contract order, then the labels and the truth."""
    frame["billed_amount"] = billed
    order = [c for c in (*schema.REQUIRED, *schema.OPTIONAL) if c in frame.columns]
    first = [
        "claim_id",
        "line_number",
        "patient_id",
        "provider_id",
        "payer_id",
        "payer_type",
        "service_date",
        "submission_date",
        "place_of_service",
        "hcpcs_code",
        "modifiers",
        "units",
        "diagnosis_codes",
        "billed_amount",
    ]
    out = frame[first + [c for c in order if c not in first]].copy()
    out["denied"] = pd.array(denials.denied, dtype="boolean")
    out["denial_reason"] = reason
    out["remark_codes"] = remarks
    out["paid_amount"] = paid
    out[TRUTH_COLUMN] = denials.p_marg
    return out


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

    from denial_risk.tableio import files

    out = Path(out_dir)
    frame = simulate_claims(rows, seed, start=start, months=months)
    cutoff = pd.Timestamp(start).normalize() + pd.DateOffset(months=labelled_months)
    labelled, backlog = split_labelled_backlog(frame, cutoff)
    truth = frame.loc[frame["service_date"] >= cutoff, ["claim_id", "line_number", TRUTH_COLUMN]]
    files.write_table(contract_frame(labelled), out / "claims.csv")
    files.write_table(contract_frame(backlog), out / "backlog.csv")
    files.write_table(truth.reset_index(drop=True), out / "backlog_truth.csv")
    return {"claims.csv": len(labelled), "backlog.csv": len(backlog), "backlog_truth.csv": len(truth)}
