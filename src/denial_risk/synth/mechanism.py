"""What decides a denial: payer rules on the service date, documentation, defects, logit, reason, payment.

The steps of the mechanism in `simulate`'s docstring, after `draw` has drawn what the lines show;
`simulate._draw` calls them in the random stream's order (the documentation is drawn before
`coding.draw_kx_ga_gz`, the rest after it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.synth.catalog import Catalog, Diagnoses
from denial_risk.synth.coding import diagnosis_not_supporting, kx_required
from denial_risk.synth.draw import (
    Codes,
    Lines,
    Period,
    Suppliers,
    Written,
    place_codes,
)
from denial_risk.synth.world import (
    ALL_FLAGS,
    BACKGROUND_REASONS,
    DEFECTS,
    DOC_EFFECTS,
    DOC_FLAGS,
    LMN_MULTIPLIER,
    MISSING_KX_MA_EFFECT,
    ORTHOSES,
    PAYER_TYPE_ORDER,
    PAYERS,
    PAYMENT,
    POLICY_CHANGES,
    TARGET_DENIAL_RATES,
)
from denial_risk.synth.world import (
    MODIFIER_BIT as _BIT,
)


@dataclass(frozen=True)
class PayerRules:
    """Per line, the payer's rules on its service date."""

    pa_required: np.ndarray  # prior authorisation required for the code
    newly: np.ndarray  # ... by a policy change (suppliers still learning it)
    filing_limit: np.ndarray  # days


@dataclass(frozen=True)
class Documentation:
    """Per flag (ALL_FLAGS), per line: probability on file (observable inputs only), truth, written empty."""

    q: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]
    hidden: dict[str, np.ndarray]


@dataclass(frozen=True)
class Defects:
    """Per line: observable defects and their logit effects; expected documents, their effects if missing."""

    flags: dict[str, np.ndarray]  # DEFECTS name -> present
    effects: dict[str, np.ndarray]  # DEFECTS name -> logit effect (0 where absent)
    expected: dict[str, np.ndarray]  # DOC_FLAGS -> the document is expected
    doc_effects: dict[str, np.ndarray]  # DOC_FLAGS -> logit effect when not on file (0 where not expected)


@dataclass(frozen=True)
class Denials:
    """The solved logit, the line's probabilities and the drawn denial."""

    base: np.ndarray  # base logit per payer type (PAYER_TYPE_ORDER)
    p_marg: np.ndarray  # true_denial_probability: expectation over the hidden documentation
    p_actual: np.ndarray  # with the hidden documentation truth (drew the denial)
    p_if_unknown_on_file: np.ndarray
    hid_mask: np.ndarray  # bit j: DOC_FLAGS[j] is expected and written empty
    denied: np.ndarray


def payer_rules(cat: Catalog, period: Period, lines: Lines, codes: Codes) -> PayerRules:
    """Prior-authorisation lists and filing limits, before and after the `POLICY_CHANGES`."""
    groups, payer, code = cat.groups, lines.payer, codes.code
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
    after = lines.day >= period.change_day
    pa_required = pa_code[payer, code] | (pa_code_new[payer, code] & after)
    newly = pa_code_new[payer, code] & after
    filing_limit = np.where(after, limit_after[payer], limit_before[payer])
    return PayerRules(pa_required, newly, filing_limit)


