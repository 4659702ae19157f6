"""Payer features: the payer type and the payer itself."""

from __future__ import annotations

from denial_risk.contract import schema

from ._base import (
    TargetFeatures,
    fit_categories,
    fit_rates,
    multi_key,
    one_hot,
    one_hot_names,
    oof_rates,
    stack,
)


class PayerFeatures(TargetFeatures):
    """Payer type one-hot, payer id as learned categories, and the payer's smoothed denial rate.

    Outputs: `payer_type=<t>` for each of `schema.PAYER_TYPES` plus `=missing`;
    `payer_id=<id>` over the `max_payers` most frequent ids seen at least `min_count` times
    in fit (`=other`, `=missing`); `payer_denial_rate`: denial rate per payer type, refined
    per payer id, each smoothed (`smoothing` pseudo-lines) toward the coarser level; unknown
    payer id → its type's rate. `fit_transform` gives it out-of-fold (`cv`).
    """

    group = "payer"
    input_columns = ("payer_type", "payer_id")

    def __init__(self, *, max_payers=20, min_count=50, smoothing=20.0, cv=5):
        self.max_payers = max_payers
        self.min_count = min_count
        self.smoothing = smoothing
        self.cv = cv

    def _keys(self, X):
        ptype = self._col(X, "payer_type", "string")
        pid = self._col(X, "payer_id", "string")
        return [multi_key([ptype]), multi_key([ptype, pid])]

    def _fit(self, X, y):
        self.payer_ids_ = fit_categories(self._col(X, "payer_id", "string"), self.max_payers, self.min_count)
        self.payer_rates_ = fit_rates(self._keys(X), y, float(self.smoothing))
        types = list(schema.PAYER_TYPES)
        self.names_out_ = [
            *(f"payer_type={t}" for t in types),
            "payer_type=missing",
            *one_hot_names("payer_id", self.payer_ids_),
            "payer_denial_rate",
        ]

    def _features(self, X, rate):
        ptype = self._col(X, "payer_type", "string")
        k = len(schema.PAYER_TYPES)
        oh = one_hot(ptype, list(schema.PAYER_TYPES))
        # a value outside the enum (normalisation maps those to `other` already) counts as `other`
        oh[:, list(schema.PAYER_TYPES).index("other")] += oh[:, k]
        types = oh[:, [*range(k), k + 1]]
        return stack([types, one_hot(self._col(X, "payer_id", "string"), self.payer_ids_), rate], len(X))

    def _transform(self, X):
        return self._features(X, self.payer_rates_.lookup(self._keys(X)))

    def _fit_transform_oof(self, X, y):
        return self._features(X, oof_rates(self._keys(X), y, float(self.smoothing), self.cv))
