"""Champion/challenger promotion on the same later-dated holdout.

Both models score the same lines: those dated on or after the challenger's
holdout start, i.e. data neither model trained on. A paired bootstrap (the
same resampled lines for both) gives the distribution of the AUC and
dollars-caught differences. `@champion` moves only when the challenger's AUC
is better by at least the margin, the bootstrap's 5th percentile of the AUC
gain is above zero, and dollars caught in the top 10 % does not drop by more
than the margin. The comparison is logged to MLflow either way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from denial_risk.claims.table import load_claims
from denial_risk.errors import UserError
from denial_risk.modeling import evaluate
from denial_risk.modeling.config import config_of_model
from denial_risk.modeling.train import feature_input
from denial_risk.registry import tracking

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    champion: str
    challenger: str
    table: pd.DataFrame  # metric, champion, challenger, gain, gain_p05, gain_p95
    promoted: bool
    reason: str


def paired_bootstrap(y, p_a, p_b, billed, *, rounds: int = 200, seed: int = 0) -> pd.DataFrame:
    """Per round, the gain of b over a in AUC and dollars caught (top 10 %) on the same resample."""
    rng = np.random.default_rng(seed)
    n = len(y)
    rows = []
    for _ in range(rounds):
        i = rng.integers(0, n, n)
        if len(np.unique(y[i])) < 2:
            continue
        rows.append(
            {
                "roc_auc": roc_auc_score(y[i], p_b[i]) - roc_auc_score(y[i], p_a[i]),
                "dollars_caught_top10": evaluate.dollars_caught(y[i], p_b[i], billed[i], 0.1)
                - evaluate.dollars_caught(y[i], p_a[i], billed[i], 0.1),
            }
        )
    return pd.DataFrame(rows)


def compare(
    frame: pd.DataFrame,
    champion_model,
    challenger_model,
    champion: str,
    challenger: str,
    margin: float,
    *,
    rounds: int = 200,
) -> Comparison:
    y = frame["denied"].astype(int).to_numpy()
    billed = frame["billed_amount"].to_numpy(dtype=float)
    p_a = champion_model.predict_proba(feature_input(frame, config_of_model(champion_model)))
    p_b = challenger_model.predict_proba(feature_input(frame, config_of_model(challenger_model)))
    m_a = evaluate.classification_metrics(y, p_a, billed)
    m_b = evaluate.classification_metrics(y, p_b, billed)
    boot = paired_bootstrap(y, p_a, p_b, billed, rounds=rounds)
    rows = []
    for metric in ("roc_auc", "pr_auc", "brier", "ece", "dollars_caught_top10", "dollars_caught_top20"):
        row = {
            "metric": metric,
            "champion": m_a[metric],
            "challenger": m_b[metric],
            "gain": m_b[metric] - m_a[metric],
        }
        if metric in boot:
            row["gain_p05"], row["gain_p95"] = np.quantile(boot[metric], [0.05, 0.95])
        rows.append(row)
    table = pd.DataFrame(rows)
    auc = table.set_index("metric").loc["roc_auc"]
    dollars = table.set_index("metric").loc["dollars_caught_top10"]
    if auc["gain"] < margin:
        promoted, reason = False, f"AUC gain {auc['gain']:+.4f} is below the margin {margin}"
    elif not auc["gain_p05"] > 0:
        promoted, reason = (
            False,
            f"AUC gain not significant (bootstrap 5th percentile {auc['gain_p05']:+.4f})",
        )
    elif dollars["gain"] < -margin:
        promoted, reason = False, f"dollars caught in the top 10 % would drop by {-dollars['gain']:.4f}"
    else:
        promoted, reason = (
            True,
            f"AUC gain {auc['gain']:+.4f} (5th percentile {auc['gain_p05']:+.4f}) ≥ margin {margin}",
        )
    return Comparison(champion, challenger, table, promoted, reason)


def holdout_for(challenger_run: str, data: str | None) -> pd.DataFrame:
    params = tracking.run_params(challenger_run)
    path = data or params.get("data_path")
    if not path:
        raise UserError("promote: the challenger's run names no data file; pass --data")
    frame, _ = load_claims(path)
    start = pd.Timestamp(params["holdout_start"])
    frame = frame[frame["denied"].notna() & (frame["service_date"] >= start)]
    if frame["denied"].nunique() < 2:
        raise UserError(f"promote: the holdout from {start:%Y-%m-%d} in {path} needs denied and paid lines")
    return frame


def promote(margin: float = 0.005, version: str | None = None, data: str | None = None):
    """Move @champion to the challenger if it wins, or to `version` (rollback)."""
    versions = tracking.model_versions()
    if not versions:
        raise UserError("promote: no registered versions of denial-risk; run `denial-risk train` first")
    if version is not None:
        if str(version) not in versions:
            raise UserError(f"--version {version}: no such version (have {', '.join(versions)})")
        tracking.set_alias(tracking.CHAMPION, str(version))
        log.info(f"@champion is now version {version} (rollback)")
        return None
    champion = tracking.alias_version(tracking.CHAMPION)
    challenger = tracking.alias_version(tracking.CHALLENGER)
    if challenger is None or challenger == champion:
        raise UserError("promote: there is no @challenger to compare (train a new version first)")
    uri = f"models:/{tracking.MODEL_NAME}/"
    run_id = tracking.model_run_id(uri + challenger)
    frame = holdout_for(run_id, data)
    result = compare(
        frame,
        tracking.load_model(uri + champion),
        tracking.load_model(uri + challenger),
        champion,
        challenger,
        margin,
    )
    log.info(result.table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    with tracking.run("denial-risk/promotion", run_name=f"v{challenger}-vs-v{champion}"):
        tracking.log_params(
            {
                "champion": champion,
                "challenger": challenger,
                "margin": margin,
                "holdout_lines": len(frame),
                "promoted": result.promoted,
            }
        )
        tracking.log_table(result.table, "comparison")
        tracking.log_figure(_plot(result), "comparison")
    if result.promoted:
        tracking.set_alias(tracking.CHAMPION, challenger)
        log.info(f"promoted version {challenger} to @champion: {result.reason}")
    else:
        log.info(f"kept version {champion} as @champion: {result.reason}")
    return result


def _plot(result: Comparison):
    fig, ax = evaluate._figure()
    t = result.table.set_index("metric").loc[
        ["roc_auc", "pr_auc", "dollars_caught_top10", "dollars_caught_top20"]
    ]
    x = np.arange(len(t))
    ax.bar(x - 0.2, t["champion"], 0.4, label=f"champion v{result.champion}")
    ax.bar(x + 0.2, t["challenger"], 0.4, label=f"challenger v{result.challenger}")
    ax.set_xticks(x, t.index, rotation=15)
    ax.set(title="Same later-dated holdout", ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    return fig
