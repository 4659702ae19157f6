"""Rolling-origin monthly backtest: how the model ages, and what retraining buys.

For each of the last K months t+1: train on every month up to t (the last
of those months calibrates), test on month t+1. Beside the model retrained
each month, the first fold's model is kept *frozen* and scored on every later
month: a payer's mid-period policy change shows as the frozen model's drop,
and the retrained model's recovery shows what retraining on new remittances
buys. No fold ever trains on the month it tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.modeling import evaluate
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import feature_input, fit_on
from denial_risk.registry import tracking

log = logging.getLogger(__name__)

FOLD_METRICS = ("roc_auc", "ece", "dollars_caught_top10", "brier", "denial_rate", "mean_probability")


@dataclass
class Fold:
    test_month: str
    train_end: str
    train_lines: int
    test_lines: int


def folds(frame: pd.DataFrame, k: int) -> list[tuple[Fold, pd.DataFrame, pd.DataFrame]]:
    """(fold, training rows, test rows) for the last k months with at least 3 earlier months."""
    month = frame["service_date"].dt.to_period("M")
    months = sorted(month.unique())
    if len(months) < 4:
        raise UserError(
            f"backtest: the data covers {len(months)} months; a monthly backtest needs at least 4"
        )
    test_months = months[max(3, len(months) - k) :]
    out = []
    for m in test_months:
        train = frame[month < m]
        test = frame[month == m]
        out.append((Fold(str(m), f"{train.service_date.max():%Y-%m-%d}", len(train), len(test)), train, test))
    return out


def _split_calibration(train: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The last month of the training window calibrates; the rest fits."""
    month = train["service_date"].dt.to_period("M")
    last = month.max()
    return train[month < last], train[month == last]


def run_backtest(
    frame: pd.DataFrame,
    k: int = 6,
    config: TrainConfig | None = None,
    *,
    experiment: str = "denial-risk/backtest",
) -> pd.DataFrame:
    """Metrics per test month for the retrained and the frozen model; logged as nested MLflow runs."""
    config = config or TrainConfig()
    frame = frame[frame["denied"].notna()]
    plan = folds(frame, k)
    rows = []
    frozen = None
    with tracking.run(experiment, run_name=f"backtest-{k}-folds"):
        tracking.log_params(
            {
                "folds": len(plan),
                "rows": len(frame),
                "first_test_month": plan[0][0].test_month,
                "last_test_month": plan[-1][0].test_month,
            }
        )
        for i, (fold, train, test) in enumerate(plan):
            fit_rows, calib = _split_calibration(train)
            model = fit_on(fit_rows, calib, config, chosen=None if i == 0 else rows[0]["classifier"]).model
            if frozen is None:
                frozen = model
            y = test["denied"].astype(int).to_numpy()
            billed = test["billed_amount"].to_numpy(dtype=float)
            X_in = feature_input(test, config)
            m_re = evaluate.classification_metrics(y, model.predict_proba(X_in), billed)
            m_fr = evaluate.classification_metrics(y, frozen.predict_proba(X_in), billed)
            row = {
                **fold.__dict__,
                "classifier": model.info["classifier"],
                **{f"retrained_{k_}": m_re[k_] for k_ in FOLD_METRICS},
                **{f"frozen_{k_}": m_fr[k_] for k_ in FOLD_METRICS},
            }
            rows.append(row)
            with tracking.run(experiment, run_name=f"fold-{fold.test_month}", nested=True):
                tracking.log_params({**fold.__dict__, "classifier": row["classifier"]})
                tracking.log_metrics({k_: m_re[k_] for k_ in FOLD_METRICS})
                tracking.log_metrics({k_: m_fr[k_] for k_ in FOLD_METRICS}, prefix="frozen_")
            log.info(
                f"fold {i + 1}/{len(plan)} test {fold.test_month} (train to {fold.train_end}, "
                f"{fold.train_lines} lines): AUC retrained {m_re['roc_auc']:.3f}, "
                f"frozen {m_fr['roc_auc']:.3f}"
            )
        table = pd.DataFrame(rows)
        for i, row in table.iterrows():
            tracking.log_metrics(
                {
                    "retrained_roc_auc": row["retrained_roc_auc"],
                    "frozen_roc_auc": row["frozen_roc_auc"],
                    "retrained_ece": row["retrained_ece"],
                },
                step=int(i),
            )
        tracking.log_table(table, "backtest")
        tracking.log_figure(plot_backtest(table), "backtest")
    return table


def plot_backtest(table: pd.DataFrame, policy_change: str | None = None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=110)
    x = np.arange(len(table))
    for ax, metric, title in zip(
        axes,
        ("roc_auc", "ece", "dollars_caught_top10"),
        ("ROC AUC", "calibration error (ECE)", "denied $ caught in top 10 %"),
    ):
        ax.plot(x, table[f"retrained_{metric}"], marker="o", label="retrained monthly")
        ax.plot(
            x, table[f"frozen_{metric}"], marker="s", ls="--", label=f"frozen at {table.test_month.iloc[0]}"
        )
        ax.set_xticks(x, table["test_month"], rotation=45, fontsize=8)
        ax.set_title(title)
        if policy_change is not None and policy_change in set(table["test_month"]):
            ax.axvline(list(table["test_month"]).index(policy_change), c="red", ls=":", label="policy change")
    axes[0].legend(fontsize=8)
    fig.suptitle("Rolling monthly backtest: train on months ≤ t, test on month t+1")
    fig.tight_layout()
    return fig
