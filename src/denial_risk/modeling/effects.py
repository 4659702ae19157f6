"""How much each fix lowers the risk, per payer cell, learned from the remittances with its uncertainty.

Re-scoring an edited line through the denial model only checks the model against itself:
the model learns that lines with prior authorization are denied less everywhere, partly
because careful suppliers do everything at once, partly because one smooth model pools
payers whose rules differ. Here each remedy's effect is estimated where it applies
(`biller.remedies`: a payer, with the policy group or Medicare's program where
requirements differ by them), from the training lines alone, adjusted for the supplier:

    logit P(denied) = cell intercept + supplier + quarter + other findings
                      + sum over remedies r, states s (shown / unknown), periods t of
                        beta[r, s, cell, t] * 1[line has r's defect in state s, cell, period t]

a penalised logistic regression on a sparse design (the supplier terms absorb how
careful a supplier is; the cell terms let a payer require prior authorization for one
group and not another). Standard errors come from the inverse of the penalised
information matrix. Each effect is estimated for the last `RECENT_DAYS` of training
and before; when the two differ beyond their noise (a payer changed its rule) the
recent one is used, else both pooled.

Beside the effect, the remits say *why*: the share of the cell's lines with the defect
denied with one of the remedy's reasons (CO-197 for prior authorization), against the
share without it. A fix is listed only when its effect's lower bound lowers the risk by
a point and the reasons do not contradict it (`scoring.fixes`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, sparse

from denial_risk.biller import remedies
from denial_risk.contract.facts import LineFacts
from denial_risk.modeling import effect_detail, effect_pool
from denial_risk.modeling.changes import detect as detect_changes
from denial_risk.modeling.design import Design

log = logging.getLogger(__name__)

RECENT_DAYS = 183
CHANGE_Z = 2.58  # a recent effect this far from the earlier one means the rule changed
MIN_LINES = 20  # a cell needs this many lines with the defect to have an effect at all
SUPPLIER_MIN_LINES = 30
PENALTY_C = (
    100.0  # a light penalty: enough against separation in small cells, not enough to bias the big ones
)
STATES = ("present", "unknown")
# The stated risk after a fix: sigmoid(logit(p) - STATED_SHRINK * beta). The model's risk p of one line is
# uncertain (its logit is off by about one on at-risk lines); averaged over that uncertainty (the
# logit-normal approximation), removing an effect beta moves the line's expected risk as
# sigmoid(logit(p) - kappa * beta), kappa = 1 / sqrt(1 + pi sigma^2 / 8): 0.85 at sigma = 1. Stating the
# full effect promised about 4 points more than the fixes delivered (issue 20). The right kappa grows with
# the model's accuracy: `modeling.latest` chooses it on held-out remits at every fit; this value (project
# judgement) is kept when too few held-out lines are seen. The listing rule's lower bound is not shrunk.
STATED_SHRINK = 0.85


@dataclass
class FixEffects:
    """Per (remedy, state, cell): the effect on the logit of removing the defect, its standard error,
    and the reason evidence. Plain lists and arrays, so it saves with skops."""

    keys: list[str] = field(default_factory=list)  # "remedy|state|cell"
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n: np.ndarray = field(default_factory=lambda: np.zeros(0))  # training lines with the defect
    reason_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # denied for one of its reasons
    reason_rate_without: np.ndarray = field(default_factory=lambda: np.zeros(0))  # cell lines without it
    n_without: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rate: np.ndarray = field(default_factory=lambda: np.zeros(0))  # denied share of the lines with the defect
    recent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # the rule changed lately
    since: np.ndarray = field(default_factory=lambda: np.zeros(0))  # day (epoch) the estimate starts; NaN all
    changes: list = field(default_factory=list)  # detected rule changes (`modeling.changes`), plain dicts
    detail: dict = field(default_factory=dict)  # cells whose effect varies inside (`modeling.effect_detail`)
    info: dict = field(default_factory=dict)

    def span(self) -> dict:
        """What the effects were fitted on (logged with the training run, shown in the model card)."""
        return {k: self.info.get(k, "") for k in ("lines", "from", "to", "slices", "rule_changes")}

    def lookup(
        self, remedy: str, state: str, cells: np.ndarray, lines: pd.DataFrame | None = None
    ) -> dict[str, np.ndarray]:
        """The stored figures for each line's cell (NaN where the cell has no estimate). With `lines`
        (aligned on `cells`: `billed_amount`, `hcpcs_code`), a cell whose effect varies inside gives
        each line its sub-cell's effect. `beta_stated`: the effect the stated risk removes."""
        index = {k: i for i, k in enumerate(self.keys)}
        prefix = f"{remedy}|{state}|"
        codes, uniq = pd.factorize(pd.Series(cells, dtype=object).astype(str))
        pos = (
            np.array([index.get(prefix + u, -1) for u in uniq] + [-1])[codes]
            if len(cells)
            else np.zeros(0, int)
        )
        out = {}
        for name in ("beta", "se", "n", "reason_rate", "reason_rate_without", "n_without", "rate"):
            arr = np.append(getattr(self, name).astype(float), np.nan)
            out[name] = arr[pos]
        for k, u in enumerate(uniq):
            detail = getattr(self, "detail", None)  # a model saved before effects varied inside a cell: none
            entry = detail.get(prefix + u) if lines is not None and detail else None
            if entry is not None:
                rows = np.flatnonzero(codes == k)
                beta, se = effect_detail.line_values(entry, lines.iloc[rows])
                ok = ~np.isnan(beta)
                out["beta"][rows[ok]], out["se"][rows[ok]] = beta[ok], se[ok]
        out["beta_stated"] = out["beta"] * self.info.get("stated_shrink", 1.0)
        # the day the cell's estimate starts (a rule change), NaN: all its remits; none saved before
        known = len(self.since) == len(self.keys)
        since = self.since.astype(float) if known else np.full(len(self.keys), np.nan)
        out["since"] = np.append(since, np.nan)[pos]
        return out


