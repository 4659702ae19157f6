"""A Markdown model card for each registered version, for auditors and reviewers.

It states what the model is for (prioritising rework, not deciding care), the
data window and fingerprint, the features, the holdout metrics overall and
per slice, calibration, and the known limits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.modeling.train import TrainResult


def _fmt(v) -> str:
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "n/a"
        return f"{int(v)}" if float(v).is_integer() and abs(v) >= 1 else f"{v:.4f}"
    return str(v)


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame[cols].iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def _effects_line(info: dict) -> str:
    """Where the fixes' effects and the payer rule changes come from (after the holdout: every line)."""
    span = info.get("fix_effects_fitted_on")
    if not span:
        return "- Fix effects: from the training and calibration remits."
    return (
        f"- Fix effects, their reasons' evidence and payer rule changes: refitted after the holdout metrics on "
        f"every labelled line ({span['slices']}: {span['lines']} lines, {span['from']} to {span['to']}); "
        f"{span['rule_changes']} rule changes detected. The classifier and its encoders are fitted on the "
        "training slice only."
    )


def build_model_card(result: TrainResult, *, data_name: str, version: str | None = None) -> str:
    p, m, info = result.params, result.metrics, result.model.info
    slice_cols = ["lines", "denial_rate", "mean_probability", "roc_auc", "ece", "dollars_caught_top10"]
    groups = ", ".join(f"{g} ({len(ix)})" for g, ix in result.model.feature_groups.items())
    suspects = info.get("leakage_suspects") or []
    leakage = (
        "\n- **Probable leakage**: configured feature(s) "
        + ", ".join(f"`{c}` (holdout AUC alone {_fmt(p.get(f'extra_auc_{c}', np.nan))})" for c in suspects)
        + " separate the holdout on their own; check they are known before adjudication."
        if suspects
        else ""
    )
    bayes = (
        f"\n- Bayes limit (simulator truth) ROC AUC {_fmt(m['bayes_roc_auc'])}; "
        f"model / Bayes = {_fmt(m['auc_ratio_to_bayes'])}"
        if "bayes_roc_auc" in m
        else ""
    )
    return f"""# Model card: denial-risk{f" version {version}" if version else ""}

## Intended use
Ranks claim lines by the dollars a payer is likely to deny, so a billing team
reworks the riskiest lines first and fixes what is fixable before submission.
It **prioritises rework; it does not decide care, coverage or whether a claim
is sent**. A person reviews every recommended action; no action asks anyone to
attest to what the record does not show.

## Data
- Training file: `{data_name}` (fingerprint `{p["data_fingerprint"]}`), {p["rows_labelled"]} labelled lines
  from {p["date_min"]} to {p["date_max"]}.
- Split by service date: train {p["rows_train"]} lines ({info["train_start"]} to {info["train_end"]}),
  calibration {p["rows_calibration"]}, holdout {p["rows_holdout"]} ({info["holdout_start"]} to {info["holdout_end"]}).
- Never features: `denied`, `denial_reason`, `paid_amount`, `true_denial_probability`, claim and patient identifiers.{leakage}

## Model
- Classifier: `{p["classifier"]}` (chosen by time-ordered CV on small data), calibrated with
  `{p["calibration"]}` regression on the later calibration slice; {p["features"]} features in groups: {groups}.
- A second model predicts the likely CARC of a denial (top 3).
- Risk tiers: high ≥ {result.model.tiers["high"]}, medium ≥ {result.model.tiers["medium"]}.
{_effects_line(info)}

## Holdout metrics (later-dated lines the model never saw)
- ROC AUC {_fmt(m["roc_auc"])}, PR AUC {_fmt(m["pr_auc"])}, Brier {_fmt(m["brier"])}, log loss {_fmt(m["log_loss"])}
- Expected calibration error {_fmt(m["ece"])}
- Recall at 90 % / 95 % precision: {_fmt(m["recall_at_90_precision"])} / {_fmt(m["recall_at_95_precision"])}
- Share of denied dollars in the top 10 % / 20 % of the worklist: {_fmt(m["dollars_caught_top10"])} / {_fmt(m["dollars_caught_top20"])}
- Logistic-regression baseline ROC AUC {_fmt(result.baseline_metrics["roc_auc"])}{bayes}

### By payer type
{_table(result.slices["payer_type"], ["payer_type", *slice_cols])}

### By policy group
{_table(result.slices["policy_group"], ["policy_group", *slice_cols])}

## Known limits
- Learns the denial behaviour in its training window; payers change rules (watch the backtest
  and the drift warnings at scoring time; retrain on new 835 remittances and promote only a winner).
- Slices with few lines have wide uncertainty; calibration is checked overall, not per payer.
- Diagnosis support comes from the project's policy table (clinical judgement where an LCD lists
  no codes) and from training data; it is not a coverage determination.
- Prior authorization and filing-limit rules are learned from history and configured defaults,
  not read from each payer's contract.
"""
