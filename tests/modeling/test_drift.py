"""Population stability index and the training profile stored with the model."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from denial_risk.modeling.drift import (
    MISSING,
    OTHER,
    drift_report,
    drift_warning,
    feature_profile,
    population_stability_index,
)


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 50_000
    return pd.DataFrame(
        {
            "billed_amount": rng.lognormal(6.0, 0.8, n),
            "units": pd.array(rng.choice([1, 1, 1, 2, 3], n), dtype="Int64"),
            "payer_type": pd.Series(
                rng.choice(
                    ["medicare", "medicare_advantage", "medicaid", "commercial"], n, p=[0.4, 0.2, 0.15, 0.25]
                ),
                dtype="string",
            ),
            "has_prior_auth": pd.array(
                rng.choice([True, False, None], n, p=[0.5, 0.3, 0.2]), dtype="boolean"
            ),
            "service_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "hcpcs_code": pd.Series(rng.choice([f"L{i:04d}" for i in range(80)], n), dtype="string"),
        }
    )


def test_identical_distributions_have_zero_psi(training):
    for col in training.columns:
        assert population_stability_index(training[col], training[col]) == pytest.approx(0.0, abs=1e-12)


def test_a_resample_of_the_same_distribution_is_stable(training):
    rng = np.random.default_rng(1)
    other = rng.lognormal(6.0, 0.8, 50_000)
    assert population_stability_index(training["billed_amount"], other) < 0.01


def test_shifted_numeric_distribution_drifts(training):
    x = training["billed_amount"].to_numpy()
    assert population_stability_index(x, x * 2.0) > 0.25
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 20_000), rng.normal(1.0, 1, 20_000)
    assert population_stability_index(a, b) > 0.25
    # a small shift stays under the warning threshold
    assert population_stability_index(a, a + 0.05) < 0.1


def test_numeric_bins_are_quantiles_of_the_expected_data(training):
    prof = feature_profile(training, ["billed_amount"], bins=10)["features"]["billed_amount"]
    assert prof["kind"] == "numeric"
    assert len(prof["edges"]) == 9 and len(prof["shares"]) == 10
    assert np.allclose(prof["shares"], 0.1, atol=1e-3)
    assert prof["missing"] == 0.0


def test_low_cardinality_numeric_gets_a_bin_per_value(training):
    prof = feature_profile(training, ["units"])["features"]["units"]
    assert prof["edges"] == [2.0, 3.0]
    assert sum(prof["shares"]) == pytest.approx(1.0)
    units = training["units"]
    # everyone billing 1 unit is a real shift even though the values are all "seen"
    assert population_stability_index(units, pd.Series([1] * 1000, dtype="Int64")) > 0.25


def test_categorical_shares_and_new_categories(training):
    p = training["payer_type"]
    shifted = pd.Series(["commercial"] * 800 + ["medicare"] * 200, dtype="string")
    assert population_stability_index(p, shifted) > 0.25
    # a category never seen in training lands in __other__ (no error, counted as drift)
    new = pd.concat([p.iloc[:7000], pd.Series(["workers_comp"] * 3000, dtype="string")], ignore_index=True)
    assert population_stability_index(p, new) > 0.25
    # plain Python lists and object arrays work too
    assert population_stability_index(["a", "b", "a", "c"], ["a", "b", "a", "c"]) == pytest.approx(0.0)
    assert population_stability_index(["a", "b"] * 100, ["z"] * 200) > 0.25


def test_booleans_are_categorical_and_missing_is_a_bucket(training):
    prof = feature_profile(training, ["has_prior_auth"])["features"]["has_prior_auth"]
    assert prof["kind"] == "categorical"
    assert set(prof["shares"]) == {"True", "False"}
    assert prof["missing"] == pytest.approx(0.2, abs=0.01)
    # the column going empty at scoring time is drift
    empty = pd.Series([pd.NA] * 1000, dtype="boolean")
    assert population_stability_index(training["has_prior_auth"], empty) > 0.25


def test_profile_keeps_top_categories_and_an_other_bucket(training):
    prof = feature_profile(training, ["hcpcs_code"], max_categories=50)["features"]["hcpcs_code"]
    assert len(prof["shares"]) == 50
    assert OTHER not in prof["shares"] and MISSING not in prof["shares"]
    assert prof["other"] > 0
    assert sum(prof["shares"].values()) + prof["other"] + prof["missing"] == pytest.approx(1.0)
    # same data, compared against the truncated profile: still no drift
    report = drift_report(feature_profile(training, ["hcpcs_code"]), training)
    assert report.loc[0, "psi"] == pytest.approx(0.0, abs=1e-12)


def test_profile_round_trips_through_json(training):
    prof = feature_profile(training)
    text = json.dumps(prof, allow_nan=False)  # strict JSON: no NaN / Infinity
    back = json.loads(text)
    assert back == prof
    assert set(back["features"]) == set(training.columns)
    a = drift_report(prof, training.iloc[:5000])
    b = drift_report(back, training.iloc[:5000])
    pd.testing.assert_frame_equal(a, b)


def test_drift_report_against_a_stored_profile(training):
    prof = json.loads(json.dumps(feature_profile(training)))
    same = drift_report(prof, training.sample(frac=0.5, random_state=0))
    assert list(same.columns) == ["feature", "psi", "drifted"]
    assert not same["drifted"].any()
    assert drift_warning(same) is None

    backlog = training.copy()
    backlog["billed_amount"] = backlog["billed_amount"] * 3
    backlog["payer_type"] = pd.Series(["commercial"] * len(backlog), dtype="string")
    backlog["service_date"] = backlog["service_date"] + pd.Timedelta(days=400)
    backlog = backlog.drop(columns=["has_prior_auth"])  # absent: all missing to the model
    rep = drift_report(prof, backlog, threshold=0.25)
    drifted = set(rep.loc[rep["drifted"], "feature"])
    assert drifted == {"billed_amount", "payer_type", "service_date", "has_prior_auth"}
    assert rep["psi"].is_monotonic_decreasing
    msg = drift_warning(rep)
    assert msg is not None and "billed_amount" in msg and "payer_type" in msg and "units" not in msg


def test_profile_of_unknown_column_is_an_error(training):
    with pytest.raises(KeyError, match="nope"):
        feature_profile(training, ["nope"])


def test_all_missing_training_column_profiles_without_nan():
    df = pd.DataFrame({"x": [np.nan] * 10, "s": pd.Series([pd.NA] * 10, dtype="string")})
    prof = feature_profile(df)
    json.dumps(prof, allow_nan=False)
    rep = drift_report(prof, pd.DataFrame({"x": [1.0] * 10, "s": ["a"] * 10}))
    assert rep["drifted"].all()


def test_fast_on_a_million_rows():
    rng = np.random.default_rng(0)
    n = 1_000_000
    df = pd.DataFrame(
        {
            "amount": rng.lognormal(6, 1, n),
            "code": pd.Series(rng.choice([f"L{i:04d}" for i in range(300)], n), dtype="string"),
            "flag": pd.array(rng.choice([True, False], n), dtype="boolean"),
        }
    )
    t0 = time.perf_counter()
    prof = feature_profile(df)
    drift_report(prof, df)
    assert time.perf_counter() - t0 < 5.0


def test_the_time_of_year_is_not_compared_for_drift(denial_model):
    """A backlog dated after the training period differs in month and quarter by construction:
    profiling them would warn on every later backlog (the demo's did)."""
    profiled = set(denial_model.info["drift_profile"]["features"])
    assert "timing__filing_lag_days" in profiled  # the other timing features still are
    assert not profiled & {"timing__service_month", "timing__service_quarter"}
    assert "timing__service_month" in denial_model.feature_names  # still a feature of the model
