"""What the deployed model learns after the holdout metrics: payer rule changes' risk, the stated shrink.

`modeling.train.fit_split` reads the holdout metrics first, then, here (`refit_after_holdout`),
refits the fix effects on every labelled line the fit kept (`modeling.effects.fit_on_slices`:
the training sample with its weights, and every calibration and holdout line, or, where the
memory budget's refit room is smaller, their time-aware sample `SamplePlan.later`, weighted), and:

* the rule changes the classifier has not learned lift the risk of their cells' lines
  (`modeling.change_risk`), measured on every labelled line;
* the stated shrink: the risk a fix is stated to leave is sigmoid(logit(p) - kappa * beta)
  (`modeling.effects.FixEffects.lookup`). The model's risk p of one line is uncertain, and
  removing an effect from an uncertain logit lowers the expected risk by less than the
  effect (Jensen), so kappa < 1; how much less depends on the model's accuracy. Kappa is
  chosen on held-out remits where the post-fix outcome is seen: the holdout lines whose
  record *shows* the document or the prior authorization. Each is given the defect (the flag
  set to no), scored, and stated the risk the fix would leave, sigmoid(logit(p1) - kappa *
  beta); kappa is the value at which the mean statement equals the lines' observed denial
  rate (where effects are significant: their lower bound above zero). It is clipped to
  `SHRINK_RANGE` and kept at `effects.STATED_SHRINK` when too few lines are seen.

The holdout lines are also in the effects' refit (they are the latest remits); the classifier,
which gives p1, never saw them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from denial_risk.biller import remedies
from denial_risk.contract.facts import LineFacts
from denial_risk.modeling import change_risk
from denial_risk.modeling.effects import STATED_SHRINK, fit_on_slices, line_weights
from denial_risk.modeling.sampling import SamplePlan

log = logging.getLogger(__name__)

FLAG_REMEDIES = {  # remedies whose defect is a flag of the record: (column, the remedy)
    **{d: f"attach:{d}" for d in remedies.DOCUMENTS},
    "has_prior_auth": "obtain_prior_auth",
}
SHRINK_RANGE = (0.5, 1.2)  # project judgement: a shrink outside it says the effects, not p, are off
MIN_SHRINK_LINES = 200  # held-out lines with a significant effect, for kappa to be chosen
MAX_LINES = 5000  # held-out lines per remedy (a seeded sample): enough for a mean, bounded cost
Z_SIGNIFICANT = 2.33
P_CAP = 0.98  # as `scoring.fixes.P_CAP`: the risk a statement starts from


def refit_after_holdout(
    model, train: pd.DataFrame, calib: pd.DataFrame, hold: pd.DataFrame, plan: SamplePlan, params: dict
) -> None:
    """Refit the fix effects on the lines `plan` keeps (the training sample; all the later lines or
    `plan.later`'s), then the change lifts and the stated shrink (on every holdout line)."""
    slices, weight = refit_slices(train, calib, hold, plan)
    model.fix_effects = fit_on_slices(slices, weight)
    model.info["fix_effects_fitted_on"] = fitted_on = model.fix_effects.span()
    params.update({f"fix_effects_{k}": v for k, v in fitted_on.items()})
    if plan.later is not None and plan.later.sampled:
        params.update({f"fix_effects_later_{k}": v for k, v in plan.later.params.items()})
    fit_after_holdout(model, slices, weight, params, hold)


def refit_slices(
    train: pd.DataFrame, calib: pd.DataFrame, hold: pd.DataFrame, plan: SamplePlan
) -> tuple[list[pd.DataFrame], np.ndarray | None]:
    """(train, calibration, holdout) as the refit reads them, and each line's weight (None: all 1)."""
    weight = plan.weight if plan.sampled else None
    later = plan.later
    if later is None or not later.sampled:
        return [train, calib, hold], weight
    cut = np.searchsorted(later.keep, len(calib))
    slices = [train, calib.iloc[later.keep[:cut]], hold.iloc[later.keep[cut:] - len(calib)]]
    return slices, np.concatenate([np.ones(len(train)) if weight is None else weight, later.weight])


def fit_after_holdout(
    model, slices: list[pd.DataFrame], weight: np.ndarray | None, params: dict, hold: pd.DataFrame
) -> None:
    """Add the change lifts and the held-out stated shrink to a model whose effects were just refitted
    on `slices` (train, calibration, holdout as the refit read them; `weight`: per line of their
    leading lines, the rest 1, or None); the shrink is chosen on every line of `hold`."""
    lines = pd.concat(slices, ignore_index=True)
    w = line_weights(weight, len(lines))
    lifts = change_risk.fit_change_risk(model, lines, model.fix_effects.changes, w)
    del lines
    model.info[change_risk.INFO_KEY] = lifts
    kappa, n = fit_stated_shrink(model, hold)
    model.fix_effects.info["stated_shrink"] = kappa
    model.fix_effects.info["stated_shrink_lines"] = n
    params.update({"rule_changes_lifted": len(lifts), "stated_shrink": kappa, "stated_shrink_lines": n})
    for e in lifts:
        log.info("risk raised where the classifier has not learned it: %s", change_risk.describe_lift(e))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def shrink_sample(model, hold: pd.DataFrame, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logit of the risk with the defect, effect, observed denial) of held-out lines that showed the
    fix already made, in cells whose effect is significant."""
    rng = np.random.default_rng(seed)
    effects = model.fix_effects
    logits, betas, ys = [], [], []
    for col, name in FLAG_REMEDIES.items():
        if col not in hold:
            continue
        made = np.flatnonzero(hold[col].astype("boolean").fillna(False).to_numpy(dtype=bool))
        if len(made) > MAX_LINES:
            made = np.sort(rng.choice(made, MAX_LINES, replace=False))
        if not len(made):
            continue
        undone = hold.iloc[made].reset_index(drop=True)
        undone[col] = pd.array([False] * len(undone), dtype="boolean")
        cand = remedies.candidates(undone, LineFacts.of(undone))
        ok = cand.present[name] & cand.truthful[name]
        fig = effects.lookup(name, "present", cand.cells[name], undone)
        beta, se = fig["beta"], fig["se"]
        ok &= ~np.isnan(beta) & (np.nan_to_num(beta - Z_SIGNIFICANT * se) > 0)
        if not ok.any():
            continue
        p1 = model.predict_proba(undone.iloc[np.flatnonzero(ok)])
        logits.append(_logit(np.minimum(p1, P_CAP)))
        betas.append(beta[ok])
        ys.append(hold["denied"].astype(bool).to_numpy()[made][ok])
    if not logits:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(logits), np.concatenate(betas), np.concatenate(ys)


def fit_stated_shrink(model, hold: pd.DataFrame) -> tuple[float, int]:
    """(kappa, the held-out lines it was chosen on): the mean statement equals the mean outcome."""
    logit, beta, y = shrink_sample(model, hold)
    if len(y) < MIN_SHRINK_LINES:
        return STATED_SHRINK, int(len(y))
    target = float(np.mean(y))

    def gap(kappa: float) -> float:
        return float(np.mean(1.0 / (1.0 + np.exp(-(logit - kappa * beta))))) - target

    lo, hi = SHRINK_RANGE
    if gap(lo) <= 0:
        return lo, int(len(y))
    if gap(hi) >= 0:
        return hi, int(len(y))
    return round(float(brentq(gap, lo, hi, xtol=1e-4)), 4), int(len(y))
