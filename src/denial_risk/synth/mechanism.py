"""What decides a denial, given the lines: base rates, the draw, the reason and remarks, the payment.

The logit of every line comes from `oracle.World.parts` (the same code the oracle uses);
here the base rates are solved so each payer type's mean truth is its target, the
denial is drawn with the latents' drawn truth, and a denied line's reason is one of its
active causes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.synth.oracle import LATENTS, Parts, marginal, sigmoid
from denial_risk.synth.world import (
    BACKGROUND_REASONS,
    BACKGROUND_REMARKS,
    DEFECTS,
    DOC_CAUSES,
    DOC_FLAGS,
    ELIGIBILITY,
    NO_FACE_TO_FACE,
    PAYER_TYPE_ORDER,
    PAYMENT,
    SAME_OR_SIMILAR_MEDICARE,
    TARGET_DENIAL_RATES,
)


@dataclass(frozen=True)
class Denials:
    """The solved base, the line's probabilities and the drawn denial."""

    base: np.ndarray  # base logit per payer type (PAYER_TYPE_ORDER)
    p_marg: np.ndarray  # true_denial_probability: expectation over the latents
    p_actual: np.ndarray  # with the latents' drawn truth (drew the denial)
    denied: np.ndarray


def solve_base(parts: Parts) -> np.ndarray:
    """Base logit per payer type: Newton steps until the mean truth per type is its target rate."""
    ptype = parts.ptype
    base = np.array([_logit(TARGET_DENIAL_RATES[t]) - 1.5 for t in PAYER_TYPE_ORDER])
    target = np.array([TARGET_DENIAL_RATES[t] for t in PAYER_TYPE_ORDER])
    cnt = np.bincount(ptype, minlength=4)
    for _ in range(30):
        p_marg, slope = marginal(base[ptype] + parts.known, parts.latent_q, parts.latent_e)
        got = np.bincount(ptype, weights=p_marg, minlength=4)
        der = np.bincount(ptype, weights=slope, minlength=4)
        step = np.where((cnt > 0) & (der > 0), (target * cnt - got) / np.maximum(der, 1e-12), 0.0)
        base = base + np.clip(step, -2.0, 2.0)
        if np.all(np.abs(step) < 1e-6):
            break
    return base


def draw_denials(rng: np.random.Generator, parts: Parts, fine: np.ndarray, base: np.ndarray) -> Denials:
    """The truth (expectation over the latents) and the denial drawn with the latents' drawn state `fine`."""
    logit = base[parts.ptype] + parts.known
    p_marg, _ = marginal(logit, parts.latent_q, parts.latent_e)
    p_actual = sigmoid(logit + (parts.latent_e * ~fine).sum(axis=1))
    denied = rng.random(len(logit)) < p_actual
    return Denials(base, p_marg, p_actual, denied)


def _cause_codes(name: str, medicare: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(CARC, `|`-joined remarks) per line for one cause (same-or-similar differs for Medicare)."""
    if name in DEFECTS:
        cause = DEFECTS[name]
    elif name in DOC_CAUSES:
        cause = DOC_CAUSES[name]
    else:
        cause = {"eligibility": ELIGIBILITY, "face_to_face": NO_FACE_TO_FACE}[name]
    carc = np.full(len(medicare), cause.carc, dtype=object)
    remarks = np.full(len(medicare), schema.LIST_SEP.join(cause.remarks), dtype=object)
    if name == "same_or_similar":
        carc[medicare] = SAME_OR_SIMILAR_MEDICARE[0]
        remarks[medicare] = schema.LIST_SEP.join(SAME_OR_SIMILAR_MEDICARE[1])
    return carc, remarks


def draw_reasons(
    rng: np.random.Generator, parts: Parts, fine: np.ndarray, denied: np.ndarray
) -> tuple[pd.Series, pd.Series]:
    """(denial_reason, remark_codes): one active cause per denied line, weight exp(effect) - 1 (latents by
    their drawn state); background weight 1, whose reason follows a payer-type mix."""
    rows = np.flatnonzero(denied)
    latent_eff = parts.latent_e * ~fine
    names = [*parts.causes, *LATENTS]
    effects = [v[rows] for v in parts.causes.values()] + [latent_eff[rows, j] for j in range(len(LATENTS))]
    w = np.stack([np.expm1(v) for v in effects] + [np.ones(len(rows))], axis=1)
    cum = np.cumsum(w, axis=1)
    pick = np.minimum((cum < (rng.random(len(rows)) * cum[:, -1])[:, None]).sum(axis=1), w.shape[1] - 1)
    ptype = parts.ptype[rows]
    carc = np.empty(len(rows), dtype=object)
    remarks = np.full(len(rows), "", dtype=object)
    for j, name in enumerate(names):
        hit = pick == j
        if hit.any():
            c, r = _cause_codes(name, ptype[hit] == 0)
            carc[hit], remarks[hit] = c, r
    background = pick == len(names)
    bg_u = rng.random(len(rows))
    for t in range(len(PAYER_TYPE_ORDER)):
        mix = BACKGROUND_REASONS.get(PAYER_TYPE_ORDER[t], BACKGROUND_REASONS["other"])
        codes = np.array(list(mix), dtype=object)
        cumw = np.cumsum(list(mix.values()))
        hit = background & (ptype == t)
        chosen = codes[np.minimum(np.searchsorted(cumw, bg_u[hit] * cumw[-1]), len(codes) - 1)]
        carc[hit] = chosen
        remarks[hit] = [schema.LIST_SEP.join(BACKGROUND_REMARKS.get(c, ())) for c in chosen]
    reason = np.full(len(denied), None, dtype=object)
    remark = np.full(len(denied), None, dtype=object)
    reason[rows] = carc
    remark[rows] = np.where(remarks == "", None, remarks)
    return pd.Series(pd.array(reason, dtype="string")), pd.Series(pd.array(remark, dtype="string"))


def draw_charges(
    rng: np.random.Generator,
    fee: np.ndarray,
    units: np.ndarray,
    markup: np.ndarray,
    ptype: np.ndarray,
    denied: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(billed, paid): the supplier's mark-up on the code's fee; paid: the payer type's share, 0 if denied."""
    billed = np.round(fee * units * markup * rng.lognormal(0.0, 0.05, len(fee)), 2)
    allowed_f = np.array([PAYMENT[t][0] * PAYMENT[t][1] for t in PAYER_TYPE_ORDER])[ptype]
    paid = np.where(denied, 0.0, np.round(fee * units * allowed_f, 2))
    return billed, paid


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


__all__ = ["DOC_FLAGS", "Denials", "draw_charges", "draw_denials", "draw_reasons", "solve_base"]
