"""How good a denial model is, in the terms its users care about.

Data scientists read ROC/PR AUC, Brier, log loss and calibration error; revenue
teams read "share of denied dollars caught in the top 10 % of the worklist".
With the simulator's `true_denial_probability` present, the truth's own AUC is
the Bayes limit and the model is reported as a ratio to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """Count-weighted mean |observed rate − mean prediction| over equal-width bins."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(y[m].mean() - p[m].mean())
    return float(total / max(len(y), 1))


def recall_at_precision(y: np.ndarray, p: np.ndarray, precision: float) -> float:
    """Largest recall whose precision is at least `precision` (0 when never reached)."""
    prec, rec, _ = precision_recall_curve(y, p)
    ok = prec >= precision
    return float(rec[ok].max()) if ok.any() else 0.0


def dollars_caught(y: np.ndarray, p: np.ndarray, billed: np.ndarray, share: float) -> float:
    """Share of denied dollars inside the top `share` of lines ranked by expected loss."""
    y = np.asarray(y, dtype=bool)
    billed = np.asarray(billed, dtype=float)
    denied_dollars = billed[y].sum()
    if denied_dollars <= 0:
        return float("nan")
    order = np.lexsort((-np.asarray(p), -(np.asarray(p) * billed)))
    k = int(np.ceil(share * len(order)))
    top = order[:k]
    return float(billed[top][y[top]].sum() / denied_dollars)


def dollars_caught_curve(y, p, billed, points: int = 101) -> pd.DataFrame:
    shares = np.linspace(0, 1, points)
    return pd.DataFrame(
        {
            "share_of_lines": shares,
            "share_of_denied_dollars": [dollars_caught(y, p, billed, s) if s > 0 else 0.0 for s in shares],
        }
    )


def classification_metrics(y, p, billed, truth=None) -> dict[str, float]:
    """All headline metrics for one set of lines (NaN where undefined, e.g. one class)."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    out: dict[str, float] = {
        "lines": float(len(y)),
        "denial_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_probability": float(p.mean()) if len(p) else float("nan"),
    }
    two_classes = len(np.unique(y)) == 2
    out["roc_auc"] = float(roc_auc_score(y, p)) if two_classes else float("nan")
    out["pr_auc"] = float(average_precision_score(y, p)) if two_classes else float("nan")
    out["brier"] = float(brier_score_loss(y, p)) if len(y) else float("nan")
    out["log_loss"] = float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan")
    out["ece"] = expected_calibration_error(y, p)
    out["recall_at_90_precision"] = recall_at_precision(y, p, 0.90) if two_classes else float("nan")
    out["recall_at_95_precision"] = recall_at_precision(y, p, 0.95) if two_classes else float("nan")
    out["dollars_caught_top10"] = dollars_caught(y, p, billed, 0.10)
    out["dollars_caught_top20"] = dollars_caught(y, p, billed, 0.20)
    if truth is not None and two_classes:
        t = np.asarray(truth, dtype=float)
        out["bayes_roc_auc"] = float(roc_auc_score(y, t))
        out["auc_ratio_to_bayes"] = out["roc_auc"] / out["bayes_roc_auc"]
        out["bayes_ece"] = expected_calibration_error(y, t)
    return out


def reason_accuracy(top: list[list[tuple[str, float]]], truth: pd.Series) -> dict[str, float]:
    """Top-1 and top-3 accuracy of the likely CARCs on denied lines (`top`: per line, best first).

    A pooled class ('other', 'unknown') is never a hit: the worklist shows codes, not pools.
    """
    actual = truth.astype("string").fillna("").to_numpy(dtype=object)
    codes = [[c for c, _ in row if c not in ("other", "unknown", "")] for row in top]
    if not len(actual):
        return {"carc_top1_accuracy": float("nan"), "carc_top3_accuracy": float("nan")}
    top1 = np.mean([bool(row) and row[0] == a for row, a in zip(codes, actual)])
    top3 = np.mean([a in row[:3] for row, a in zip(codes, actual)])
    return {"carc_top1_accuracy": float(top1), "carc_top3_accuracy": float(top3)}


def sliced_metrics(frame: pd.DataFrame, p: np.ndarray, by: str) -> pd.DataFrame:
    """The same metrics per slice (payer type, policy group), one row per slice."""
    rows = []
    keys = frame[by].astype("string").fillna("(unknown)").to_numpy()
    y = frame["denied"].astype(int).to_numpy()
    billed = frame["billed_amount"].to_numpy(dtype=float)
    for key in sorted(set(keys)):
        m = keys == key
        row = classification_metrics(y[m], p[m], billed[m])
        rows.append({by: key, **row})
    return pd.DataFrame(rows)


# --- plots (matplotlib Agg; returned as figures so tracking can log them) ---


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.5, 4.2), dpi=110)


def plot_roc(y, p, baseline=None):
    fig, ax = _figure()
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc_score(y, p):.3f})")
    if baseline is not None:
        fpr, tpr, _ = roc_curve(y, baseline)
        ax.plot(fpr, tpr, label=f"logistic baseline (AUC {roc_auc_score(y, baseline):.3f})", alpha=0.7)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, later-dated holdout")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_pr(y, p):
    fig, ax = _figure()
    prec, rec, _ = precision_recall_curve(y, p)
    ax.plot(rec, prec, label=f"model (AP {average_precision_score(y, p):.3f})")
    ax.axhline(np.mean(y), ls=":", c="grey", label="denial rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, holdout")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_reliability(y, p, bins: int = 10):
    fig, ax = _figure()
    idx = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(np.mean(np.asarray(p)[m]))
            ys.append(np.mean(np.asarray(y)[m]))
            ns.append(m.sum())
    ax.plot([0, 1], [0, 1], ls=":", c="grey", label="perfect")
    ax.scatter(xs, ys, s=np.clip(np.asarray(ns) / max(ns) * 300, 15, 300), label="bins (size = lines)")
    ax.plot(xs, ys)
    ax.set(
        xlabel="predicted denial probability",
        ylabel="observed denial rate",
        title=f"Reliability (ECE {expected_calibration_error(y, p):.4f})",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def plot_dollars_caught(y, p, billed):
    fig, ax = _figure()
    curve = dollars_caught_curve(y, p, billed)
    ax.plot(curve.share_of_lines, curve.share_of_denied_dollars, label="model worklist")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", label="random order")
    for s in (0.1, 0.2):
        ax.axvline(s, ls="--", c="lightgrey")
    ax.set(
        xlabel="share of lines worked (by expected loss)",
        ylabel="share of denied dollars caught",
        title="Dollars caught",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.Series):
    fig, ax = _figure()
    imp = importance.sort_values()
    ax.barh(imp.index, imp.values)
    ax.set(xlabel="drop in ROC AUC when permuted", title="Permutation importance by feature group")
    fig.tight_layout()
    return fig


def permutation_importance_by_group(
    score_fn, X: np.ndarray, y, groups: dict[str, list[int]], *, seed: int = 0
) -> pd.Series:
    """AUC drop when a whole feature group's columns are shuffled together (rows kept aligned)."""
    rng = np.random.default_rng(seed)
    base = roc_auc_score(y, score_fn(X))
    drops = {}
    for name, cols in groups.items():
        if not cols:
            continue
        Xp = X.copy()
        perm = rng.permutation(len(X))
        Xp[:, cols] = X[perm][:, cols]
        drops[name] = base - roc_auc_score(y, score_fn(Xp))
    return pd.Series(drops, dtype=float)