def draw_documentation(
    rng: np.random.Generator,
    cat: Catalog,
    sup: Suppliers,
    period: Period,
    lines: Lines,
    codes: Codes,
    rules: PayerRules,
) -> Documentation:
    """On file by the supplier's habit (one draw per claim and flag); left empty per claim or per flag."""
    n, s_, day, claim, n_claims = lines.n, lines.supplier, lines.day, lines.claim, lines.n_claims
    c_sup = lines.claims.supplier
    z = sup.doc_quality[s_]
    custom = cat.custom[codes.code]
    a = {
        "has_prescription": np.full(n, 3.0),
        "has_medical_necessity_letter": np.full(n, 1.0),
        "has_progress_notes": np.full(n, 1.8),
        "has_measurements": np.where(custom, 1.8, -1.2),
        "has_proof_of_delivery": np.full(n, 2.6),
        "has_photos": np.where(custom, 0.2, -0.8),
    }
    q = {f: _sigmoid(v + 0.9 * z) for f, v in a.items()}
    ramp = np.clip(0.2 + 0.8 * (day - period.change_day) / 180.0, 0.0, 1.0)
    q_pa_req = np.where(rules.newly, 0.08 + (sup.pa_habit[s_] - 0.08) * ramp, sup.pa_habit[s_])
    q["has_prior_auth"] = np.where(rules.pa_required, q_pa_req, 0.08)
    cu = rng.random((n_claims, len(ALL_FLAGS)))  # one uniform per claim and flag, shared by its lines
    truth = {f: cu[claim, j] < q[f] for j, f in enumerate(ALL_FLAGS)}
    block = rng.random(n_claims) < sup.block_hidden[c_sup]
    per_flag_rate = {f: sup.flag_hidden[c_sup] for f in ALL_FLAGS}
    per_flag_rate["has_prior_auth"] = sup.flag_hidden[c_sup] + 0.05
    per_flag_rate["has_photos"] = sup.flag_hidden[c_sup] + 0.15
    hu = rng.random((n_claims, len(ALL_FLAGS)))
    hidden = {f: (block | (hu[:, j] < per_flag_rate[f]))[claim] for j, f in enumerate(ALL_FLAGS)}
    return Documentation(q, truth, hidden)


def find_defects(
    cat: Catalog, dx: Diagnoses, lines: Lines, codes: Codes, written: Written, rules: PayerRules
) -> Defects:
    """The observable defects (from the written values only) and the documents the policy expects."""
    groups, code, cgroup, has_policy, sided = (
        cat.groups,
        codes.code,
        codes.group,
        codes.has_policy,
        codes.sided,
    )
    payer, ptype, mcare, units, bits = (
        lines.payer,
        lines.payer_type,
        lines.medicare,
        written.units,
        written.bits,
    )
    has = lambda m: (bits & _BIT[m]) != 0  # noqa: E731
    kx_req = kx_required(cat, lines, codes)
    kind = cat.invalid_kind[code]
    pos = place_codes()[lines.pos]
    dx_idx = written.dx_idx
    d = {
        "invalid_hcpcs": kind == "invalid_hcpcs",
        "malformed_hcpcs": kind == "malformed_hcpcs",
        "invalid_diagnosis": (dx.invalid[np.maximum(dx_idx, 0)] & (dx_idx >= 0)).any(axis=1),
        "diagnosis_not_supporting": diagnosis_not_supporting(cat, dx, codes, dx_idx),
        "missing_side": sided & ~has("RT") & ~has("LT"),
        "both_sides_one_unit": sided & has("RT") & has("LT") & (units < 2),
        "missing_kx": kx_req & ~has("KX") & ~has("GA") & ~has("GZ"),
        "kx_with_ga_gz": has("KX") & (has("GA") | has("GZ")),
        "ga_abn_on_file": has("GA"),
        "gz_no_abn": has("GZ"),
        "rental_modifier_on_purchase": np.isin(cgroup, [groups.index(x) for x in ORTHOSES]) & has("RR"),
        "missing_purchase_modifier": np.array([p.requires_purchase_modifier for p in PAYERS])[payer]
        & has_policy
        & ~has("NU")
        & ~has("RR"),
        "late_filing": lines.lag > rules.filing_limit,
        "units_over_limit": has_policy & (units > cat.unit_limit[code]),
        "replacement_within_lifetime": (codes.prior > 0) & cat.lifetime[code] & ~has("RR"),
        "facility_setting": (pos == "21") | ((pos == "31") & mcare),
    }
    effects = {name: np.where(d[name], eff, 0.0) for name, (_, eff) in DEFECTS.items()}
    effects["missing_kx"] = np.where(
        d["missing_kx"], np.where(ptype == 0, DEFECTS["missing_kx"][1], MISSING_KX_MA_EFFECT), 0.0
    )
    expected = {f: cat.expected[code, j] for j, f in enumerate(DOC_FLAGS)}
    expected["has_prior_auth"] = rules.pa_required
    lmn_mult = np.array([LMN_MULTIPLIER[t] for t in PAYER_TYPE_ORDER])[ptype]
    doc_eff = {f: np.where(expected[f], eff, 0.0) for f, (_, eff) in DOC_EFFECTS.items()}
    doc_eff["has_medical_necessity_letter"] = doc_eff["has_medical_necessity_letter"] * lmn_mult
    return Defects(d, effects, expected, doc_eff)


