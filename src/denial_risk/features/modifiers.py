"""Modifier features: which modifiers are on the line, and the conflicts payers deny (CO-4)."""

from __future__ import annotations

import numpy as np

from denial_risk.contract import facts, schema

from ._base import ColumnFeatures, factorize, gather, to_float

# One indicator each; any other modifier is counted (known / unknown), not one-hot.
DEFAULT_MODIFIERS = (
    "KX",
    "GA",
    "GY",
    "GZ",
    "RT",
    "LT",
    "NU",
    "RR",
    "UE",
    "99",
    "KH",
    "KI",
    "KJ",
    "50",
    "59",
    "CG",
    "GK",
    "GL",
    "KF",
    "KS",
    "EY",
    "BP",
    "BR",
    "BU",
    "RA",
)


class ModifierFeatures(ColumnFeatures):
    """Modifiers one-hot, counts, and rule conflicts.

    Outputs (prefix added by the pipeline): `mod_<M>` for each of `modifiers`;
    `n_modifiers`; `n_other_known` (known to the code sets, not one-hot); `n_unknown`
    (not in HCPCS Level II nor the CPT modifier list); `kx_with_ga_gy_gz`;
    `rt_and_lt_one_unit`; `missing_side` (sided code per the policy table, no RT/LT/50);
    `missing_kx` (Medicare's KX rule binds the code on the date of service (`contract.rules`),
    payer type is Medicare or Medicare Advantage, no KX, and no GA/GY/GZ, which must not
    stand with KX; 0 when the payer type is unknown); `missing_kx_payer_unknown` (the same
    but payer type unknown); `missing_cg` (Medicare's CG rule binds the code, Medicare-like
    payer, no CG); `rt_lt_one_line_rule` (RT and LT on one line where Medicare's separate-lines
    rule binds the code on the date); `mod99_few`
    (99 with fewer than 3 other modifiers); `many_without_99` (more than 4 modifiers, no
    99); `no_purchase_rental_modifier` (none of NU, RR, UE: some payers want one).
    """

    group = "modifiers"
    input_columns = ("modifiers", "hcpcs_code", "payer_type", "units", "service_date")

    def __init__(self, *, modifiers=None):
        self.modifiers = modifiers

    def _fit(self, X, y):
        mods = DEFAULT_MODIFIERS if self.modifiers is None else tuple(self.modifiers)
        self.onehot_modifiers_ = tuple(str(m).upper() for m in mods)
        self.names_out_ = [f"mod_{m}" for m in self.onehot_modifiers_] + [
            "n_modifiers",
            "n_other_known",
            "n_unknown",
            "kx_with_ga_gy_gz",
            "rt_and_lt_one_unit",
            "missing_side",
            "missing_kx",
            "missing_kx_payer_unknown",
            "missing_cg",
            "rt_lt_one_line_rule",
            "mod99_few",
            "many_without_99",
            "no_purchase_rental_modifier",
        ]

    def _transform(self, X):
        n = len(X)
        onehot = self.onehot_modifiers_
        known = facts.known_modifiers()
        codes, uniq = factorize(self._col(X, "modifiers", "string"))
        lists = facts.split_list(uniq)
        k = len(onehot)
        pos = {m: i for i, m in enumerate(onehot)}
        # per unique modifier string: one-hot + [count, other known, unknown, has KX, GA/GY/GZ, RT, LT, 50,
        # 99, NU/RR/UE]
        per = np.zeros((len(lists) + 1, k + 10))
        for i, lst in enumerate(lists):
            s = set(lst)
            for m in s:
                if m in pos:
                    per[i, pos[m]] = 1.0
            per[i, k] = len(s)
            per[i, k + 1] = sum(1 for m in s if m not in pos and m in known)
            per[i, k + 2] = sum(1 for m in s if m not in known)
            per[i, k + 3] = "KX" in s
            per[i, k + 4] = bool(s & {"GA", "GY", "GZ"})
            per[i, k + 5] = "RT" in s
            per[i, k + 6] = "LT" in s
            per[i, k + 7] = "50" in s
            per[i, k + 8] = "99" in s
            per[i, k + 9] = bool(s & {"NU", "RR", "UE"})
        rows = gather(per, codes)  # code -1 = missing modifiers = none (last row of zeros)
        count = rows[:, k]
        kx, gagygz, rt, lt, bil, m99, purchase = (rows[:, k + j] > 0 for j in range(3, 10))
        units = to_float(self._col(X, "units", "Int64"))
        units = np.where(np.isnan(units), 1.0, units)  # contract default: 1 unit

        hcpcs = self._col(X, "hcpcs_code", "string")
        pol = facts.policy_for_rows(hcpcs)
        flags = facts.policy_flags(pol)
        sided = flags["sided"] == 1.0
        dated = facts.dated_rules(hcpcs, self._col(X, "service_date", "datetime64[ns]"), None)
        kx_req = dated["kx_required"]
        mods = facts.modifier_flags(self._col(X, "modifiers", "string"))
        ptype = self._col(X, "payer_type", "string")
        is_medicare = ptype.isin(schema.MEDICARE_TYPES).fillna(False).to_numpy(dtype=bool)
        ptype_unknown = ptype.isna().to_numpy(dtype=bool)

        out = np.empty((n, len(self.names_out_)), order="F")
        out[:, :k] = rows[:, :k]
        out[:, k] = count
        out[:, k + 1] = rows[:, k + 1]
        out[:, k + 2] = rows[:, k + 2]
        out[:, k + 3] = kx & gagygz
        out[:, k + 4] = rt & lt & (units == 1.0)
        out[:, k + 5] = sided & ~(rt | lt | bil)
        out[:, k + 6] = kx_req & is_medicare & ~kx & ~gagygz
        out[:, k + 7] = kx_req & ptype_unknown & ~kx & ~gagygz
        out[:, k + 8] = dated["cg_required"] & is_medicare & ~mods["CG"]
        out[:, k + 9] = dated["rt_lt_separate_lines"] & rt & lt
        out[:, k + 10] = m99 & (count - 1 < 3)
        out[:, k + 11] = (count > 4) & ~m99
        out[:, k + 12] = ~purchase
        return out
