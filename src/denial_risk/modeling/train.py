"""Fitting a calibrated denial model without leaking the outcome.

Splits are by service date, never at random: the earliest lines train, the
next slice calibrates (the trees never see it), the latest slice is the
holdout every metric is read from. Every encoder is fitted on the training
slice only (target encoders give out-of-fold values there). Outcome columns
(`denied`, `denial_reason`, `paid_amount`, `true_denial_probability` and any
configured `outcome_columns`) are removed before features see the frame.

On small data sets the classifier and its settings are chosen by
time-ordered cross-validation (trees are not always best on 5k lines); on
large ones gradient-boosted trees with early stopping are used directly. A
logistic regression is always fitted and reported as the baseline.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.features.select import InformativeColumns
from denial_risk.modeling import claim_risk, evaluate, latest, matrix
from denial_risk.modeling.candidates import MIN_CLASS_LINES, _features, candidates, choose_classifier
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.effects import fit_on_slices
from denial_risk.modeling.leakage import extra_feature_auc, leakage_params
from denial_risk.modeling.model import DenialModel
from denial_risk.modeling.periods import CALIBRATION, HOLDOUT, TRAIN, plan_periods, time_slices
from denial_risk.modeling.reason_model import fit_reason_model
from denial_risk.modeling.rule_risk import fit_rule_counts
from denial_risk.modeling.sampling import SamplePlan, parse_budget

log = logging.getLogger(__name__)

MIN_TRAIN_ROWS = 200
# The reason model learns from at most this many denied training lines (a uniform sample past it). Its
# fit grew with the denied lines and 13 classes: 43 % of a 1M-line fit's time after the features
# (py-spy, issue 23). Project judgement: 40k denied lines hold every CARC class the model keeps
# (>= 10 lines) many times over.
REASON_LINES = 40_000
IMPORTANCE_LINES = 20_000  # holdout lines permutation importance reads


def outcome_columns(config: TrainConfig) -> list[str]:
    return [*schema.OUTCOME_COLUMNS, *config.outcome_columns]


def feature_input(frame: pd.DataFrame, config: TrainConfig) -> pd.DataFrame:
    """The frame features may see: outcomes removed, so no feature can read them."""
    return frame.drop(columns=[c for c in outcome_columns(config) if c in frame.columns])


def time_split(frame: pd.DataFrame, calibration_share: float, holdout_share: float):
    """(train, calibration, holdout) by service date, each in date order (`modeling.periods.time_slices`)."""
    period, order = time_slices(
        frame["service_date"].to_numpy(dtype="datetime64[D]"), calibration_share, holdout_share
    )
    return tuple(frame.iloc[order[period[order] == k]] for k in (TRAIN, CALIBRATION, HOLDOUT))


class DataFingerprint:
    """A stable hash of the training data's content (no identifiers in clear), fed a frame at a time:
    the rows are hashed one by one, so pieces give the hash of the whole."""

    def __init__(self):
        self._sha = hashlib.sha256()

    def update(self, frame: pd.DataFrame) -> None:
        self._sha.update(
            pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy().tobytes()
        )

    def hexdigest(self, length: int = 16) -> str:
        return self._sha.hexdigest()[:length]


def data_fingerprint(frame: pd.DataFrame) -> str:
    fingerprint = DataFingerprint()
    fingerprint.update(frame)
    return fingerprint.hexdigest()


@dataclass
class Fitted:
    model: DenialModel
    classifier: object
    method: str
    chosen: str
    cv_scores: dict
    n_features: int
    baseline: matrix.Baseline
    dropped: dict[str, list[str]]  # fit → feature columns dropped as constant or missing in its rows
    cv_dropped: list[int | None]  # per CV fold, how many columns it dropped (None: fold not fitted)


def fit_on(
    train: pd.DataFrame,
    calib: pd.DataFrame,
    config: TrainConfig,
    *,
    chosen: str | None = None,
    weight: np.ndarray | None = None,
    fix_effects: bool = True,
) -> Fitted:
    """Features, classifier (chosen by time-ordered CV on small data), calibration on `calib`, reasons.

    `weight`: per training line (a time-aware sample, `modeling.sampling`), or None. The training
    matrix is float32 and whole; the calibration lines are featurised a block at a time.
    `fix_effects=False`: the caller fits them later (`fit_split`: on every labelled line).
    """
    y_tr = train["denied"].astype(bool).to_numpy().astype(int)
    y_cal = calib["denied"].astype(bool).to_numpy().astype(int)
    _check_classes(y_tr, "training")
    _check_classes(y_cal, "calibration")
    cv_scores: dict = {}
    cv_dropped: list[int | None] = []
    if chosen is None:
        chosen, cv_scores, cv_dropped = choose_classifier(feature_input(train, config), y_tr, config)
        if cv_scores:
            log.info(
                "time-ordered CV AUC: "
                + ", ".join(f"{k} {v:.3f}" for k, v in cv_scores.items())
                + f" → {chosen}"
            )
    features = _features(config)
    X_tr = matrix.fit_features(features, feature_input(train, config), y_tr)
    names = [str(n) for n in features.get_feature_names_out()]
    _check_learnable(X_tr, train)
    log.info(f"{X_tr.shape[1]} features; fitting {chosen} on {len(train)} lines, calibrating on {len(calib)}")
    reasons = _reason_rows(y_tr, config.seed)
    reason_model = fit_reason_model(
        X_tr[reasons], train["denial_reason"].iloc[reasons], y_tr[reasons], config.seed
    )
    typical = _typical(X_tr[matrix.representative_rows(weight, len(X_tr), matrix.BASELINE_ROWS, config.seed)])
    baseline = matrix.Baseline(config.seed + 1).fit(X_tr, y_tr, weight, config.seed)
    n_features = X_tr.shape[1]
    handed = [X_tr]  # the classifier's fit takes the matrix over and lets it go once it has its own copy
    del X_tr
    clf = _fit_classifier(candidates(config.seed)[chosen], handed, y_tr, weight, config.seed)
    dropped = {"classifier": [names[i] for i in clf[0].dropped_]}
    if reason_model is not None:
        dropped["reason_model"] = [names[i] for i in reason_model[0].dropped_]
    log.info(f"{len(dropped['classifier'])} feature columns constant or missing in training, dropped")
    model = DenialModel(
        fix_effects=fit_on_slices([train, calib], weight) if fix_effects else None,
        features=features,
        classifier=None,
        reason_model=reason_model,
        feature_names=names,
        feature_groups=_feature_groups(features, names),
        typical_values=typical,
        tiers=dict(config.tiers),
        info={
            "classifier": chosen,
            "train_start": f"{train.service_date.min():%Y-%m-%d}",
            "train_end": f"{train.service_date.max():%Y-%m-%d}",
            "extra_boolean": list(config.extra_boolean),
            "extra_numeric": list(config.extra_numeric),
            "extra_categorical": list(config.extra_categorical),
            "features_dropped": {fit: list(cols) for fit, cols in dropped.items()},
            "carc_remarks": carc_remarks(train),
            "rule_counts": fit_rule_counts(train, y_tr),
            "matrix_dtype": "float32",
        },
    )
    method = _calibrate(model, clf, baseline, feature_input(calib, config), y_cal)
    model.info["claim_calibration"] = claim_risk.fit_for_model(
        model, feature_input(calib, config), calib["claim_id"], y_cal
    )
    return Fitted(model, clf, method, chosen, cv_scores, n_features, baseline, dropped, cv_dropped)


def _reason_rows(y: np.ndarray, seed: int) -> slice | np.ndarray:
    """The training lines the reason model is fitted on: all (a slice, no copy) when at most
    `REASON_LINES` are denied, else a uniform sample of that many denied lines (it learns from the
    denied lines only)."""
    denied = np.flatnonzero(y == 1)
    if len(denied) <= REASON_LINES:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(denied, size=REASON_LINES, replace=False))


def _fit_classifier(estimator, handed: list[np.ndarray], y: np.ndarray, weight: np.ndarray | None, seed: int):
    """The classifier fitted on the matrix in `handed` (a one-item list it empties: the matrix goes as
    soon as the fit holds what it needs)."""
    if isinstance(estimator[-1], HistGradientBoostingClassifier):
        return matrix.fit_trees(estimator, handed, y, weight, seed)
    X = handed.pop()
    last = estimator.steps[-1][0]
    return estimator.fit(X, y, **({} if weight is None else {f"{last}__sample_weight": weight}))


def _calibrate(
    model: DenialModel, clf, baseline: matrix.Baseline, calib: pd.DataFrame, y_cal: np.ndarray
) -> str:
    """Calibrate the classifier and the baseline on every calibration line (block by block), and profile
    the scoring-mode features for drift (the calibration slice through `transform`, not the out-of-fold
    training values, so target-encoded rates are compared like with like at scoring time)."""
    method = "isotonic" if len(calib) >= 4000 else "sigmoid"
    scores, base = np.empty(len(calib)), np.empty(len(calib))
    for rows in matrix.rows_in_chunks(len(calib)):
        X = model.transform(calib.iloc[rows])
        scores[rows] = matrix.decision(clf, X)
        base[rows] = baseline.decision(X)
    head = matrix.head_with_both_classes(y_cal)
    X_head = model.transform(calib.iloc[head])
    model.classifier = matrix.calibrate(clf, X_head, y_cal[head], scores, y_cal, method)
    baseline.calibrate(base, y_cal, method)
    sample = np.sort(np.random.default_rng(0).permutation(len(calib))[:50_000])
    model.info["calibration"] = method
    model.info["drift_profile"] = _drift_profile(model.transform(calib.iloc[sample]), model.feature_names)
    return method


def _check_classes(y: np.ndarray, slice_name: str) -> None:
    """One line when a slice lacks the denied or paid lines a fit needs."""
    denied, paid = int(y.sum()), int(len(y) - y.sum())
    if min(denied, paid) < MIN_CLASS_LINES:
        raise UserError(
            f"--data: the {slice_name} period has {denied} denied and {paid} paid lines; "
            f"training needs at least {MIN_CLASS_LINES} of each there (more lines, or more denials and dates)"
        )


def _check_learnable(X: np.ndarray, train: pd.DataFrame) -> None:
    """One line when no feature column varies over the training period: nothing to learn from."""
    if not InformativeColumns().fit(X).keep_.any():
        raise UserError(
            f"--data: nothing learnable: every feature is constant or missing in the {len(train)} "
            f"training lines to {train.service_date.max():%Y-%m-%d}"
        )


@dataclass
class TrainResult:
    model: DenialModel
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    slices: dict[str, pd.DataFrame]
    importance: pd.Series
    holdout: pd.DataFrame  # holdout rows (normalised), for plots and promotion
    holdout_proba: np.ndarray
    baseline_proba: np.ndarray
    params: dict


def fit_model(
    frame: pd.DataFrame, config: TrainConfig, *, memory_budget: str | int | None = None
) -> TrainResult:
    """Fit features, classifier, calibration and reason model on labelled normalised rows.

    The training period is sampled by time when it holds more lines than `memory_budget`
    allows (default: half the machine's RAM; `modeling.sampling`).
    """
    train, calib, hold, sample, summary = split_labelled(frame, config, parse_budget(memory_budget))
    return fit_split(train, calib, hold, config, sample, summary)


def split_labelled(frame: pd.DataFrame, config: TrainConfig, budget: int):
    """(train, calibration, holdout, the training sample, the data summary) of labelled normalised rows:
    the periods are copies, so a caller that lets `frame` go holds the lines once during the fit."""
    labelled = _labelled(frame)
    plan = plan_periods(
        labelled["service_date"].to_numpy(dtype="datetime64[D]"),
        labelled["denied"].astype(bool).to_numpy(),
        config,
        budget,
    )
    train, calib, hold = (labelled.iloc[plan.positions(k)] for k in (TRAIN, CALIBRATION, HOLDOUT))
    summary = {
        "rows_labelled": len(labelled),
        "date_min": f"{labelled.service_date.min():%Y-%m-%d}",
        "date_max": f"{labelled.service_date.max():%Y-%m-%d}",
        "data_fingerprint": data_fingerprint(feature_input(labelled, config)),
    }
    return train, calib, hold, plan.sample, summary


def fit_split(
    train: pd.DataFrame,
    calib: pd.DataFrame,
    hold: pd.DataFrame,
    config: TrainConfig,
    plan: SamplePlan,
    summary: dict,
) -> TrainResult:
    """Fit on the training lines the plan keeps (`train`, with `plan.weight` when sampled), calibrate
    on `calib`, report on `hold`, block by block."""
    weight = plan.weight if plan.sampled else None
    log.info(
        f"split by service date: train {len(train)} lines to {train.service_date.max():%Y-%m-%d}, "
        f"calibration {len(calib)}, holdout {len(hold)} from {hold.service_date.min():%Y-%m-%d}"
    )
    fitted = fit_on(train, calib, config, weight=weight, fix_effects=False)
    model = fitted.model
    model.info.update(
        {
            "holdout_start": f"{hold.service_date.min():%Y-%m-%d}",
            "holdout_end": f"{hold.service_date.max():%Y-%m-%d}",
            "training_sample": plan.params,
        }
    )
    held = feature_input(hold, config)
    y_ho = hold["denied"].astype(bool).to_numpy().astype(int)
    p_ho, p_base = np.empty(len(hold)), np.empty(len(hold))
    tops: list = []
    for rows in matrix.rows_in_chunks(len(hold)):
        X = model.transform(held.iloc[rows])
        p_ho[rows] = model.rule_risk(held.iloc[rows], X).p
        p_base[rows] = fitted.baseline.proba(X)
        tops += model.top_carcs(X[y_ho[rows] == 1], k=5)
    truth = (
        hold["true_denial_probability"].to_numpy(dtype=float) if "true_denial_probability" in hold else None
    )
    billed = hold["billed_amount"].to_numpy(dtype=float)
    hold_eval = hold.assign(policy_group=_policy_groups(hold))
    slices = {by: evaluate.sliced_metrics(hold_eval, p_ho, by) for by in ("payer_type", "policy_group")}
    del hold_eval  # the holdout's copies go before the refit, the fit's peak (`_importance` keeps its sample)
    sample = np.random.default_rng(config.seed).permutation(len(held))[:IMPORTANCE_LINES]
    held = held.iloc[sample]  # what `_importance` reads after the refit
    reasons = evaluate.reason_accuracy(tops, hold["denial_reason"][y_ho == 1])
    params = _run_params(config, fitted, summary, train, calib, hold)
    params.update(plan.params)
    params.update(leakage_params(extra_feature_auc(train, hold, config)))
    model.info["data_fingerprint"] = params["data_fingerprint"]
    # after the holdout is read: payer behaviour from every labelled line kept, the latest remits included
    latest.refit_after_holdout(model, train, calib, hold, plan, params)
    model.info["leakage_suspects"] = [c for c in params["leakage_suspects"].split(",") if c != "(none)"]
    return TrainResult(
        model=model,
        metrics=evaluate.classification_metrics(y_ho, p_ho, billed, truth)
        | reasons
        | claim_risk.claim_metrics(model.info["claim_calibration"], hold["claim_id"], p_ho, y_ho),
        baseline_metrics=evaluate.classification_metrics(y_ho, p_base, billed),
        slices=slices,
        importance=_importance(model, held, y_ho[sample], config.seed),
        holdout=hold,
        holdout_proba=p_ho,
        baseline_proba=p_base,
        params=params,
    )


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The labelled lines, or one line saying why they cannot train a model."""
    known = frame["denied"].notna()
    labelled = frame if known.all() else frame[known]  # no copy of a file whose lines are all labelled
    if len(labelled) < MIN_TRAIN_ROWS:
        raise UserError(
            f"--data: {len(labelled)} labelled lines (column 'denied'); "
            f"training needs at least {MIN_TRAIN_ROWS}"
        )
    if labelled["denied"].nunique() < 2:
        raise UserError("--data: column 'denied' has only one value; training needs denied and paid lines")
    return labelled


def _importance(model: DenialModel, sample: pd.DataFrame, y: np.ndarray, seed: int) -> pd.Series:
    """Permutation importance per feature group on a sample of the holdout (`IMPORTANCE_LINES`)."""
    if len(np.unique(y)) != 2:
        return pd.Series(dtype=float)
    X = model.transform(sample)
    return evaluate.permutation_importance_by_group(
        model.proba_from_matrix, X, y, model.feature_groups, seed=seed
    )


def _run_params(
    config: TrainConfig,
    fitted: Fitted,
    summary: dict,
    train: pd.DataFrame,
    calib: pd.DataFrame,
    hold: pd.DataFrame,
) -> dict:
    """What the training run logs as MLflow params (no identifier, only counts, dates and settings)."""
    params = {
        **config.as_params(),
        "classifier": fitted.chosen,
        "calibration": fitted.method,
        "rows_labelled": summary["rows_labelled"],
        "rows_train": len(train),
        "rows_calibration": len(calib),
        "rows_holdout": len(hold),
        "features": fitted.n_features,
        "features_dropped": len(fitted.dropped["classifier"]),
        "features_dropped_names": _short_list(fitted.dropped["classifier"]),
        "reason_features_dropped": len(fitted.dropped.get("reason_model", [])),
        "cv_features_dropped": ",".join("-" if d is None else str(d) for d in fitted.cv_dropped) or "(no CV)",
        "date_min": summary["date_min"],
        "date_max": summary["date_max"],
        "holdout_start": fitted.model.info["holdout_start"],
        "data_fingerprint": summary["data_fingerprint"],
        **{f"cv_auc_{k}": round(v, 5) for k, v in fitted.cv_scores.items()},
    }
    if isinstance(fitted.classifier[-1], HistGradientBoostingClassifier):
        params["trees"] = int(fitted.classifier[-1].n_iter_)
    return params


def _short_list(names: list[str], limit: int = 480) -> str:
    """Names comma-joined within `limit` characters (MLflow params); the full list is an artifact."""
    text = ",".join(names) or "(none)"
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(",", 1)[0]
    return f"{cut},… (+{len(names) - cut.count(',') - 1} more)"


def carc_remarks(train: pd.DataFrame, min_share: float = 0.3, min_lines: int = 10) -> dict[str, list]:
    """Per CARC, the remark code its denials most often carry in the training remits (at least
    `min_share` of `min_lines`): `{"CO-16": ["MA130", 0.62]}`. The reasons name it ("usually with
    MA130: returned as unprocessable"): what the remits show, never a feature."""
    if "remark_codes" not in train or "denial_reason" not in train:
        return {}
    denied = train[train["denied"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    pairs = denied[["denial_reason", "remark_codes"]].dropna()
    if pairs.empty:
        return {}
    long = pairs.assign(remark=pairs["remark_codes"].astype(str).str.split(schema.LIST_SEP)).explode("remark")
    lines = denied["denial_reason"].value_counts()
    out = {}
    for carc, counts in long.groupby("denial_reason")["remark"].value_counts().groupby(level=0):
        n = int(lines.get(carc, 0))
        top_remark, k = counts.index[0][1], int(counts.iloc[0])
        if n >= min_lines and k / n >= min_share:
            out[str(carc)] = [str(top_remark), round(k / n, 3)]
    return out


def _typical(X: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # an all-missing column's median is NaN, then 0: not worth a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(X, axis=0) if len(X) else np.zeros(X.shape[1])
    return np.where(np.isnan(med), 0.0, med)


def _feature_groups(features, names: list[str]) -> dict[str, list[int]]:
    from denial_risk.features import pipeline as fp

    groups = fp.feature_groups(features) if hasattr(fp, "feature_groups") else fp.FEATURE_GROUPS
    index = {n: i for i, n in enumerate(names)}
    return {g: [index[n] for n in cols if n in index] for g, cols in groups.items()}


def _policy_groups(frame: pd.DataFrame) -> pd.Series:
    from denial_risk.contract.facts import policy_group_label

    return policy_group_label(frame["hcpcs_code"])


def _drift_profile(X: np.ndarray, names: list[str]) -> dict:
    """The features' training profile, without the time of year (a later backlog differs there anyway)."""
    from denial_risk.features.timing import TimingFeatures
    from denial_risk.modeling.drift import feature_profile

    calendar = {f"{TimingFeatures.group}__{c}" for c in TimingFeatures.calendar}
    sample = np.random.default_rng(0).permutation(len(X))[:50_000]
    kept = [n for n in names if n not in calendar]
    return feature_profile(pd.DataFrame(X[sample], columns=names)[kept], kept)
