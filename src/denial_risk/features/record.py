"""Record features: eligibility, the ordering practitioner, and the order's and the visit's dates.

These are the causes a DME biller checks first (docs/domain.md): a patient not eligible
on the date (CO-31/CO-27), an ordering NPI that cannot be valid (CO-16 with N265/N290),
an order signed after delivery or a face-to-face visit missing where Medicare's Required
Face-to-Face and Written Order Prior to Delivery list binds the code on the date of
service (`contract.rules`). Every column is optional in the contract; unknown is its own
state, never "no".
"""

from __future__ import annotations

import numpy as np

from denial_risk.contract import facts

from ._base import ColumnFeatures, bool_float, stack, tristate

F2F_WINDOW_DAYS = 183  # the visit must be within the 6 months before the order (42 CFR 410.38(d))


def _days(s) -> np.ndarray:
    d = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    out = d.astype(np.int64).astype(np.float64)
    out[np.isnat(d)] = np.nan
    return out


class RecordFeatures(ColumnFeatures):
    """Outputs: `eligibility_verified_{yes,no,unknown}`; `ordering_npi_{valid,invalid,unknown}`
    (a 10-digit NPI whose Luhn check digit holds); `order_after_service` (the order is dated
    after the date of service), `order_date_unknown`; `f2f_wopd_code` (Medicare's
    face-to-face/WOPD list binds the code on the date of service), `f2f_unknown_on_list`,
    `f2f_outside_window` (the visit is not in the 6 months before the order, or the date
    of service when the order date is unknown), `order_after_service_on_list`.
    """

    group = "record"
    input_columns = (
        "eligibility_verified",
        "ordering_npi",
        "order_date",
        "face_to_face_date",
        "service_date",
        "hcpcs_code",
    )

    def _fit(self, X, y):
        self.names_out_ = [
            "eligibility_verified_yes",
            "eligibility_verified_no",
            "eligibility_verified_unknown",
            "ordering_npi_valid",
            "ordering_npi_invalid",
            "ordering_npi_unknown",
            "order_after_service",
            "order_date_unknown",
            "f2f_wopd_code",
            "f2f_unknown_on_list",
            "f2f_outside_window",
            "order_after_service_on_list",
        ]

    def _transform(self, X):
        n = len(X)
        elig = bool_float(self._col(X, "eligibility_verified", "boolean"))
        npi = facts.npi_valid(self._col(X, "ordering_npi", "string"))
        service = self._col(X, "service_date", "datetime64[ns]")
        svc = _days(service)
        order = _days(self._col(X, "order_date", "datetime64[ns]"))
        f2f = _days(self._col(X, "face_to_face_date", "datetime64[ns]"))
        wopd = facts.dated_rules(self._col(X, "hcpcs_code", "string"), service, None)["face_to_face_wopd"]
        late = order > svc
        ref = np.where(np.isnan(order), svc, order)
        gap = ref - f2f
        outside = (gap < 0) | (gap > F2F_WINDOW_DAYS)  # NaN compares False: unknown is not outside
        return stack(
            [
                tristate(elig),
                npi == 1.0,
                npi == 0.0,
                np.isnan(npi),
                late,
                np.isnan(order),
                wopd,
                wopd & np.isnan(f2f),
                outside,
                wopd & late,
            ],
            n,
        )
