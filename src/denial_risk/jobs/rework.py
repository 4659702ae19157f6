"""`denial-risk rework`: read the denials (a table, or 835s/837s), learn or load recovery, write the queue.

Input: a labelled contract table (`--data`), or X12 read as `ingest-x12` reads it
(`--remits`, `--claims`: the reworks linked, docs/x12.md). Recovery: a registered
rework model (`--model`), or one fitted now on a linked history (`--history`, logged
and registered as `denial-risk-rework`), or the rules' documented prior. A file that
could not be read is counted (`lost_files`): the command exits 1 after the queue is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.rework.queue import rework_queue
from denial_risk.tableio.files import TableWriter, check_output, file_format

log = logging.getLogger(__name__)


@dataclass
class ReworkResult:
    queue: pd.DataFrame
    recovery: str  # where the probabilities came from
    rejected: int
    lost_files: int


def _normalised(raw: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    from denial_risk.contract.normalize import normalize_chunk

    clean, rejects = normalize_chunk(raw)
    return clean, _denied_rejects(rejects)


def _denied_rejects(rejects: pd.DataFrame) -> int:
    """Rejected rows that were denials (the queue lacks them; a paid row rejected loses nothing)."""
    if "denied" not in rejects or rejects.empty:
        return 0
    return int(
        rejects["denied"].astype("string").str.strip().str.lower().isin(["true", "1", "yes", "y", "t"]).sum()
    )


def read_denials(data: str | None, remits: tuple[str, ...], claims: tuple[str, ...]):
    """(normalised table, rows rejected, X12 files lost or claims dropped)."""
    if data is not None:
        from denial_risk.claims.table import load_claims

        clean, rejects = load_claims(data)
        rejected = _denied_rejects(rejects)
        missing = [c for c in ("denied", "denial_reason") if c not in clean or clean[c].isna().all()]
        if "denied" in missing:
            raise UserError(f"--data {data}: no `denied` column (rework needs a labelled table)")
        return clean, rejected, 0
    from denial_risk.x12.ingest import ingest

    result = ingest(claims, remits)
    for issue in result.errors:
        log.warning("%s: %s", issue.file, issue.message)
    clean, rejected = _normalised(result.labelled)
    return clean, rejected, len(result.errors)


def fit_and_register(history: str, experiment: str | None = None):
    """Fit the recovery model on a linked history, log its metrics, register it; returns it."""
    from denial_risk.claims.table import load_claims
    from denial_risk.modeling import evaluate
    from denial_risk.registry import rework_tracking, tracking
    from denial_risk.rework.history import fit_recovery, training_examples

    frame, _ = load_claims(history, option="--history")
    try:
        model = fit_recovery(frame)
    except ValueError as exc:
        raise UserError(f"--history {history}: {exc}") from None
    facts, actions, y, _ = training_examples(frame)
    p = model.predict_proba(facts, actions)
    metrics = {
        "lines": len(y),
        "recovered_rate": float(y.mean()),
        "ece_in_sample": evaluate.expected_calibration_error(y, p),
    }
    if len(set(y)) == 2:
        from sklearn.metrics import roc_auc_score

        metrics["auc_in_sample"] = float(roc_auc_score(y, p))
    name = tracking.experiment_name(experiment)  # the project's experiment, as `train`'s
    with tracking.run(name, run_name="rework-recovery"):
        tracking.log_params({"model": "rework_recovery", **model.to_dict()["params"]})
        tracking.log_metrics(metrics)
        version, alias = rework_tracking.log_and_register_rework(model.to_dict())
    log.info("registered %s version %s as @%s", rework_tracking.REWORK_MODEL_NAME, version, alias)
    return model


def run_rework(
    out: str,
    *,
    data: str | None = None,
    remits: tuple[str, ...] = (),
    claims: tuple[str, ...] = (),
    as_of: str | None = None,
    model_uri: str | None = None,
    model_sha256: str | None = None,
    history: str | None = None,
) -> ReworkResult:
    """Write the ranked queue to `out` (CSV or Parquet, through TableWriter)."""
    file_format(out, option="--out")
    check_output(out)
    if data is None and not remits:
        raise UserError("give --data PATH, or --remits PATH... (with --claims PATH... if you have them)")
    if data is not None and (remits or claims):
        raise UserError("give either --data or --remits/--claims, not both")
    if model_uri and history:
        raise UserError("give either --model or --history, not both")
    try:
        day = pd.Timestamp(as_of).normalize() if as_of else pd.Timestamp.today().normalize()
    except ValueError:
        raise UserError(f"--as-of {as_of}: not a date (use YYYY-MM-DD)") from None
    frame, rejected, lost = read_denials(data, remits, claims)
    model, recovery = None, "the rules' documented prior (rework_rules.csv, prior_recovery)"
    if model_uri:
        model, recovery = _load_recovery(model_uri, model_sha256), f"the model {model_uri}"
    elif history:
        model, recovery = fit_and_register(history), f"a model fitted on {history}"
    queue = rework_queue(frame, day, model)
    with TableWriter(out) as w:
        w.write(queue)
    return ReworkResult(queue, recovery, rejected, lost)


def summary_lines(result: ReworkResult) -> list[str]:
    """What the command prints: counts by action, dollars, where recovery came from."""
    q = result.queue
    by = q.groupby("action")["expected_recovery"].agg(["size", "sum"])
    parts = [f"{a} {int(r['size'])} (${r['sum']:,.0f})" for a, r in by.iterrows()]
    lines = [
        f"{len(q)} denied lines; expected recovery ${float(np.sum(q['expected_recovery'])):,.0f}: "
        + ", ".join(parts),
        f"recovery probabilities from {result.recovery}",
    ]
    if result.rejected:
        lines.append(
            f"warning: {result.rejected} denied rows could not be read and are not in the queue "
            "(`denial-risk validate` names why)"
        )
    return lines


def _load_recovery(uri: str, sha256: str | None = None):
    """The RecoveryModel inside a logged rework pyfunc, after every file matched its digest."""
    from denial_risk.registry import tracking

    model = tracking.load_pyfunc(uri, sha256).unwrap_python_model()
    if not hasattr(model, "recovery"):
        raise UserError(
            f"--model {uri}: not a rework model (register one with `denial-risk rework --history`)"
        )
    return model.recovery