def fit_on_slices(slices: list[pd.DataFrame], weight: np.ndarray | None = None) -> FixEffects:
    """Each fix's effect per payer cell, and the payer rule changes, from the remits of `slices` (the
    first is the training period). `modeling.train.fit_split` passes every labelled line, after the
    holdout metrics are read: the latest remits are where a payer's new rule shows first.

    A sampled training period is used as sampled, each line with its weight: the same lines the
    classifier is fitted on. `weight` covers the leading lines (the training period's, or every
    slice's when the later lines are sampled too: `modeling.latest.refit_slices`); past it a line
    weighs 1. So the memory budget holds here too.
    """
    lines = pd.concat(slices)
    w = line_weights(weight, len(lines))
    effects = fit_fix_effects(lines, lines["denied"].astype(bool).to_numpy(), lines.get("denial_reason"), w)
    names = ("train", "calibration", "holdout")[: len(slices)]
    effects.info["slices"] = "+".join(names) + _sampled_note(weight, len(slices[0]))
    return effects


def line_weights(weight: np.ndarray | None, lines: int) -> np.ndarray | None:
    """Every line's weight: `weight` for the leading lines, 1 for the rest (None: all weigh 1)."""
    return None if weight is None else np.concatenate([weight, np.ones(lines - len(weight))])


def _sampled_note(weight: np.ndarray | None, train_lines: int) -> str:
    if weight is None:
        return ""
    return " (training period sampled)" if len(weight) <= train_lines else " (later lines sampled too)"


def _defects(clean: pd.DataFrame, cand: remedies.Candidates) -> dict[tuple[str, str], np.ndarray]:
    return {
        (r, s): getattr(cand, s)[r] for r in remedies.REMEDIES for s in STATES if getattr(cand, s)[r].any()
    }


