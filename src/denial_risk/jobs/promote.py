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
from dataclasses import dataclass, field

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
    table: pd.DataFrame  # metric, champion, challenger, gain (challenger - champion), better
    promoted: bool
    reason: str
    interval: dict[str, tuple[float, float]] = field(default_factory=dict)  # bootstrap 5th, 95th pct of gain


LOWER_IS_BETTER = ("brier", "ece")  # errors; the rest are scores (higher is better)
METRICS = ("roc_auc", "pr_auc", "brier", "ece", "dollars_caught_top10", "dollars_caught_top20")


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
    interval = {m: tuple(float(q) for q in np.quantile(boot[m], [0.05, 0.95])) for m in boot}
    table = pd.DataFrame(
        [{"metric": m, "champion": m_a[m], "challenger": m_b[m], "gain": m_b[m] - m_a[m]} for m in METRICS]
    )
    table["better"] = [_better(r.metric, r.gain) for r in table.itertuples()]
    promoted, reason = _decide(table.set_index("metric"), interval, margin)
    return Comparison(champion, challenger, table, promoted, reason, interval)


def _better(metric: str, gain: float) -> str:
    if not np.isfinite(gain) or abs(gain) < 5e-5:  # equal at the table's 4 decimals
        return "same"
    return "challenger" if (gain < 0) == (metric in LOWER_IS_BETTER) else "champion"


def _decide(t: pd.DataFrame, interval: dict, margin: float) -> tuple[bool, str]:
    """The three gates, each worded with the figure it tested and what it was tested against."""
    gain, (p05, _) = t.loc["roc_auc", "gain"], interval.get("roc_auc", (np.nan, np.nan))
    dollars = t.loc["dollars_caught_top10", "gain"]
    if not gain >= margin:
        return False, f"the AUC gain {gain:+.4f} is below the margin {margin:.4f}"
    if not p05 > 0:
        return False, (
            f"the AUC gain {gain:+.4f} reaches the margin {margin:.4f}, but its bootstrap 5th percentile "
            f"{p05:+.4f} is not above 0: the gain may be chance"
        )
    if dollars < -margin:
        return False, (
            f"the share of denied dollars caught in the top 10 % would drop by {-100 * dollars:.2f} points"
        )
    return True, (
        f"the AUC gain {gain:+.4f} reaches the margin {margin:.4f} and its bootstrap 5th percentile "
        f"{p05:+.4f} is above 0; denied dollars caught in the top 10 % change by {100 * dollars:+.2f} points"
    )


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
    """Move @champion to the challenger if it wins, or to `version` (back: a rollback; or forward)."""
    versions = tracking.model_versions()
    if not versions:
        raise UserError("promote: no registered versions of denial-risk; run `denial-risk train` first")
    if version is not None:
        if str(version) not in versions:
            raise UserError(f"--version {version}: no such version (have {', '.join(versions)})")
        before = tracking.alias_version(tracking.CHAMPION)
        tracking.set_alias(tracking.CHAMPION, str(version))
        log.info(f"@champion is now version {version}{_move(before, str(version))}")
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
    log.info(result.table.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="n/a"))
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


def _move(before: str | None, after: str) -> str:
    """How `--version` moved @champion: back (a rollback), forward, or not at all."""
    if before is None:
        return ""
    if before == after:
        return " (it already was)"
    older = int(after) < int(before) if after.isdigit() and before.isdigit() else None
    return {True: f" (rollback from version {before})", False: f" (forward from version {before})"}.get(
        older, f" (was version {before})"
    )


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
