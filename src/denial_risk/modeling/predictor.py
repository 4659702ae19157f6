"""The fitted model's fast paths: the feature matrix built directly, and trees read on the binned matrix.

Scoring a million lines spends most of its time in two places: building the feature
matrix and walking gradient-boosted trees (the denial classifier, the CARC reason model,
and the classifier again for every group attribution). Both have a faster route that
gives the same numbers:

* `feature_matrix`: each fitted feature group's transformer called directly, its block
  written into one preallocated matrix (float64, or float32 for a model trained on
  float32 features), instead of the ColumnTransformer's pandas frames and concatenation.
* `LinearReasons`: the multinomial reason model's steps as plain numpy, without their checks.
* `BinnedTrees`: a HistGradientBoosting model walked on its own binned (uint8) matrix
  with scikit-learn's `predict_binned`, the route its early stopping uses during the fit.
  A value goes left at a split exactly when its bin does (the bins are the split
  thresholds, `x <= t  <=>  bin(x) <= bin(t)`), leaves are added in the same order from
  the same baseline, so the raw score, the calibrated probability and the reason
  probabilities are bit-for-bit the ones `predict_proba` gives (tests/modeling/
  test_predictor.py). The binned matrix is an eighth of the float one, so the walk reads
  far less memory; binning once also serves every attribution rescoring.

Nothing here is saved with the model: the fast paths are rebuilt from the fitted objects on
first use (`for_model`) and cached by identity, so models saved before keep loading as
they are. Anything this cannot read exactly (a logistic classifier, categorical splits,
another calibration) uses scikit-learn's own path.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

_CACHE: dict[int, tuple[weakref.ref, tuple, ModelPaths]] = {}
_LOCK = threading.Lock()


class BinnedTrees:
    """A fitted `Pipeline(InformativeColumns, HistGradientBoosting*)` predicted on binned rows."""

    def __init__(self, pipeline):
        self.keep = np.asarray(pipeline[0].keep_, dtype=bool)
        self.hgb = pipeline[-1]
        self.mapper = self.hgb._bin_mapper
        self.missing_bin = self.mapper.missing_values_bin_idx_

    @staticmethod
    def supports(pipeline) -> bool:
        """Whether `pipeline` is one this class reads exactly (numeric splits only)."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import Pipeline

        from denial_risk.features.select import InformativeColumns

        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            return False
        first, last = pipeline[0], pipeline[-1]
        if not isinstance(first, InformativeColumns) or not isinstance(last, HistGradientBoostingClassifier):
            return False
        categorical = getattr(last, "is_categorical_", None)
        return (
            getattr(last, "_preprocessor", None) is None
            and (categorical is None or not np.any(categorical))
            and hasattr(last, "_bin_mapper")
        )

    def bin(self, X: np.ndarray) -> np.ndarray:
        """The kept columns of `X` as the model's bins (uint8, column-major)."""
        X = np.asarray(X)
        kept = X if self.keep.all() else X[:, self.keep]
        return self.mapper.transform(kept)

    def raw(self, binned: np.ndarray) -> np.ndarray:
        """Sum of leaf values per row and class (n, trees per iteration), as `_raw_predict` adds them."""
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        hgb = self.hgb
        out = np.zeros(
            (len(binned), hgb.n_trees_per_iteration_), dtype=hgb._baseline_prediction.dtype, order="F"
        )
        out += hgb._baseline_prediction
        threads = _openmp_effective_n_threads()
        for trees in hgb._predictors:
            for k, tree in enumerate(trees):
                out[:, k] += tree.predict_binned(
                    binned, missing_values_bin_idx=self.missing_bin, n_threads=threads
                )
        return out

    def proba(self, binned: np.ndarray) -> np.ndarray:
        """`predict_proba` of the pipeline, from binned rows."""
        return self.hgb._loss.predict_proba(self.raw(binned))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """`predict_proba` of the pipeline, from the float rows."""
        return self.proba(self.bin(X))