def draw_denials(
    rng: np.random.Generator, sup: Suppliers, lines: Lines, docs: Documentation, defects: Defects
) -> Denials:
    """The logit; base logits solved so the mean truth per payer type is its target rate; the denial drawn."""
    ptype, truth, hidden, doc_eff = lines.payer_type, docs.truth, docs.hidden, defects.doc_effects
    strict = np.array([p.strictness for p in PAYERS])[lines.payer] + sup.effect[lines.supplier]
    x_obs = strict + sum(defects.effects.values())
    # known part of the documentation logit; hidden flags enumerated
    known_doc = sum(np.where(hidden[f], 0.0, doc_eff[f] * ~truth[f]) for f in DOC_FLAGS)
    actual_doc = sum(doc_eff[f] * ~truth[f] for f in DOC_FLAGS)
    hid_mask = sum(((hidden[f] & (doc_eff[f] > 0)).astype(np.int64) << j) for j, f in enumerate(DOC_FLAGS))
    q_mat = np.stack([docs.q[f] for f in DOC_FLAGS], axis=1)
    e_mat = np.stack([doc_eff[f] for f in DOC_FLAGS], axis=1)

    base = _solve_base(ptype, x_obs, known_doc, hid_mask, q_mat, e_mat)
    p_marg, _ = _marginal(base[ptype] + x_obs + known_doc, hid_mask, q_mat, e_mat)
    p_actual = _sigmoid(base[ptype] + x_obs + actual_doc)
    denied = rng.random(lines.n) < p_actual
    return Denials(base, p_marg, p_actual, _sigmoid(base[ptype] + x_obs + known_doc), hid_mask, denied)


def _solve_base(
    ptype: np.ndarray,
    x_obs: np.ndarray,
    known_doc: np.ndarray,
    hid_mask: np.ndarray,
    q_mat: np.ndarray,
    e_mat: np.ndarray,
) -> np.ndarray:
    """Base logit per payer type: Newton steps until the mean marginal probability per type is its target."""
    base = np.array([_logit(TARGET_DENIAL_RATES[t]) - 1.5 for t in PAYER_TYPE_ORDER])
    for _ in range(30):
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
    return base


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


def draw_reasons(
    rng: np.random.Generator, lines: Lines, docs: Documentation, defects: Defects, denied: np.ndarray
) -> pd.Series:
    """One active cause per denied line, weight exp(effect) - 1 (true documentation); background weight 1."""
    effects = defects.effects
    doc_effects = {f: defects.doc_effects[f] * ~docs.truth[f] for f in DOC_FLAGS}
    ptype_names = np.array(PAYER_TYPE_ORDER, dtype=object)[lines.payer_type]
    rows = np.flatnonzero(denied)
    labels = [DEFECTS[k][0] for k in effects] + [DOC_EFFECTS[k][0] for k in doc_effects]
    w = np.stack(
        [np.expm1(v[rows]) for v in (*effects.values(), *doc_effects.values())] + [np.ones(len(rows))], axis=1
    )
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


def draw_charges(
    rng: np.random.Generator,
    cat: Catalog,
    sup: Suppliers,
    lines: Lines,
    codes: Codes,
    written: Written,
    denied: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(billed, paid): the supplier's mark-up on the code's fee; paid a payer-type share, 0 when denied."""
    fee, units = cat.fee[codes.code], written.units
    billed = np.round(fee * units * sup.markup[lines.supplier] * rng.lognormal(0.0, 0.05, lines.n), 2)
    allowed_f = np.array([PAYMENT[t][0] * PAYMENT[t][1] for t in PAYER_TYPE_ORDER])[lines.payer_type]
    paid = np.where(denied, 0.0, np.round(fee * units * allowed_f, 2))
    return billed, paid


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))
