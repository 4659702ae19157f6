"""`monitor --rework`: the rework queue's predicted recovery against what later remits show.

A queued line (with an action) is recovered when a later labelled table (`ingest-x12`
of the later 835s and 837s) shows it paid: the same line no longer denied (a reversal and
re-adjudication), or the line of the claim that replaced it (`replaced_by`) paid. Lines
the later table does not have are left out (no outcome yet). Compared: the recovery rate
and dollars predicted and realised, overall, per action and per decile of
`recovery_probability`, with AUC and ECE; logged to MLflow (no claim identifier).
"""

from __future__ import annotations

import logging

import pandas as pd

from denial_risk.errors import UserError
from denial_risk.modeling import realised

log = logging.getLogger(__name__)
KEYS = realised.KEYS


def _paid(frame: pd.DataFrame) -> pd.Series:
    denied = frame["denied"].astype("string").str.lower().isin(["true", "1"])
    paid = pd.to_numeric(frame.get("paid_amount"), errors="coerce")
    return ~denied & (paid.isna() | (paid > 0))


def _from_replacements(joined: pd.DataFrame, later: pd.DataFrame) -> None:
    """A replaced line's outcome is its replacement's: the line of claim `replaced_by` with the same
    line control number (REF*6R), else the same line number."""
    by = joined["replaced_by"].astype("string")
    use_lcn = "x12_line_control_number" in joined
    second = "x12_line_control_number" if use_lcn else "line_number"
    repl = later.drop_duplicates(["claim_id", second]).set_index(["claim_id", second])[["_paid", "_amount"]]
    look = pd.MultiIndex.from_arrays([by.fillna(""), joined[second].astype(repl.index.levels[1].dtype)])
    found = repl.reindex(look)
    hit = by.notna().to_numpy() & found["_paid"].notna().to_numpy()
    joined.loc[hit, "recovered"] = found["_paid"].to_numpy()[hit].astype(bool)
    joined.loc[hit, "recovered_amount"] = found["_amount"].to_numpy()[hit]


def outcomes(queue: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """Per queued line with an action and an outcome: predicted p and dollars, recovered, dollars paid."""
    q = realised.keyed(queue[queue["action"] != "no_rework"])
    later = realised.keyed(later)
    later["_paid"] = _paid(later)
    later["_amount"] = (
        pd.to_numeric(later.get("paid_amount"), errors="coerce").fillna(0.0).where(later["_paid"], 0.0)
    )
    own = later.drop_duplicates(KEYS).set_index(KEYS)
    extra = [c for c in ("replaced_by", "x12_line_control_number") if c in own]
    joined = q.join(own[["_paid", "_amount", *extra]], on=KEYS, how="inner")
    if joined.empty:
        raise UserError(
            "--remits: no queued line matches a line of the later table by claim_id and line_number"
        )
    joined["recovered"] = joined["_paid"].astype(bool)
    joined["recovered_amount"] = joined["_amount"]
    if "replaced_by" in joined:
        _from_replacements(joined, later)
    joined["recovery_probability"] = pd.to_numeric(joined["recovery_probability"], errors="coerce").fillna(
        0.0
    )
    joined["expected_recovery"] = pd.to_numeric(joined["expected_recovery"], errors="coerce").fillna(0.0)
    return joined[["action", "recovery_probability", "expected_recovery", "recovered", "recovered_amount"]]


def compare(joined: pd.DataFrame) -> pd.DataFrame:
    """Predicted against realised recovery: overall, per action, per decile of the probability."""
    return realised.slice_table(
        joined,
        "recovery_probability",
        "recovered",
        by="action",
        dollars=("expected_recovery", "recovered_amount"),
    )


def monitor_rework(queue_path: str, later_path: str) -> tuple[pd.DataFrame, dict]:
    """Read the queue and the later table, compare, log to MLflow; returns (table, metrics)."""
    from denial_risk.claims.reader import read_table
    from denial_risk.registry import tracking

    queue = read_table(queue_path, option="--rework")
    for c in ("action", "recovery_probability", "expected_recovery", *KEYS):
        if c not in queue:
            raise UserError(
                f"--rework {queue_path}: missing column '{c}' (write it with `denial-risk rework`)"
            )
    later = read_table(later_path, option="--remits")
    if "denied" not in later:
        raise UserError(f"--remits {later_path}: no `denied` column (a labelled table from ingest-x12)")
    joined = outcomes(queue, later)
    table = compare(joined)
    y, p = joined["recovered"].to_numpy(dtype=float), joined["recovery_probability"].to_numpy(dtype=float)
    overall = table.iloc[0]
    metrics = {
        "rework_lines_with_outcome": int(overall["lines"]),
        "rework_predicted_rate": float(overall["predicted_rate"]),
        "rework_realised_rate": float(overall["realised_rate"]),
        "rework_predicted_dollars": float(overall["predicted_dollars"]),
        "rework_realised_dollars": float(overall["realised_dollars"]),
    }
    metrics.update({f"rework_{k}": v for k, v in realised.calibration(y, p).items()})
    with tracking.run("denial-risk/monitoring", run_name="monitor-rework"):
        tracking.log_params({"rework_queue": str(queue_path).rsplit("/", 1)[-1]})
        tracking.log_metrics(metrics)
        tracking.log_table(table, "rework_predicted_vs_realised")
    log.info(
        "%d queued lines with an outcome: predicted recovery %.1f%% ($%s), realised %.1f%% ($%s)",
        metrics["rework_lines_with_outcome"],
        100 * metrics["rework_predicted_rate"],
        f"{metrics['rework_predicted_dollars']:,.0f}",
        100 * metrics["rework_realised_rate"],
        f"{metrics['rework_realised_dollars']:,.0f}",
    )
    return table, metrics