def _covariates(clean: pd.DataFrame, facts: LineFacts) -> dict[str, np.ndarray]:
    """Findings no remedy removes, so each remedy's effect is read beside them, not through them."""
    m = facts.mods
    prior = (
        clean["prior_same_code_12m"].astype("Float64").fillna(0).to_numpy(float)
        if "prior_same_code_12m" in clean
        else np.zeros(len(clean))
    )
    lag = (
        (clean["submission_date"] - clean["service_date"]).dt.days.to_numpy(float, na_value=np.nan)
        if "submission_date" in clean
        else np.full(len(clean), np.nan)
    )
    units = clean["units"].astype("Float64").fillna(1).to_numpy(float)
    limit = facts.policy["unit_limit"].astype("Float64").to_numpy(float, na_value=np.nan)
    pos = (
        clean["place_of_service"].astype("string").fillna("").to_numpy(object)
        if "place_of_service" in clean
        else np.full(len(clean), "", dtype=object)
    )
    return {
        "invalid_code": facts.hcpcs_status.eq("invalid").fillna(False).to_numpy(bool),
        "no_supporting_dx": facts.support["any_supports"].eq(False).fillna(False).to_numpy(bool),
        "ga": m["GA"],
        "gz": m["GZ"],
        "repeat_item": (prior > 0) & ~m["RA"],
        "units_over": units > np.where(m["RT"] & m["LT"], 2, 1) * limit,
        "facility": np.isin(pos, ("21", "31")),
        "lag_91_180": (lag > 90) & (lag <= 180),
        "lag_181_365": (lag > 180) & (lag <= 365),
        "lag_over_365": lag > 365,
    }


@dataclass
class _Fit:
    """What every fit of one set of lines shares: the base design (payer, cell, supplier, quarter,
    findings), the outcome, the remedies' defects and cells, and the rule changes."""

    base: Design
    y: np.ndarray
    weight: np.ndarray | None
    clusters: np.ndarray
    defects: dict
    cells_of: dict
    changed_at: dict
    recent: np.ndarray
    day: np.ndarray  # service day, days since the epoch
    changes: list


def fit_fix_effects(
    clean: pd.DataFrame, denied: np.ndarray, reasons: pd.Series | None, weight: np.ndarray | None = None
) -> FixEffects:
    """Estimate every remedy's effect per cell on labelled normalised lines, and where it varies inside a
    cell (`modeling.effect_detail`), and the payer rule changes (`modeling.changes`).

    `weight`: per line, for a time-aware sample of the training period (`modeling.sampling`: sampled
    paid lines stand for 1 / rate lines each); the fit, its standard errors and the reason shares
    are weighted (a pseudo-likelihood: the cluster-robust covariance carries the sampling)."""
    facts = LineFacts.of(clean)
    cand = remedies.candidates(clean, facts)
    n = len(clean)
    fit = _prepare(clean, facts, cand, denied, reasons, weight)
    main, fitted = _estimates(fit)
    stated = effect_pool.pooled(main)  # small cells borrow from the same group's other payers
    effects = FixEffects(
        keys=[f"{r}|{s}|{c}" for r, s, c, _ in stated],
        beta=np.array([v[0] for v in stated.values()]),
        se=np.array([v[1] for v in stated.values()]),
        recent=np.array([v[2] for v in stated.values()], dtype=bool),
        since=np.array([v[3] for v in stated.values()], dtype=float),
    )
    effects.changes = [dict(c) for c in fit.changes]
    amount = pd.to_numeric(clean.get("billed_amount", pd.Series(np.nan, index=clean.index)), errors="coerce")
    bands, cuts = effect_detail.band_labels(amount.to_numpy(dtype=float), cand, fit.cells_of)
    codes = effect_detail.code_labels(
        clean["hcpcs_code"].astype("string").fillna("").to_numpy(object), cand, fit.cells_of
    )
    effects.detail = effect_detail.choose(
        _split_estimates(fit, main, fitted, bands), _split_estimates(fit, main, fitted, codes), cuts
    )
    _add_reason_evidence(effects, clean, cand, reasons, denied, weight)
    effects.info = {
        "lines": n,
        "columns": len(fit.base.columns),
        "cells": len(effects.keys),
        "changed_lately": int(effects.recent.sum()),
        "rule_changes": len(effects.changes),
        "cells_split": len(effects.detail),
        "stated_shrink": STATED_SHRINK,
        "from": f"{clean['service_date'].min():%Y-%m-%d}" if n else "",
        "to": f"{clean['service_date'].max():%Y-%m-%d}" if n else "",
    }
    log.info(
        "fix effects: %d remedy cells (%d split inside) from %d lines; %d rule changes",
        len(effects.keys),
        len(effects.detail),
        n,
        len(effects.changes),
    )
    return effects


