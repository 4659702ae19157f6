"""The training fit's matrices within bounded memory.

* `fit_features`: the feature pipeline's `fit_transform` (out-of-fold target rates) written
  straight into one float32 matrix, instead of a float64 frame, its concatenation and a
  copy; the model records `matrix_dtype = float32`, so scoring builds the same float32
  values (`DenialModel.transform`) and every split compares like with like.
* `rows_in_chunks` / `raw_scores`: the calibration and holdout slices featurised and scored
  a block of lines at a time; their matrices are never whole.
* `calibrate`: `CalibratedClassifierCV(FrozenEstimator(clf))` fitted on the scores of every
  calibration line without holding their matrix (the same calibrator scikit-learn fits on
  the whole matrix: tests/modeling/test_matrix.py).
* `fit_trees`: gradient-boosted trees given their early-stopping share up front (a random
  tenth of the lines, stratified, as scikit-learn draws it) as views of one float64 matrix,
  so the library makes no copy of its own; the fit takes the feature matrix over and lets it go,
  column by column as they are gathered (`releasable`: the training matrix lives in an anonymous
  mapping whose pages go back to the OS once copied), so the two are never held whole together.
* `Baseline`: the logistic-regression baseline on a sample, missing values set to the
  sample's `nanmedian`.
"""

from __future__ import annotations

import mmap

import numpy as np
from sklearn.base import clone

CHUNK_ROWS = 100_000
BASELINE_ROWS = 200_000  # the logistic baseline and the typical values are read on this many lines
VALIDATION_SHARE = 0.1


def fit_features(features, frame, y: np.ndarray, dtype=np.float32) -> np.ndarray:
    """`features.fit_transform(frame, y)` as one `dtype` matrix: each group's block copied in once."""

    def hstack(blocks, *, n_samples):
        out = releasable((n_samples, sum(b.shape[1] for b in blocks)), dtype)
        j = 0
        for k in range(len(blocks)):
            block = np.asarray(blocks[k])
            out[:, j : j + block.shape[1]] = block
            j += block.shape[1]
            blocks[k] = None  # the list is ours: each block goes as soon as it is copied
        return out

    features.set_output(transform="default")
    features._hstack = hstack  # ColumnTransformer's last step; removed before the model is saved
    try:
        return features.fit_transform(frame, y)
    finally:
        del features._hstack
        features.set_output(transform="pandas")


def releasable(shape: tuple[int, int], dtype) -> np.ndarray:
    """A zeroed Fortran-ordered matrix in memory of its own (an anonymous mapping), so that its columns'
    pages can be handed back to the OS once they are read for the last time (`release_columns`)."""
    size = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    return np.ndarray(shape, dtype=dtype, buffer=_private(size), order="F")


def _private(size: int) -> mmap.mmap:
    """Anonymous private memory: pages handed back with MADV_DONTNEED are freed (a shared mapping's
    would stay in the shared-memory object)."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def release_columns(X: np.ndarray, end: int) -> None:
    """Hand back to the OS the whole pages of columns `0..end-1` of a `releasable` matrix (reading them
    afterwards gives zeros): a matrix copied column by column into another never holds both whole.
    Any other array is left alone."""
    buffer = X.base
    if not isinstance(buffer, mmap.mmap) or not X.flags.f_contiguous:
        return
    stop = end * X.shape[0] * X.itemsize // mmap.PAGESIZE * mmap.PAGESIZE
    if stop > 0:
        buffer.madvise(mmap.MADV_DONTNEED, 0, stop)


def rows_in_chunks(n: int, size: int = CHUNK_ROWS):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def raw_scores(model, clf, frame) -> np.ndarray:
    """The uncalibrated classifier's decision scores for `frame`, a block of lines at a time."""
    out = np.empty(len(frame))
    for rows in rows_in_chunks(len(frame)):
        X = model.transform(frame.iloc[rows])
        out[rows] = decision(clf, X)
    return out


def decision(clf, X: np.ndarray) -> np.ndarray:
    """What `CalibratedClassifierCV` calibrates: `decision_function`, else the positive class's proba."""
    if hasattr(clf, "decision_function"):
        return np.asarray(clf.decision_function(X), dtype=np.float64).ravel()
    return clf.predict_proba(X)[:, 1]


def calibrate(clf, X_head: np.ndarray, y_head: np.ndarray, scores: np.ndarray, y: np.ndarray, method: str):
    """A fitted `CalibratedClassifierCV(FrozenEstimator(clf), method)` whose calibrator is fitted on
    `scores` (every calibration line's, from `raw_scores`) and `y`.

    The object is built by scikit-learn on a few lines (`X_head`, `y_head`: both classes), then its
    calibrator is refitted on all the scores: what `fit(X_cal, y_cal)` gives, without `X_cal`.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    calibrated = CalibratedClassifierCV(FrozenEstimator(clf), method=method).fit(X_head, y_head)
    member = calibrated.calibrated_classifiers_[0]
    member.calibrators[0] = clone(member.calibrators[0]).fit(scores, y)
    return calibrated


def head_with_both_classes(y: np.ndarray, per_class: int = 5) -> np.ndarray:
    """Positions of a few lines of each class (to build a calibrator's structure)."""
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in (0, 1)]))


