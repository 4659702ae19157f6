"""Diagnosis features: validity of the ICD-10-CM codes and how well they support the code (CO-11)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import facts

from ._base import (
    TargetFeatures,
    fit_categories,
    fit_rates,
    gather,
    multi_key,
    one_hot,
    one_hot_names,
    oof_rates,
    stack,
    tristate,
)


def code_group(policy_rows: pd.DataFrame, hcpcs: pd.Series) -> pd.Series:
    """The policy group, or `code:<HCPCS>` for a code outside the policy table."""
    group = (
        policy_rows["policy_group"].astype("string")
        if "policy_group" in policy_rows
        else pd.Series(pd.NA, index=hcpcs.index, dtype="string")
    )
    fallback = "code:" + hcpcs.astype("string")
    return group.fillna(fallback)


class DiagnosisFeatures(TargetFeatures):
    """Validity, hierarchy of the primary diagnosis, and diagnosis-to-code support.

    Outputs: `dx_count`, `no_diagnosis`, `primary_valid`, `primary_billable` (NaN when
    there is no diagnosis), `any_invalid`, `n_invalid`, `any_not_billable`; the primary's
    chapter and block one-hot over the `max_chapters` / `max_blocks` most frequent in fit
    (`=other`, `=missing`); `primary_supports_{yes,no,unknown}` and
    `any_supports_{yes,no,unknown}` from the policy table; `support_rate`: the denial rate
    learned per (policy group, or HCPCS code outside the table) × primary-diagnosis
    category, smoothed toward the group's rate and that toward the global rate
    (`smoothing` pseudo-lines each). `fit_transform` gives it out-of-fold (`cv`).
    """

    group = "diagnosis"
    input_columns = ("diagnosis_codes", "hcpcs_code")

    def __init__(self, *, max_chapters=25, max_blocks=40, smoothing=20.0, cv=5):
        self.max_chapters = max_chapters
        self.max_blocks = max_blocks
        self.smoothing = smoothing
        self.cv = cv

    # one pass over the lookups shared by fit and transform
    def _parts(self, X):
        dx = self._col(X, "diagnosis_codes", "string")
        hcpcs = self._col(X, "hcpcs_code", "string")
        codes, table = facts.diagnosis_table(dx)
        pol = facts.policy_for_rows(hcpcs)
        group = code_group(pol, hcpcs)
        return codes, table, pol, group, dx, hcpcs

    def _keys(self, group: pd.Series, category: pd.Series):
        return [multi_key([group]), multi_key([group, category])]

    def _fit(self, X, y):
        codes, table, _, group, _, _ = self._parts(X)
        chapter = pd.Series(table["chapter"].array.take(codes, allow_fill=True), index=X.index)
        block = pd.Series(table["block"].array.take(codes, allow_fill=True), index=X.index)
        category = pd.Series(table["category"].array.take(codes, allow_fill=True), index=X.index)
        self.chapters_ = fit_categories(chapter, self.max_chapters)
        self.blocks_ = fit_categories(block, self.max_blocks)
        self.support_rates_ = fit_rates(self._keys(group, category), y, float(self.smoothing))
        self.names_out_ = [
            "dx_count",
            "no_diagnosis",
            "primary_valid",
            "primary_billable",
            "any_invalid",
            "n_invalid",
            "any_not_billable",
            *one_hot_names("chapter", self.chapters_),
            *one_hot_names("block", self.blocks_),
            "primary_supports_yes",
            "primary_supports_no",
            "primary_supports_unknown",
            "any_supports_yes",
            "any_supports_no",
            "any_supports_unknown",
            "support_rate",
        ]

    def _features(self, X, rate_fn):
        n = len(X)
        codes, table, pol, group, dx, hcpcs = self._parts(X)
        num_cols = [
            "count",
            "primary_valid",
            "primary_billable",
            "any_invalid",
            "n_invalid",
            "any_not_billable",
        ]
        per = table[num_cols].to_numpy(dtype=np.float64) if len(table) else np.zeros((0, len(num_cols)))
        per = np.vstack([per, [[0.0, np.nan, np.nan, 0.0, 0.0, 0.0]]])  # missing list = no diagnosis
        num = gather(per, codes)
        count = num[:, 0]

        def take(name):
            if len(table) == 0:
                return pd.Series(pd.NA, index=X.index, dtype="string")
            return pd.Series(table[name].array.take(codes, allow_fill=True), index=X.index)

        chapter, block, category = take("chapter"), take("block"), take("category")
        sup = facts.diagnosis_support_rows(
            pol["policy_group"].astype("string") if "policy_group" in pol else group, dx
        )
        prim_sup = sup["primary_supports"].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
        any_sup = sup["any_supports"].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
        rate = rate_fn(self._keys(group, category))
        return stack(
            [
                count,
                (count == 0).astype(np.float64),
                num[:, 1],
                num[:, 2],
                num[:, 3],
                num[:, 4],
                num[:, 5],
                one_hot(chapter, self.chapters_),
                one_hot(block, self.blocks_),
                tristate(prim_sup),
                tristate(any_sup),
                rate,
            ],
            n,
        )

    def _transform(self, X):
        return self._features(X, self.support_rates_.lookup)

    def _fit_transform_oof(self, X, y):
        return self._features(X, lambda keys: oof_rates(keys, y, float(self.smoothing), self.cv))
