"""Watching a deployed model: drift of a backlog, predicted versus realised denials, payer rule changes.

Population stability per feature compares the backlog's feature distributions
with the training data's profile stored inside the model. Once the payer's
835 remittances come back (`ingest-x12` labels them), the scored lines are
joined to their outcomes by (claim_id, line_number) and the predicted denial
rate is set against the realised one, overall, per payer type and per
probability decile. The payer rule changes the model found in its remits are listed, with
those the new remits show (`modeling.changes`). Plots and metrics are logged to MLflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk.claims.table import load_claims
from denial_risk.errors import UserError
from denial_risk.modeling import changes, evaluate, realised
from denial_risk.modeling.drift import drift_report
from denial_risk.registry import tracking

log = logging.getLogger(__name__)

DRIFT_THRESHOLD = 0.25


@dataclass
class MonitoringResult:
    drift: pd.DataFrame  # feature, psi, drifted
    outcomes: pd.DataFrame | None  # slice, lines, predicted_rate, realised_rate
    metrics: dict
    changes: list[dict] = field(default_factory=list)  # payer rule changes (`modeling.changes`)

    def change_lines(self) -> list[str]:
        return [changes.describe(c) for c in self.changes]


def feature_drift(model, frame: pd.DataFrame, *, sample: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """PSI of each model feature: the backlog against the training profile stored in the model."""
    profile = model.info.get("drift_profile")
    if not profile:
        raise UserError("--model: this model stores no training profile to compare with")
    if len(frame) > sample:
        frame = frame.iloc[np.random.default_rng(seed).permutation(len(frame))[:sample]]
    X = model.transform(frame)
    return drift_report(profile, pd.DataFrame(X, columns=model.feature_names), threshold=DRIFT_THRESHOLD)


def predicted_vs_realised(scored: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Join scored lines to their remitted outcomes; compare rates overall, per payer type and decile."""
    left = realised.keyed(scored[[*realised.KEYS, "payer_type", "denial_probability"]])
    right = realised.keyed(outcomes.loc[outcomes["denied"].notna(), [*realised.KEYS, "denied"]])
    joined = left.merge(right, on=realised.KEYS, how="inner")
    if joined.empty:
        raise UserError("--remits: no scored line matches a remitted line by claim_id and line_number")
    joined["denied"] = joined["denied"].astype(bool).astype(float)
    table = realised.slice_table(joined, "denial_probability", "denied", by="payer_type")
    table.attrs["joined"] = joined
    return table


def monitor(
    scored_path: str, model_uri: str, remits_path: str | None = None, *, model_sha256: str | None = None
) -> MonitoringResult:
    model = tracking.load_model(model_uri, model_sha256)
    frame, _ = load_claims(scored_path, option="--scored")
    if "denial_probability" not in frame.columns:
        raise UserError(f"--scored {scored_path}: missing column 'denial_probability' (score the file first)")
    frame["denial_probability"] = pd.to_numeric(frame["denial_probability"], errors="coerce")
    drift = feature_drift(model, frame)
    metrics = {
        "psi_max": float(drift["psi"].max()),
        "features_drifted": int(drift["drifted"].sum()),
        "lines_scored": len(frame),
        "mean_predicted_probability": float(frame["denial_probability"].mean()),
    }
    outcomes = None
    found = list(getattr(getattr(model, "fix_effects", None), "changes", None) or [])
    if remits_path:
        remitted, _ = load_claims(remits_path, option="--remits")
        found = changes.merged(found, changes.detect_in(remitted))
        outcomes = predicted_vs_realised(frame, remitted)
        joined = outcomes.attrs["joined"]
        y, p = joined["denied"].to_numpy().astype(int), joined["denial_probability"].to_numpy()
        overall = outcomes.iloc[0]
        metrics.update(
            {
                "lines_with_outcome": int(overall["lines"]),
                "realised_denial_rate": float(overall["realised_rate"]),
                "predicted_denial_rate": float(overall["predicted_rate"]),
            }
        )
        fit = realised.calibration(y, p)
        metrics["ece_realised"] = fit["ece"]
        if "auc" in fit:
            metrics["roc_auc_realised"] = fit["auc"]
    with tracking.run("denial-risk/monitoring", run_name="monitor"):
        tracking.log_params(
            {
                "model_uri": model_uri,
                "scored_file": scored_path.rsplit("/", 1)[-1],
                "with_outcomes": bool(remits_path),
            }
        )
        metrics["rule_changes"] = len(found)
        tracking.log_metrics(metrics)
        tracking.log_table(drift, "feature_psi")
        tracking.log_table(changes.table(found), "rule_changes")
        tracking.log_figure(plot_drift(drift), "feature_psi")
        if outcomes is not None:
            tracking.log_table(outcomes, "predicted_vs_realised")
            tracking.log_figure(plot_outcomes(outcomes), "predicted_vs_realised")
    drifted = drift.loc[drift["drifted"], "feature"].tolist()
    log.info(
        f"{len(frame)} scored lines; PSI max {metrics['psi_max']:.3f}; "
        f"{len(drifted)} features drifted (PSI > {DRIFT_THRESHOLD})"
        + (f": {', '.join(drifted[:10])}" if drifted else "")
    )
    if outcomes is not None:
        log.info(
            f"{metrics['lines_with_outcome']} lines with outcomes: predicted denial rate "
            f"{metrics['predicted_denial_rate']:.1%}, realised {metrics['realised_denial_rate']:.1%}"
        )
    for c in found:
        log.info("payer rule change: %s", changes.describe(c))
    return MonitoringResult(drift, outcomes, metrics, found)


def plot_drift(drift: pd.DataFrame, top: int = 20):
    fig, ax = evaluate._figure()
    d = drift.sort_values("psi", ascending=False).head(top).iloc[::-1]
    ax.barh(d["feature"], d["psi"], color=["tab:red" if x else "tab:blue" for x in d["drifted"]])
    ax.axvline(DRIFT_THRESHOLD, ls="--", c="grey")
    ax.set(xlabel="population stability index", title="Feature drift against the training data")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def plot_outcomes(outcomes: pd.DataFrame):
    fig, ax = evaluate._figure()
    dec = outcomes[outcomes["slice"].str.startswith("decile=")]
    ax.plot(dec["predicted_rate"], dec["realised_rate"], marker="o", label="deciles of predicted risk")
    ax.plot([0, 1], [0, 1], ls=":", c="grey", label="perfect")
    ax.set(
        xlabel="predicted denial rate", ylabel="realised denial rate (835)", title="Predicted versus realised"
    )
    ax.legend()
    fig.tight_layout()
    return fig