class LinearReasons:
    """A fitted `Pipeline(InformativeColumns, SimpleImputer, StandardScaler, LogisticRegression)` (the
    multinomial reason model, `modeling.reason_model`) computed with the same numpy operations its steps
    run, in the same order, on the same dtype and memory layout, without each step's input validation
    (three copies and finiteness checks of the matrix): the same bits (tests/modeling/test_predictor.py)."""

    def __init__(self, pipeline):
        select, imputer, scaler, logistic = (step for _, step in pipeline.steps)
        self.keep = np.asarray(select.keep_, dtype=bool)
        self.fill = np.asarray(imputer.statistics_).astype(imputer._fill_dtype, copy=False)
        self.scaler, self.logistic = scaler, logistic

    @staticmethod
    def supports(pipeline) -> bool:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        from denial_risk.features.select import InformativeColumns

        kinds = (InformativeColumns, SimpleImputer, StandardScaler, LogisticRegression)
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != len(kinds):
            return False
        steps = [step for _, step in pipeline.steps]
        if any(type(step) is not kind for step, kind in zip(steps, kinds)):
            return False
        imputer, logistic = steps[1], steps[3]
        return (
            imputer.add_indicator is False
            and isinstance(imputer.missing_values, float)
            and np.isnan(imputer.missing_values)
            and not np.isnan(np.asarray(imputer.statistics_, dtype=float)).any()  # no column dropped
            and len(logistic.classes_) > 2  # multinomial: softmax of the decision function
            and hasattr(steps[0], "keep_")
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """`pipeline.predict_proba(X)` in float64 arithmetic, as `DenialModel.reason_proba`'s fallback (a
        float32 product's rounding would depend on the batch)."""
        from sklearn.utils.extmath import softmax

        X = np.asarray(X)
        # the kept columns, then float64 (the values the pipeline's float64 input gives), in X's layout:
        # one copy where the pipeline makes three; the missing values filled in place, as the imputer does
        Z = np.array(X if self.keep.all() else X[:, self.keep], dtype=np.float64, order="K")
        np.copyto(Z, np.broadcast_to(self.fill, Z.shape), where=np.isnan(Z))
        scaler = self.scaler
        if scaler.with_mean:
            Z -= scaler.mean_.astype(Z.dtype)
        if scaler.with_std:
            Z /= scaler.scale_.astype(Z.dtype)
        logistic = self.logistic
        return softmax(Z @ logistic.coef_.T + logistic.intercept_, copy=False)


class CalibratedTrees:
    """A `CalibratedClassifierCV` over frozen tree pipelines: p(denied) from binned rows."""

    def __init__(self, calibrated):
        self.members = []
        for member in calibrated.calibrated_classifiers_:
            est = member.estimator
            est = getattr(est, "estimator", est)  # FrozenEstimator wraps the fitted pipeline
            self.members.append((BinnedTrees(est), member.calibrators[0]))
        self.trees = self.members[0][0]
        self.shared_bins = all(t.hgb is self.trees.hgb for t, _ in self.members)

    @staticmethod
    def supports(calibrated) -> bool:
        from sklearn.calibration import CalibratedClassifierCV

        if not isinstance(calibrated, CalibratedClassifierCV) or not hasattr(
            calibrated, "calibrated_classifiers_"
        ):
            return False
        if len(calibrated.classes_) != 2:
            return False
        for member in calibrated.calibrated_classifiers_:
            est = getattr(member.estimator, "estimator", member.estimator)
            if member.method not in ("isotonic", "sigmoid") or len(member.calibrators) != 1:
                return False
            if not BinnedTrees.supports(est) or len(est[-1].classes_) != 2:
                return False
        return True

    def bin(self, X: np.ndarray) -> np.ndarray:
        return self.trees.bin(X)

    def proba(self, binned: np.ndarray) -> np.ndarray:
        """Calibrated p(denied) as `CalibratedClassifierCV.predict_proba(X)[:, 1]` computes it."""
        total = np.zeros(len(binned))
        for trees, calibrator in self.members:
            total += calibrator.predict(trees.raw(binned)[:, 0])
        total /= len(self.members)
        return total


class ModelPaths:
    """The fast paths of one fitted `DenialModel` (or None where scikit-learn's own path is used)."""

    def __init__(self, model):
        self.classifier = (
            CalibratedTrees(model.classifier) if CalibratedTrees.supports(model.classifier) else None
        )
        if self.classifier is not None and not self.classifier.shared_bins:
            self.classifier = None  # one binned matrix per member: not worth it (never built by training)
        reason = getattr(model, "reason_model", None)
        self.reason = None  # the reason model's fast path (`predict`), or None
        if reason is not None and BinnedTrees.supports(reason):
            self.reason = BinnedTrees(reason)
        elif reason is not None and LinearReasons.supports(reason):
            self.reason = LinearReasons(reason)
        self.blocks = _blocks(model.features)


def for_model(model) -> ModelPaths:
    """The fast paths of `model`, built once per model object (again if its fitted parts are replaced)."""
    key = id(model)
    parts = (id(model.classifier), id(getattr(model, "reason_model", None)), id(model.features))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is model and hit[1] == parts:
            return hit[2]
    paths = ModelPaths(model)
    with _LOCK:
        _CACHE[key] = (_ref(model, key), parts, paths)
    return paths


def _ref(model, key: int):
    def drop(_ref, key=key):
        with _LOCK:
            entry = _CACHE.get(key)
            if entry is not None and entry[0] is _ref:
                del _CACHE[key]

    return weakref.ref(model, drop)


# --------------------------------------------------------------------------- the feature matrix


def _blocks(features) -> list[tuple[object, list[str], int]] | None:
    """(transformer, its columns, width) per fitted feature group, or None if the pipeline is not ours."""
    from sklearn.compose import ColumnTransformer

    from denial_risk.features._base import ColumnFeatures

    if not isinstance(features, ColumnTransformer) or not hasattr(features, "transformers_"):
        return None
    out = []
    for _name, trans, cols in features.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        if not isinstance(trans, ColumnFeatures) or type(trans).transform is not ColumnFeatures.transform:
            return None
        out.append((trans, list(cols), len(trans.names_out_)))
    return out


def feature_matrix(model, frame, dtype=np.float64) -> np.ndarray:
    """`model.features.transform(frame)` as a `dtype` matrix, each group's block written in place."""
    blocks = for_model(model).blocks
    if blocks is None:
        return np.asarray(model.features.transform(frame), dtype=dtype)
    width = sum(w for _, _, w in blocks)
    out = np.empty((len(frame), width), dtype=dtype, order="F")
    j = 0
    for trans, cols, w in blocks:
        out[:, j : j + w] = trans._finish(trans._transform(trans._check_frame(frame[cols])), len(frame))
        j += w
    return out