def _split_estimates(fit: _Fit, main: dict, fitted: tuple, sub: dict) -> dict:
    """(remedy, state, cell, sub-cell label) -> (beta, se) for every cell the labels split: each sub-cell's
    effect on top of everything else the main fit learned (its linear predictor, without this cell's
    defect term, as an offset), on the lines whose estimate the cell uses (since a change: the later)."""
    X, coef, eta, columns, defect_cols = fitted
    Xc = X.tocsc()
    weight = np.ones(len(fit.y)) if fit.weight is None else np.asarray(fit.weight, dtype=float)
    out = {}
    for (r, s, cell, _), (_, _, moved, _) in main.items():
        labels = sub.get(r)
        names = [
            defect_cols.get((r, s, cell, "", late)) for late in ((True,) if moved else (None, False, True))
        ]
        rows, applied = [], []
        for name in filter(None, names):
            j = columns[name]
            rows.append(Xc.indices[Xc.indptr[j] : Xc.indptr[j + 1]])
            applied.append(np.full(len(rows[-1]), coef[j]))
        if labels is None or not rows:
            continue
        rows, applied = np.concatenate(rows), np.concatenate(applied)
        parts = effect_detail.split_parts(np.ones(len(rows), dtype=bool), labels[rows])
        if len(parts) < 2:
            continue
        group = np.zeros(len(rows), dtype=np.int64)
        for g, (_, m) in enumerate(parts):
            group[m] = g
        b, e = effect_detail.offset_fit(
            fit.y[rows],
            eta[rows] - applied,
            group,
            len(parts),
            weight[rows],
            fit.clusters[rows],
            1 / PENALTY_C,
        )
        for (label, _), bi, ei in zip(parts, b, e):
            out[(r, s, cell, label)] = (bi, ei)
    return out


def _prepare(clean, facts, cand, denied, reasons, weight) -> _Fit:
    n = len(clean)
    day = clean["service_date"].to_numpy(dtype="datetime64[D]")
    recent = day >= (day.max() - np.timedelta64(RECENT_DAYS, "D")) if n else np.zeros(0, bool)
    design = Design(n)
    payer = clean["payer_id"].astype("string").fillna("?").to_numpy(object)
    group = facts.policy["policy_group"].astype("string").fillna("(no policy)").to_numpy(object)
    design.add_categories("payer", payer)  # the payer's own level, so no remedy column has to carry it
    design.add_categories("cell", np.char.add(payer.astype(str), np.char.add("|", group.astype(str))))
    design.add_categories(
        "supplier", clean["provider_id"].astype("string").fillna("?").to_numpy(object), SUPPLIER_MIN_LINES
    )
    design.add_categories("quarter", pd.PeriodIndex(clean["service_date"], freq="Q").astype(str).to_numpy())
    for name, mask in _covariates(clean, facts).items():
        design.add(f"finding={name}", mask)
    cells_of = {
        r: pd.factorize(pd.Series(cand.cells[r], dtype=object).astype(str)) for r in remedies.REMEDIES
    }
    changes = detect_changes(clean, cand, denied, reasons, weight, cells_of)
    clusters = (
        clean["claim_id"].astype("string").fillna("").to_numpy(object)
        if "claim_id" in clean
        else np.arange(n)
    )
    fit = _Fit(
        base=design,
        y=np.asarray(denied, dtype=int),
        weight=weight,
        clusters=clusters,
        defects=_defects(clean, cand),
        cells_of=cells_of,
        changed_at={(c["remedy"], c["state"], c["cell"]): c["since_day"] for c in changes},
        recent=recent,
        day=day.astype(np.int64),
        changes=changes,
    )
    return fit


