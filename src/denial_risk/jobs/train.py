"""The end-to-end jobs behind the commands (train, evaluate), as library functions."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.claims.reject_counts import RejectCounts
from denial_risk.claims.table import ClaimTable, estimate_rows, load_claims
from denial_risk.errors import UserError, as_os_error
from denial_risk.modeling import evaluate
from denial_risk.modeling.card import build_model_card
from denial_risk.modeling.config import config_of_model, load_config
from denial_risk.modeling.periods import CALIBRATION, HOLDOUT, TRAIN, needs_sample, plan_periods
from denial_risk.modeling.sampling import parse_budget
from denial_risk.modeling.train import DataFingerprint, TrainResult, feature_input, fit_split, split_labelled
from denial_risk.registry import tracking
from denial_risk.tableio.memory import release_freed_memory

log = logging.getLogger(__name__)

HEADLINE = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "recall_at_90_precision",
    "recall_at_95_precision",
    "dollars_caught_top10",
    "dollars_caught_top20",
    "carc_top1_accuracy",
    "carc_top3_accuracy",
    "claim_auc",
    "claim_ece",
    "claim_independence_ece",
)


def _labelled(data: str) -> tuple[pd.DataFrame, int]:
    frame, rejects = load_claims(data)
    if len(frame) == 0 and len(rejects):  # not one row could be read (dates as 03/15/2025): say why
        counts = RejectCounts()
        counts.add_rejects(rejects)
        raise UserError(counts.all_rejected(data, len(rejects)))
    if "denied" not in frame.columns or frame["denied"].notna().sum() == 0:
        raise UserError(f"--data {data}: no labels (column 'denied' is missing or empty)")
    return frame, len(rejects)


def format_metrics(metrics: dict) -> str:
    parts = [f"{k} {metrics[k]:.4f}" for k in HEADLINE if k in metrics and np.isfinite(metrics[k])]
    if "auc_ratio_to_bayes" in metrics:
        parts.append(
            f"bayes_roc_auc {metrics['bayes_roc_auc']:.4f} (model/bayes {metrics['auc_ratio_to_bayes']:.4f})"
        )
    return ", ".join(parts)


def train_and_register(
    data: str,
    *,
    config_path: str | None = None,
    experiment: str | None = None,
    memory_budget: str | int | None = None,
    spark_master: str | None = None,
) -> dict:
    """Fit on labelled claims, log the run to MLflow and register a model version.

    `memory_budget` (default: half the machine's RAM) bounds the fit: a file whose training period
    would not fit is read twice, the second time keeping only the time-aware sample
    (`modeling.sampling`) and the later slices, so the whole file is never in memory.
    `spark_master`: Spark reads and validates the data and keeps those lines (`_fit_on_spark`).
    """
    started = time.time()  # the run's start: its duration in MLflow is the fit's
    config = load_config(config_path)
    local_file = spark_master is None or "://" not in data
    if local_file:  # before reading the rows, let alone fitting
        config.check_columns(ClaimTable(data).columns, data)
    budget = parse_budget(memory_budget)
    check_store()
    if spark_master is not None:
        result, frame, rejected = _fit_on_spark(data, config, budget, spark_master)
    elif _needs_sample(data, config, budget):
        result, frame, rejected = _fit_streamed(data, config, budget)
    else:
        result, frame, rejected = _fit_in_memory(data, config, budget)
    log.info("holdout: " + format_metrics(result.metrics))
    log.info("logistic baseline: " + format_metrics(result.baseline_metrics))
    try:
        example = _example_input(frame, config)
        return _log_and_register(result, data, rejected, experiment, example, started)
    except Exception as exc:  # a full or unwritable store, as sqlite or MLflow words it: one line
        failure = as_os_error(exc, f"MLflow store {tracking.tracking_uri()}")
        if failure is None:
            raise
        raise failure from exc


def _needs_sample(data: str, config, budget: int) -> bool:
    """Whether the file's training period is more than the budget holds (its rows estimated)."""
    return needs_sample(estimate_rows(data) or 0, config, budget)


def _fit_in_memory(data: str, config, budget: int) -> tuple[TrainResult, pd.DataFrame, int]:
    """The whole file read once and split into its periods; the file's frame is let go before the fit
    (the periods are copies: the lines are held once while the trees grow), and the freed heap handed
    back to the OS (reading leaves about a quarter of a GB of it at 1M lines)."""
    frame, rejected = _labelled(data)
    log.info(f"read {len(frame)} scorable lines from {data} ({rejected} rejected)")
    train, calib, hold, sample, summary = split_labelled(frame, config, budget)
    del frame
    release_freed_memory()
    return fit_split(train, calib, hold, config, sample, summary), train, rejected


def _fit_streamed(data: str, config, budget: int) -> tuple[TrainResult, pd.DataFrame, int]:
    """Two passes over the file: dates, labels and the fingerprint; then only the lines the fit keeps."""
    table = ClaimTable(data)
    days, denied, rejected, fingerprint = [], [], 0, DataFingerprint()
    for chunk in table.chunks():
        lab = _labelled_rows(chunk.clean)
        rejected += len(chunk.rejects)
        days.append(lab["service_date"].to_numpy(dtype="datetime64[D]"))
        denied.append(lab["denied"].astype(bool).to_numpy())
        fingerprint.update(feature_input(lab, config))
    day, den = np.concatenate(days), np.concatenate(denied)
    if len(day) == 0:
        raise UserError(f"--data {data}: no labels (column 'denied' is missing or empty)")
    plan = plan_periods(day, den, config, budget)
    periods: dict[int, list[pd.DataFrame]] = {TRAIN: [], CALIBRATION: [], HOLDOUT: []}
    start = 0
    for chunk in table.chunks():
        lab = _labelled_rows(chunk.clean)
        at = slice(start, start + len(lab))
        start += len(lab)
        _add_to_periods(periods, lab, plan.period[at], plan.rank[at])
    summary = _summary(day, fingerprint.hexdigest())
    kept = sum(len(p) for parts in periods.values() for p in parts)
    log.info(f"read {len(day)} labelled lines from {data} ({rejected} rejected), kept {kept} for the fit")
    result, train = _fit_kept(periods, config, plan.sample, summary)
    return result, train, rejected


def _fit_on_spark(data: str, config, budget: int, master: str) -> tuple[TrainResult, pd.DataFrame, int]:
    """Spark reads and validates every row and keeps the lines the fit needs
    (`jobs.spark_train.prepare_training`; the periods and the sample chosen here, as `_fit_streamed`
    chooses them); the fit runs on this machine."""
    import tempfile

    from denial_risk.jobs import spark_train as spark

    chosen: dict = {}

    def select(day: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chosen["plan"] = plan = plan_periods(day, den, config, budget)
        chosen["day"] = day
        return plan.period, plan.rank

    periods: dict[int, list[pd.DataFrame]] = {TRAIN: [], CALIBRATION: [], HOLDOUT: []}
    fingerprint = DataFingerprint()
    with tempfile.TemporaryDirectory(prefix="denial-risk-spark-") as tmp:
        prepared = spark.prepare_training(data, Path(tmp) / "kept.parquet", select, master=master)
        for chunk in ClaimTable(prepared["out"]).chunks():  # the kept lines, streamed: never two copies
            lab = chunk.clean
            period = pd.to_numeric(lab.pop(spark.SLICE)).to_numpy(dtype=np.int8)
            rank = pd.to_numeric(lab.pop(spark.RANK)).to_numpy(dtype=np.int64)
            fingerprint.update(feature_input(lab, config))
            _add_to_periods(periods, lab, period, rank)
    summary = _summary(chosen["day"], "spark:" + fingerprint.hexdigest(10))
    result, train = _fit_kept(periods, config, chosen["plan"].sample, summary)
    return result, train, prepared["rejected"]


def _summary(day: np.ndarray, fingerprint: str) -> dict:
    return {
        "rows_labelled": len(day),
        "date_min": f"{day.min()}",
        "date_max": f"{day.max()}",
        "data_fingerprint": fingerprint,
    }


def _add_to_periods(
    periods: dict[int, list[pd.DataFrame]], lines: pd.DataFrame, period: np.ndarray, rank: np.ndarray
) -> None:
    """A chunk's kept lines (rank >= 0) added to their period's pieces, with their rank in it."""
    take = rank >= 0
    for k, parts in periods.items():
        mine = take & (period == k)
        if mine.any():
            parts.append(lines[mine].assign(_rank=rank[mine]))


def _fit_kept(
    periods: dict[int, list[pd.DataFrame]], config, plan, summary: dict
) -> tuple[TrainResult, pd.DataFrame]:
    """The fit on the kept lines, each period in its date order. Each period's pieces are joined
    and let go one period at a time, so the kept lines are never held twice."""

    def joined(k: int) -> pd.DataFrame:
        frame = pd.concat(periods.pop(k))
        return frame.sort_values("_rank", kind="stable").drop(columns=["_rank"])

    train, calib, hold = joined(TRAIN), joined(CALIBRATION), joined(HOLDOUT)
    release_freed_memory()  # the pieces' heap, handed back before the features are built
    return fit_split(train, calib, hold, config, plan, summary), train


def _labelled_rows(clean: pd.DataFrame) -> pd.DataFrame:
    return clean[clean["denied"].notna()] if "denied" in clean.columns else clean.iloc[:0]


def check_store() -> None:
    """The MLflow store is checked before the fit (a corrupt or foreign file, a missing folder, a
    server that does not answer: registry/store.py); a new one is created only when the run is logged."""
    tracking.prepare_store()


def _log_and_register(
    result: TrainResult,
    data: str,
    rejected: int,
    experiment: str | None,
    example: pd.DataFrame,
    started: float | None = None,
) -> dict:
    with tracking.run(tracking.experiment_name(experiment), run_name="train", started=started) as active:
        tracking.log_params(
            {
                **result.params,
                "data_file": Path(data).name,
                "data_path": str(Path(data).resolve()),
                "rows_rejected": rejected,
            }
        )
        tracking.log_metrics(result.metrics)
        tracking.log_metrics(result.baseline_metrics, prefix="baseline_")
        _log_slices_and_plots(result)
        tracking.log_table(_dropped_table(result), "features_dropped")
        version, alias = tracking.log_and_register(
            result.model, _example_output(result, example), example_input=example
        )
        run_id = active.info.run_id
        tracking.log_text(
            build_model_card(result, data_name=Path(data).name, version=version), "model_card.md"
        )
    log.info(f"MLflow run {run_id} in {tracking.tracking_uri()}")
    given = f"as @{alias}" if alias else "(a later version, registered at the same time, is @challenger)"
    log.info(f"registered {tracking.MODEL_NAME} version {version} {given}")
    return {"run_id": run_id, "version": version, "alias": alias, "metrics": result.metrics}


def _log_slices_and_plots(result: TrainResult) -> None:
    y = result.holdout["denied"].astype(int).to_numpy()
    p = result.holdout_proba
    billed = result.holdout["billed_amount"].to_numpy(dtype=float)
    for by, table in result.slices.items():
        tracking.log_table(table, f"metrics_by_{by}")
        for _, row in table.iterrows():
            key = str(row[by]).replace(" ", "_")
            tracking.log_metrics(
                {
                    "roc_auc": row["roc_auc"],
                    "dollars_caught_top10": row["dollars_caught_top10"],
                    "ece": row["ece"],
                },
                prefix=f"{by}.{key}.",
            )
    if len(np.unique(y)) == 2:
        tracking.log_figure(evaluate.plot_roc(y, p, result.baseline_proba), "roc")
        tracking.log_figure(evaluate.plot_pr(y, p), "precision_recall")
    tracking.log_figure(evaluate.plot_reliability(y, p), "reliability")
    tracking.log_figure(evaluate.plot_dollars_caught(y, p, billed), "dollars_caught")
    if len(result.importance):
        tracking.log_figure(evaluate.plot_importance(result.importance), "permutation_importance")
        tracking.log_table(
            result.importance.rename("auc_drop").rename_axis("feature_group").reset_index(),
            "permutation_importance",
        )


def _dropped_table(result: TrainResult) -> pd.DataFrame:
    """Each fit's feature columns dropped as constant or missing in its rows (the params hold counts)."""
    dropped = result.model.info.get("features_dropped", {})
    rows = [(fit, name) for fit, names in dropped.items() for name in names]
    return pd.DataFrame(rows, columns=["fit", "feature"])


EXAMPLE_MIN_SHARE = 50  # a categorical value goes into the input example only if this many lines share it


def _example_input(frame: pd.DataFrame, config) -> pd.DataFrame:
    """The synthetic input example, plus the configured extra columns with typical training values.

    MLflow scores the example when the model is logged, so a model with extra
    features needs them in it. Values are aggregates, never one line's: a
    boolean `true`, a numeric column's median, a categorical's commonest value
    when at least `EXAMPLE_MIN_SHARE` lines share it (else empty: unknown).
    """
    example = tracking.input_example()
    for c in config.extra_boolean:
        example[c] = "true"
    for c in config.extra_numeric:
        median = pd.to_numeric(frame[c], errors="coerce").median()
        example[c] = "" if pd.isna(median) else f"{float(median):g}"
    for c in config.extra_categorical:
        counts = frame[c].astype("string").str.strip().replace("", pd.NA).dropna().value_counts()
        common = len(counts) and int(counts.iloc[0]) >= EXAMPLE_MIN_SHARE
        example[c] = str(counts.index[0]) if common else ""
    return example


def _example_output(result: TrainResult, example: pd.DataFrame | None = None) -> pd.DataFrame:
    from denial_risk.scoring.score import score_request

    return score_request(result.model, tracking.input_example() if example is None else example)


def evaluate_model(
    data: str, model_uri: str, *, experiment: str | None = None, model_sha256: str | None = None
) -> dict:
    """Score labelled claims with a model and report (and log) the metrics."""
    frame, rejected = _labelled(data)
    frame = frame[frame["denied"].notna()]
    model = tracking.load_model(model_uri, model_sha256)
    p = model.predict_proba(feature_input(frame, config_of_model(model)))
    y = frame["denied"].astype(int).to_numpy()
    truth = (
        frame["true_denial_probability"].to_numpy(dtype=float) if "true_denial_probability" in frame else None
    )
    metrics = evaluate.classification_metrics(y, p, frame["billed_amount"].to_numpy(dtype=float), truth)
    log.info(f"{len(frame)} labelled lines ({rejected} rejected): " + format_metrics(metrics))
    with tracking.run(tracking.experiment_name(experiment), run_name="evaluate"):
        tracking.log_params({"model_uri": model_uri, "data_file": Path(data).name, "rows": len(frame)})
        tracking.log_metrics(metrics)
        if len(np.unique(y)) == 2:
            tracking.log_figure(evaluate.plot_reliability(y, p), "reliability")
    return metrics