def fit_trees(estimator, handed: list[np.ndarray], y: np.ndarray, weight: np.ndarray | None, seed: int):
    """Fit `Pipeline(InformativeColumns, HistGradientBoosting)` with its early-stopping share given.

    The kept columns of every line are gathered once into a float64 matrix, shuffled so the
    validation tenth is its tail: training and validation lines are views, and the trees
    convert nothing. The matrix is in C order so that those views are contiguous: the bin
    mapper draws its 200k-line subsample with `take`, which copies a non-contiguous array
    whole first (a transient 1 GB at 1M lines, measured, when the matrix was in F order).
    `handed` holds the feature matrix as its one item: it is taken out and let go as its columns
    are gathered (a `releasable` matrix page by page), so the two are never held whole together and
    it is not held while the trees grow. Returns the fitted pipeline.
    """
    from sklearn.model_selection import train_test_split

    X = handed.pop()
    select, trees = estimator[0], estimator[-1]
    select.fit(X)
    n = len(y)
    fit_idx, val_idx = train_test_split(
        np.arange(n), test_size=VALIDATION_SHARE, stratify=y, random_state=seed
    )
    order = np.concatenate([fit_idx, val_idx])
    keep = np.flatnonzero(select.keep_)
    Xs = np.empty((n, len(keep)), dtype=np.float64)  # C order (docstring)
    for j0 in range(0, len(keep), 16):  # a few columns at a time: never a second full copy
        cols = keep[j0 : j0 + 16]
        Xs[:, j0 : j0 + len(cols)] = X[np.ix_(order, cols)]
        release_columns(X, cols[-1] + 1)  # the float32 columns copied go as the float64 ones come
    del X  # the caller handed it over: the float32 matrix goes before the trees grow
    k = len(fit_idx)
    w = None if weight is None else np.asarray(weight, dtype=np.float64)[order]
    trees.set_params(early_stopping=True)
    trees.fit(
        Xs[:k],
        y[order[:k]],
        sample_weight=None if w is None else w[:k],
        X_val=Xs[k:],
        y_val=y[order[k:]],
        sample_weight_val=None if w is None else w[k:],
    )
    return estimator


def representative_rows(weight: np.ndarray | None, n: int, size: int, seed: int) -> np.ndarray:
    """Up to `size` positions drawn so that, with the sample's weights, they stand for the population."""
    rng = np.random.default_rng(seed)
    if weight is None:
        return np.sort(rng.permutation(n)[:size]) if n > size else np.arange(n)
    w = np.asarray(weight, dtype=np.float64)
    p = w / w.sum()
    take = min(size, int((p > 0).sum()))
    return np.sort(rng.choice(n, size=take, replace=False, p=p))


class Baseline:
    """The calibrated logistic-regression baseline, fitted on up to `BASELINE_ROWS` training lines."""

    def __init__(self, seed: int):
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.scaler = StandardScaler()
        self.logistic = LogisticRegression(C=0.5, max_iter=3000, random_state=seed)
        self.median: np.ndarray | None = None
        self.calibrator = None

    def _filled(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        gaps = np.isnan(X)
        X[gaps] = np.broadcast_to(self.median, X.shape)[gaps]
        return X

    def fit(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, seed: int) -> Baseline:
        import warnings

        rows = representative_rows(None, len(y), BASELINE_ROWS, seed)
        with warnings.catch_warnings():  # an all-missing column's median is NaN: it is set to 0
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(X[rows], axis=0)
        self.median = np.where(np.isnan(med), 0.0, med)
        Xf = self.scaler.fit_transform(self._filled(X[rows]))
        self.logistic.fit(Xf, y[rows], sample_weight=None if weight is None else weight[rows])
        return self

    def decision(self, X: np.ndarray) -> np.ndarray:
        return self.logistic.decision_function(self.scaler.transform(self._filled(X)))

    def calibrate(self, scores: np.ndarray, y: np.ndarray, method: str) -> Baseline:
        from sklearn.calibration import _SigmoidCalibration
        from sklearn.isotonic import IsotonicRegression

        cal = IsotonicRegression(out_of_bounds="clip") if method == "isotonic" else _SigmoidCalibration()
        self.calibrator = cal.fit(scores, y)
        return self

    def proba(self, X: np.ndarray) -> np.ndarray:
        return np.clip(self.calibrator.predict(self.decision(X)), 0.0, 1.0)