def _estimates(fit: _Fit, sub: dict | None = None) -> tuple[dict, tuple]:
    """(remedy, state, cell, sub-cell label) -> (beta, se, changed, since day) from one penalised fit;
    `sub`: per remedy, each line's sub-cell label (`effect_detail`), or None: whole cells (""). And what
    the split estimates build on: (design, coefficients, linear predictor, columns, defect columns)."""
    from sklearn.linear_model import LogisticRegression

    design = fit.base.copy()
    defect_cols: dict[tuple, str] = {}
    for (r, s), mask in fit.defects.items():
        codes, uniq = fit.cells_of[r]
        counts = np.bincount(codes[mask], minlength=len(uniq))
        for k in np.flatnonzero(counts >= MIN_LINES):
            in_cell = mask & (codes == k)
            for label, part in effect_detail.split_parts(in_cell, None if sub is None else sub.get(r)):
                _add_periods(design, defect_cols, fit, (r, s, str(uniq[k]), label), part)
    X = design.matrix()
    clf = LogisticRegression(C=PENALTY_C, solver="newton-cholesky", max_iter=100, tol=1e-6).fit(
        X, fit.y, sample_weight=fit.weight
    )
    cov = _covariance(X, clf, fit.y, fit.clusters, fit.weight)
    coef = clf.coef_.ravel()
    fitted = (X, coef, clf.decision_function(X), design.columns, defect_cols)
    return _collect(design.columns, defect_cols, coef, cov, fit.changed_at), fitted


def _add_periods(design: Design, defect_cols: dict, fit: _Fit, key: tuple, in_cell: np.ndarray) -> None:
    """The defect's columns for one (sub-)cell: since a detected change and before it; else the last
    `RECENT_DAYS` and before; one column when a side has fewer than `MIN_LINES` lines."""
    r, s, cell, label = key
    at = fit.changed_at.get((r, s, cell))
    late_mask = fit.recent if at is None else fit.day >= at
    n_all, n_late = int(in_cell.sum()), int((in_cell & late_mask).sum())
    split = min(n_late, n_all - n_late) >= MIN_LINES
    for late in (False, True) if split else (None,):
        name = "|".join((r, s, cell, label, {None: "all", True: "recent", False: "before"}[late]))
        before = len(design.columns)
        design.add(name, in_cell if late is None else in_cell & (late_mask == late))
        if len(design.columns) > before:
            defect_cols[(*key, late)] = name


