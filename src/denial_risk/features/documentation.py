"""Documentation features: what is on file, what the policy expects, and prior authorization."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import facts, schema

from ._base import TargetFeatures, bool_float, fit_rates, gather, multi_key, oof_rates, stack, tristate
from .diagnosis import code_group


class DocumentationFeatures(TargetFeatures):
    """Each documentation flag with unknown as its own state, expected-but-missing documents,
    and how hard this payer denies a missing prior authorization.

    Outputs: `<flag>_{yes,no,unknown}` for each of `schema.BOOLEAN_FLAGS`;
    `n_expected_docs` (the policy's `expected_documents` for the code), `expected_missing`
    (expected and explicitly false), `expected_unknown` (expected and unknown);
    `measurements_missing_custom` / `measurements_unknown_custom` (custom-fabricated code);
    `prior_auth_absent` (explicitly false); `medicare_pa_program` (the code is on Medicare's
    Required Prior Authorization List on the date of service, `contract.rules`) and
    `prior_auth_absent_in_medicare_program` (that, and no prior auth);
    `pa_absent_denial_rate`: the denial rate of lines *without* prior authorization,
    learned per payer type × policy group (code outside the table: the code), refined per
    payer id, smoothed (`smoothing` pseudo-lines) toward the coarser level;
    `pa_absent_x_rate`: that rate when this line has no prior auth, 0 when it has one, NaN
    when unknown. `fit_transform` gives the learned rate out-of-fold (`cv`).
    """

    group = "documentation"
    input_columns = (*schema.BOOLEAN_FLAGS, "hcpcs_code", "payer_type", "payer_id", "service_date")

    def __init__(self, *, smoothing=20.0, cv=5):
        self.smoothing = smoothing
        self.cv = cv

    def _keys(self, X, pol):
        hcpcs = self._col(X, "hcpcs_code", "string")
        group = code_group(pol, hcpcs)
        ptype = self._col(X, "payer_type", "string")
        pid = self._col(X, "payer_id", "string")
        return [multi_key([ptype, group]), multi_key([ptype, group, pid])]

    def _pa(self, X) -> np.ndarray:
        return bool_float(self._col(X, "has_prior_auth", "boolean"))

    def _fit(self, X, y):
        pol = facts.policy_for_rows(self._col(X, "hcpcs_code", "string"))
        absent = self._pa(X) == 0.0
        keys = [(c[absent], lab) for c, lab in self._keys(X, pol)]
        self.pa_absent_rates_ = fit_rates(keys, y[absent], float(self.smoothing))
        self.names_out_ = [
            *(f"{f}_{s}" for f in schema.BOOLEAN_FLAGS for s in ("yes", "no", "unknown")),
            "n_expected_docs",
            "expected_missing",
            "expected_unknown",
            "measurements_missing_custom",
            "measurements_unknown_custom",
            "prior_auth_absent",
            "medicare_pa_program",
            "prior_auth_absent_in_medicare_program",
            "pa_absent_denial_rate",
            "pa_absent_x_rate",
        ]

    def _features(self, X, rate_fn):
        n = len(X)
        hcpcs = self._col(X, "hcpcs_code", "string")
        pol = facts.policy_for_rows(hcpcs)
        flags = {f: bool_float(self._col(X, f, "boolean")) for f in schema.BOOLEAN_FLAGS}
        # expected documents per distinct code string, broadcast
        exp_col = (
            pol["expected_documents"]
            if "expected_documents" in pol
            else pd.Series(pd.NA, index=X.index, dtype="string")
        )
        codes, uniq = pd.factorize(exp_col.astype("string"), use_na_sentinel=True)
        lists = facts.split_list(np.asarray(list(uniq), dtype=object))
        per = np.zeros((len(lists) + 1, len(schema.BOOLEAN_FLAGS)), dtype=bool)
        for i, lst in enumerate(lists):
            for j, f in enumerate(schema.BOOLEAN_FLAGS):
                per[i, j] = f in lst
        expected = gather(per.astype(np.float64), codes) > 0
        vals = (
            np.column_stack([flags[f] for f in schema.BOOLEAN_FLAGS])
            if n
            else np.zeros((0, len(schema.BOOLEAN_FLAGS)))
        )
        exp_missing = (expected & (vals == 0.0)).sum(axis=1)
        exp_unknown = (expected & np.isnan(vals)).sum(axis=1)
        pflags = facts.policy_flags(pol)
        custom = pflags["custom_fabricated"] == 1.0
        meas = flags["has_measurements"]
        pa = flags["has_prior_auth"]
        program = facts.dated_rules(hcpcs, self._col(X, "service_date", "datetime64[ns]"), None)["prior_auth"]
        rate = rate_fn(self._keys(X, pol))
        x_rate = np.where(pa == 0.0, rate, np.where(pa == 1.0, 0.0, np.nan))
        return stack(
            [
                *(tristate(flags[f]) for f in schema.BOOLEAN_FLAGS),
                expected.sum(axis=1),
                exp_missing,
                exp_unknown,
                custom & (meas == 0.0),
                custom & np.isnan(meas),
                pa == 0.0,
                program,
                program & (pa == 0.0),
                rate,
                x_rate,
            ],
            n,
        )

    def _transform(self, X):
        return self._features(X, self.pa_absent_rates_.lookup)

    def _fit_transform_oof(self, X, y):
        absent = self._pa(X) == 0.0
        return self._features(X, lambda keys: oof_rates(keys, y, float(self.smoothing), self.cv, mask=absent))
