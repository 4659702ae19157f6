"""The code features read the line's date of service: `hcpcs=invalid` means invalid on that date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.features import CodeFeatures, build_feature_pipeline
from denial_risk.testing import lines, make_frame


def _fitted() -> CodeFeatures:
    return CodeFeatures().fit(make_frame(300, seed=2).drop(columns=list(schema.OUTCOME_COLUMNS)))


def _cols(t: CodeFeatures, X: pd.DataFrame, *names: str) -> np.ndarray:
    out = t.transform(X)
    all_names = list(t.get_feature_names_out())
    return out[:, [all_names.index(n) for n in names]]


def test_code_features_declare_the_service_date():
    assert "service_date" in CodeFeatures().get_input_columns()
    pipe = build_feature_pipeline()
    code_cols = next(cols for name, _, cols in pipe.transformers if name == "code")
    assert "service_date" in code_cols


def test_a_line_dated_before_the_codes_add_date_is_invalid():
    # L1821 was added to HCPCS Level II on 2024-10-01; E2300 was terminated on 2024-03-31.
    X = lines(
        dict(hcpcs_code="L1821", service_date="2024-09-20"),
        dict(hcpcs_code="L1821", service_date="2024-10-20"),
        dict(hcpcs_code="E2300", service_date="2024-03-20"),
        dict(hcpcs_code="E2300", service_date="2024-04-20"),
    )
    got = _cols(_fitted(), X, "hcpcs=valid", "hcpcs=invalid", "hcpcs=cpt", "hcpcs=missing")
    assert got.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]


def test_only_the_date_differs_and_only_the_status_columns_change():
    before = lines(dict(hcpcs_code="L1821", service_date="2024-09-20"))
    after = before.assign(service_date=pd.Timestamp("2024-10-20"))
    t = _fitted()
    a, b = t.transform(before)[0], t.transform(after)[0]
    names = np.asarray(t.get_feature_names_out())
    assert set(names[a != b]) == {"hcpcs=valid", "hcpcs=invalid"}


def test_without_a_service_date_the_release_set_is_used():
    X = lines(dict(hcpcs_code="L1821"), dict(hcpcs_code="E2300")).assign(service_date=pd.NaT)
    got = _cols(_fitted(), X, "hcpcs=valid", "hcpcs=invalid")
    assert got.tolist() == [[1, 0], [0, 1]]  # both as of the October 2025 file