def _covariance(
    X: sparse.csr_matrix, clf, y: np.ndarray, clusters: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """The larger of two covariances, per coefficient: the inverse penalised information, and the
    cluster-robust (sandwich) one clustered by claim. A claim's lines share one record (its
    documents, its eligibility), so they are not independent draws and the information alone
    understates the error; the sandwich alone understates it in small cells the model fits
    closely (few residuals). Only the diagonal is used. Intercept last."""
    p = clf.predict_proba(X)[:, 1]
    w = p * (1 - p) if weight is None else weight * p * (1 - p)
    residual = (y - p) if weight is None else weight * (y - p)
    Xi = sparse.hstack([X, np.ones((X.shape[0], 1))]).tocsr()
    H = (Xi.T @ Xi.multiply(w[:, None])).toarray()
    H[np.diag_indices(X.shape[1])] += 1.0 / PENALTY_C
    H[-1, -1] += 1e-9  # the intercept: kept invertible when the design spans it
    bread = linalg.cho_solve(linalg.cho_factor(H), np.eye(len(H)))
    codes, uniq = pd.factorize(pd.Series(clusters, dtype=object))
    C = sparse.csr_matrix(
        (np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(len(uniq), len(codes))
    )
    G = (C @ Xi.multiply(residual[:, None])).tocsr()  # per claim: the score's sum over its lines
    meat = (G.T @ G).toarray()
    robust = bread @ meat @ bread
    np.fill_diagonal(robust, np.maximum(np.diag(robust), np.diag(bread)))
    return robust


def _collect(columns: dict[str, int], defect_cols: dict, coef: np.ndarray, cov: np.ndarray, changed_at: dict):
    """One estimate per (remedy, state, cell, sub-cell): the one since a detected change
    (`modeling.changes`); else the recent one when it differs from the earlier beyond their noise;
    else both pooled. Values: (beta, se, changed, since day or NaN)."""
    out = {}
    for r, s, cell, label in sorted({k[:4] for k in defect_cols}):
        est = {}
        for late in (None, False, True):
            name = defect_cols.get((r, s, cell, label, late))
            if name is not None:
                j = columns[name]
                est[late] = (coef[j], np.sqrt(max(cov[j, j], 1e-12)))
        at = changed_at.get((r, s, cell))
        if False in est and True in est:
            (b0, s0), (b1, s1) = est[False], est[True]
            moved = at is not None or abs(b1 - b0) > CHANGE_Z * np.hypot(s0, s1)
            if moved:
                b, e = b1, s1
            else:
                w0, w1 = 1 / s0**2, 1 / s1**2
                b, e = (w0 * b0 + w1 * b1) / (w0 + w1), (w0 + w1) ** -0.5
        else:
            (b, e), moved = next(iter(est.values())), False
        out[(r, s, cell, label)] = (
            float(b),
            float(e),
            bool(moved),
            at if moved and at is not None else np.nan,
        )
    return out


def _add_reason_evidence(
    effects: FixEffects,
    clean: pd.DataFrame,
    cand: remedies.Candidates,
    reasons: pd.Series | None,
    denied: np.ndarray,
    weight: np.ndarray | None = None,
) -> None:
    """Per stored cell: the share of lines with the defect denied for its remedy's reasons, and without."""
    k = len(effects.keys)
    effects.n, effects.n_without, effects.rate = np.zeros(k), np.zeros(k), np.full(k, np.nan)
    effects.reason_rate, effects.reason_rate_without = np.full(k, np.nan), np.full(k, np.nan)
    have_reasons = reasons is not None and reasons.notna().any()
    carc = reasons.astype("string").fillna("").to_numpy(object) if have_reasons else None
    by_remedy: dict[str, tuple] = {}
    day = clean["service_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    for i, key in enumerate(effects.keys):
        r, s, cell = key.split("|", 2)
        if r not in by_remedy:
            codes, uniq = pd.factorize(pd.Series(cand.cells[r], dtype=object).astype(str))
            hit = (
                np.asarray(denied, bool) & np.isin(carc, remedies.REMEDIES[r].carcs) if have_reasons else None
            )
            by_remedy[r] = (codes, {u: k for k, u in enumerate(uniq)}, hit)
        codes, where, hit = by_remedy[r]
        in_cell = codes == where.get(cell, -1)
        if len(effects.since) and not np.isnan(effects.since[i]):  # a rule change: its evidence since
            in_cell &= day >= effects.since[i]
        has = in_cell & getattr(cand, s)[r]
        without = in_cell & ~cand.present[r] & ~cand.unknown[r]
        w = np.ones(len(has)) if weight is None else weight
        effects.n[i], effects.n_without[i] = w[has].sum(), w[without].sum()
        if has.any():
            effects.rate[i] = np.average(np.asarray(denied, bool)[has], weights=w[has])
        if hit is not None:
            effects.reason_rate[i] = np.average(hit[has], weights=w[has]) if has.any() else np.nan
            effects.reason_rate_without[i] = (
                np.average(hit[without], weights=w[without]) if without.any() else np.nan
            )
