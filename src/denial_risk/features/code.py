"""Code features: is the HCPCS code valid, which policy governs it, and what that policy demands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import facts

from ._base import ColumnFeatures, fit_categories, one_hot, one_hot_names, stack, to_float

HCPCS_STATUSES = ("valid", "invalid", "cpt")


class CodeFeatures(ColumnFeatures):
    """HCPCS status, policy group and the policy's flags.

    Outputs: `hcpcs={valid,invalid,cpt,missing}` on the line's date of service (a code is
    valid only between its CMS add and termination dates); `in_policy_table`; `policy_group=<g>`
    one-hot over the `max_groups` most frequent groups in fit (`=other`, `=missing` = code
    not in the policy table); `sided`, `custom_fabricated` as 1 / 0 / -1 (unknown);
    `unit_limit` (NaN: none),
    `units_over_limit` (units above the limit, 0 if none or within), `unit_limit_exceeded`;
    `useful_lifetime_years` (NaN: none); `place_of_service=<pos>` over the `max_places` most
    frequent places of service in fit (`=other`, `=missing`): equipment supplied during an
    inpatient or nursing-facility stay is bundled (CO-97).
    """

    group = "code"
    input_columns = ("hcpcs_code", "units", "place_of_service", "service_date")

    def __init__(self, *, max_groups=40, max_places=12):
        self.max_groups = max_groups
        self.max_places = max_places

    def _fit(self, X, y):
        pol = facts.policy_for_rows(self._col(X, "hcpcs_code", "string"))
        self.policy_groups_ = fit_categories(pol["policy_group"], self.max_groups)
        self.places_ = fit_categories(self._col(X, "place_of_service", "string"), self.max_places)
        self.names_out_ = [
            *(f"hcpcs={s}" for s in HCPCS_STATUSES),
            "hcpcs=missing",
            "in_policy_table",
            *one_hot_names("policy_group", self.policy_groups_),
            *facts.POLICY_BOOL_FLAGS,
            "unit_limit",
            "units_over_limit",
            "unit_limit_exceeded",
            "useful_lifetime_years",
            *one_hot_names("place_of_service", self.places_),
        ]

    def _transform(self, X):
        hcpcs = self._col(X, "hcpcs_code", "string")
        status = facts.hcpcs_status(hcpcs, self._col(X, "service_date", "datetime64[ns]"))
        status_cols = [status == s for s in HCPCS_STATUSES] + [pd.isna(status)]
        pol = facts.policy_for_rows(hcpcs)
        group = pol["policy_group"].astype("string")
        flags = facts.policy_flags(pol)
        flag_cols = [np.where(np.isnan(flags[c]), -1.0, flags[c]) for c in facts.POLICY_BOOL_FLAGS]
        units = to_float(self._col(X, "units", "Int64"))
        units = np.where(np.isnan(units), 1.0, units)
        limit = to_float(pol["unit_limit"]) if "unit_limit" in pol else np.full(len(X), np.nan)
        over = np.where(np.isnan(limit), 0.0, np.maximum(units - np.nan_to_num(limit, nan=0.0), 0.0))
        life = (
            to_float(pol["useful_lifetime_years"])
            if "useful_lifetime_years" in pol
            else np.full(len(X), np.nan)
        )
        return stack(
            [
                *status_cols,
                group.notna().to_numpy(dtype=bool),
                one_hot(group, self.policy_groups_),
                *flag_cols,
                limit,
                over,
                (over > 0),
                life,
                one_hot(self._col(X, "place_of_service", "string"), self.places_),
            ],
            len(X),
        )
