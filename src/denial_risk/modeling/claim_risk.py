"""The claim's probability: P(at least one of its lines is denied), calibrated on whole claims.

The lines of a claim share its patient, visit, supplier, eligibility, filing date and
record, so their denials are not independent: the product of the lines' survival,
`1 - prod(1 - p_line)`, overstates the risk of a claim with several lines (its lines tend
to be denied together, or paid together). The correction is learned, not assumed
(docs/claims_worklist.md):

* a one-line claim's probability is its line's, already calibrated;
* a claim of two or more lines gets a monotone map of its independence product, fitted
  at training time on the calibration slice's multi-line claims (outcome: any line denied):
  isotonic with at least `ISOTONIC_MIN_CLAIMS` (20,000) claims, a Platt (logistic) fit on
  logit(product) below that, none (the product itself) below `MIN_CLAIMS`, or when the map does
  not beat the product out of fold (5-fold log loss over the calibration claims).

The map is stored as plain numbers in `model.info["claim_calibration"]` (skops-safe), so a
model trained before it existed scores claims with the product. Every engine (worklist,
Spark, the server) calls `claim_probability` on per-claim sums of `log1p(-p_line)`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ISOTONIC_MIN_CLAIMS = (
    20_000  # project judgement: below, isotonic's variance cost more than Platt's bias (bench_claims)
)
MIN_CLAIMS = 100  # fewer multi-line claims than this: no map, the product stands
FOLDS = 5  # the map must beat the product out of fold on the calibration claims to be kept
_EPS = 1e-6


P_TOP = 1.0 - 1e-12  # a line at probability 1 counts as this, so its log-survival stays finite


def log_survival(p: np.ndarray) -> np.ndarray:
    """log(1 - p) per line, finite (a line's probability clipped to [0, `P_TOP`])."""
    return np.log1p(-np.clip(np.asarray(p, dtype=float), 0.0, P_TOP))


def independence(log_survival_sum: np.ndarray) -> np.ndarray:
    """1 - prod(1 - p_line), from the claim's sum of `log_survival`."""
    return -np.expm1(np.asarray(log_survival_sum, dtype=float))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_claim_calibration(product: np.ndarray, lines: np.ndarray, denied: np.ndarray) -> dict:
    """The map for multi-line claims, as plain data: {"method", ...parameters, "claims"}; kept only when
    it beats the product itself out of fold (`FOLDS`-fold log loss over the claims), else "none"."""
    multi = np.asarray(lines) >= 2
    x, y = np.asarray(product, dtype=float)[multi], np.asarray(denied, dtype=float)[multi]
    n = int(multi.sum())
    if n < MIN_CLAIMS or y.min(initial=1) == y.max(initial=0):
        return {"method": "none", "claims": n}
    method = "isotonic" if n >= ISOTONIC_MIN_CLAIMS else "sigmoid"
    fold = np.random.default_rng(0).permutation(n) % FOLDS
    oof = np.empty(n)
    for k in range(FOLDS):
        held = fold == k
        if y[~held].min() == y[~held].max():
            return {"method": "none", "claims": n}
        oof[held] = _apply(_fit(method, x[~held], y[~held]), x[held])
    if _log_loss(y, oof) >= _log_loss(y, x):
        return {"method": "none", "claims": n, "tried": method}
    return {**_fit(method, x, y), "claims": n}


def _fit(method: str, x: np.ndarray, y: np.ndarray) -> dict:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
        return {
            "method": "isotonic",
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4).fit(_logit(x)[:, None], y.astype(int))
    return {"method": "sigmoid", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def _apply(calibration: dict, product: np.ndarray) -> np.ndarray:
    if calibration["method"] == "isotonic":
        return np.interp(product, calibration["x"], calibration["y"])
    return 1.0 / (1.0 + np.exp(-(calibration["a"] * _logit(product) + calibration["b"])))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def claim_probability(
    calibration: dict | None, log_survival_sum: np.ndarray, lines: np.ndarray
) -> np.ndarray:
    """Calibrated P(any line denied) per claim from its lines' `log_survival` sum and line count."""
    product = independence(log_survival_sum)
    method = (calibration or {}).get("method", "none")
    if method == "none" or not len(product):
        return product
    mapped = _apply(calibration, product)
    return np.where(np.asarray(lines) >= 2, mapped, product)


def claim_frame(claim_id, p_line: np.ndarray, denied: np.ndarray | None = None) -> pd.DataFrame:
    """Per claim (first-seen order): lines, log-survival sum, and any line denied (when given)."""
    codes, _ = pd.factorize(pd.Series(claim_id).astype("string"), sort=False)
    n = int(codes.max()) + 1 if len(codes) else 0
    out = pd.DataFrame(
        {
            "lines": np.bincount(codes, minlength=n),
            "log_survival": np.bincount(codes, weights=log_survival(p_line), minlength=n),
        }
    )
    if denied is not None:
        out["denied"] = np.bincount(codes, weights=np.asarray(denied, dtype=float), minlength=n) > 0
    return out


def claim_metrics(calibration: dict | None, claim_id, p_line: np.ndarray, denied: np.ndarray) -> dict:
    """Claim-level AUC and ECE of the calibrated claim probability and of the independence product
    (multi-line claims and all claims), for the holdout report."""
    from sklearn.metrics import roc_auc_score

    from denial_risk.modeling.evaluate import expected_calibration_error

    frame = claim_frame(claim_id, p_line, denied)
    y = frame["denied"].to_numpy()
    lines = frame["lines"].to_numpy()
    prob = claim_probability(calibration, frame["log_survival"].to_numpy(), lines)
    product = independence(frame["log_survival"].to_numpy())
    out = {"claim_holdout_claims": float(len(frame)), "claim_holdout_multi_line": float((lines >= 2).sum())}
    for scope, rows in (("", slice(None)), ("multi_line_", lines >= 2)):
        yy = y[rows]
        if len(yy) == 0 or yy.min() == yy.max():
            continue
        for name, p in (("", prob), ("independence_", product)):
            out[f"claim_{scope}{name}auc"] = float(roc_auc_score(yy, p[rows]))
            out[f"claim_{scope}{name}ece"] = float(expected_calibration_error(yy, p[rows]))
    return out


def fit_for_model(model, calib_features: pd.DataFrame, claim_id, denied: np.ndarray) -> dict:
    """The claim map of a model whose line calibration is fitted: its calibrated line probabilities on
    the calibration slice (a block at a time), summed per claim, against whether any line was denied."""
    from denial_risk.modeling import matrix

    p = np.empty(len(calib_features))
    for rows in matrix.rows_in_chunks(len(calib_features)):
        p[rows] = model.proba_from_matrix(model.transform(calib_features.iloc[rows]))
    frame = claim_frame(claim_id, p, denied)
    return fit_claim_calibration(
        independence(frame["log_survival"].to_numpy()), frame["lines"].to_numpy(), frame["denied"].to_numpy()
    )
