"""The classifiers a fit chooses from, and the choice: time-ordered cross-validation on small data,
gradient-boosted trees on large data (trees are not always best on 5k lines)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from denial_risk.features.select import InformativeColumns
from denial_risk.modeling.config import TrainConfig

log = logging.getLogger(__name__)

MIN_CLASS_LINES = 10  # denied and paid lines each fit needs (training slice, calibration slice, CV fold)


def candidates(seed: int) -> dict[str, object]:
    """The classifiers CV chooses from; each first drops the columns constant or missing in its fit."""
    return {
        "hgb": make_pipeline(
            InformativeColumns(),
            # learning rate and patience (issue 23): 0.06 and 40 grew 747 trees at 1M lines, 70 % of the
            # fit's time; 0.12 and 20 about half as many (benchmarks/results/scale.json, AUC in it)
            HistGradientBoostingClassifier(
                learning_rate=0.12,
                max_iter=800,
                max_leaf_nodes=31,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=True,
                validation_fraction=0.1,
                n_iter_no_change=20,
                random_state=seed,
            ),
        ),
        "hgb_shallow": make_pipeline(
            InformativeColumns(),
            HistGradientBoostingClassifier(
                learning_rate=0.08,
                max_iter=500,
                max_leaf_nodes=8,
                min_samples_leaf=30,
                l2_regularization=3.0,
                early_stopping=True,
                validation_fraction=0.15,
                n_iter_no_change=30,
                random_state=seed,
            ),
        ),
        "logistic": make_pipeline(
            InformativeColumns(),
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.5, max_iter=3000),
        ),
    }


def _features(config: TrainConfig):
    from denial_risk.features.pipeline import build_feature_pipeline

    return build_feature_pipeline(
        extra_boolean=config.extra_boolean,
        extra_numeric=config.extra_numeric,
        extra_categorical=config.extra_categorical,
    )


def choose_classifier(
    train: pd.DataFrame, y: np.ndarray, config: TrainConfig
) -> tuple[str, dict, list[int | None]]:
    """Pick the classifier by time-ordered CV on small data; trees on large data.

    Returns the choice, the mean AUC per candidate and the feature columns each fold dropped
    (None for a fold too small to fit: fewer than `MIN_CLASS_LINES` of a class, or no column varies).
    """
    if len(train) > config.small_data_rows:
        return "hgb", {}, []
    order = np.argsort(train["service_date"].to_numpy(), kind="stable")
    X_all, y_all = train.iloc[order], y[order]
    scores: dict[str, list[float]] = {name: [] for name in candidates(config.seed)}
    dropped: list[int | None] = []
    for tr, va in TimeSeriesSplit(n_splits=3).split(X_all):
        dropped.append(None)
        if min(np.bincount(y_all[tr], minlength=2)) < MIN_CLASS_LINES or len(np.unique(y_all[va])) < 2:
            continue
        feats = _features(config)
        Xtr = np.asarray(feats.fit_transform(X_all.iloc[tr], y_all[tr]), dtype=np.float64)
        Xva = np.asarray(feats.transform(X_all.iloc[va]), dtype=np.float64)
        keep = InformativeColumns().fit(Xtr).keep_
        if not keep.any():
            continue
        dropped[-1] = int((~keep).sum())
        for name, est in candidates(config.seed).items():
            est.fit(Xtr, y_all[tr])
            scores[name].append(roc_auc_score(y_all[va], est.predict_proba(Xva)[:, 1]))
    log.info(f"CV folds: {dropped} constant or missing feature columns dropped (None: fold not fitted)")
    means = {k: float(np.mean(v)) for k, v in scores.items() if v}
    if not means:
        return "hgb", {}, dropped
    return max(means, key=means.get), means, dropped
