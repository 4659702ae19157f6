"""The feature transformers: sklearn API conformance and what each feature means.

Frames are built by hand with the normalised dtypes (denial_risk.features.examples), so the
suite needs neither the simulator nor normalize; reference data and the policy table are the
repository's own.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)
from threadpoolctl import threadpool_limits

from denial_risk.contract import schema
from denial_risk.features import (
    FEATURE_GROUPS,
    AmountFeatures,
    CodeFeatures,
    DiagnosisFeatures,
    DocumentationFeatures,
    ExtraColumns,
    HistoryFeatures,
    ModifierFeatures,
    PayerFeatures,
    TimingFeatures,
    build_feature_pipeline,
    feature_groups,
)
from denial_risk.testing import lines, make_frame

ALL = [
    ModifierFeatures,
    DiagnosisFeatures,
    CodeFeatures,
    DocumentationFeatures,
    PayerFeatures,
    TimingFeatures,
    HistoryFeatures,
    AmountFeatures,
]
TARGET = [DiagnosisFeatures, DocumentationFeatures, PayerFeatures, HistoryFeatures]


def _extra():
    return ExtraColumns(extra_boolean=["flag_x"], extra_numeric=["score_x"], extra_categorical=["region_x"])


FACTORIES = [*ALL, _extra]


def _ids(f):
    return getattr(f, "__name__", "ExtraColumns").lstrip("_")


@pytest.fixture(scope="module")
def frame():
    df = make_frame(600, seed=1)
    rng = np.random.default_rng(5)
    df["flag_x"] = pd.array(rng.choice(["yes", "no", "", "Y"], size=len(df)), dtype="string")
    df["score_x"] = rng.normal(size=len(df))
    df["region_x"] = pd.array(rng.choice(["north", "south", None], size=len(df)), dtype="string")
    return df


@pytest.fixture(scope="module")
def y(frame):
    return frame["denied"].to_numpy(dtype=bool)


def _X(frame):
    return frame.drop(columns=list(schema.OUTCOME_COLUMNS))


def _col(t, out, name):
    names = list(t.get_feature_names_out())
    return np.asarray(out)[:, names.index(name)]


# ------------------------------------------------------------------ sklearn API conformance


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_sklearn_parameter_conventions(factory):
    est = factory()
    name = type(est).__name__
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)
    check_parameters_default_constructible(name, est)
    params = est.get_params()
    c = clone(est)
    assert c.get_params() == params and c is not est
    assert clone(est).set_params(**params).get_params() == params


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_fit_returns_self_and_leaves_the_parameters_unchanged(factory, frame, y):
    """sklearn's check_estimators_fit_returns_self / check_dont_overwrite_parameters, on claim frames."""
    est = factory()
    before = {k: copy.deepcopy(v) for k, v in est.get_params(deep=False).items()}
    assert est.fit(_X(frame), y) is est
    after = est.get_params(deep=False)
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert after[k] == v and type(after[k]) is type(v), k
    assert not [k for k in vars(est) if not k.endswith("_") and k not in before and not k.startswith("_")]


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_not_fitted_error_before_fit(factory, frame):
    est = factory()
    with pytest.raises(NotFittedError):
        est.transform(_X(frame))
    with pytest.raises(NotFittedError):
        est.get_feature_names_out()


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_output_float64_named_and_pandas(factory, frame, y):
    X = _X(frame)
    est = factory().fit(X, y)
    out = est.transform(X)
    names = list(est.get_feature_names_out())
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    assert out.shape == (len(X), len(names)) and len(set(names)) == len(names)
    assert not np.isinf(out).any()
    est.set_output(transform="pandas")
    df = est.transform(X)
    assert list(df.columns) == names and df.index.equals(X.index)
    assert (df.dtypes == np.float64).all()
    fitted_again = factory().set_output(transform="pandas").fit_transform(X, y)
    assert list(fitted_again.columns) == names


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_fit_leaves_input_untouched_and_is_deterministic(factory, frame, y):
    X = _X(frame)
    before = X.copy()
    a = factory().fit(X, y).transform(X)
    b = factory().fit(X, y).transform(X)
    pd.testing.assert_frame_equal(X, before)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_pickle_round_trip(factory, frame, y):
    X = _X(frame)
    est = factory().fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(est.transform(X.iloc[:50]), again.transform(X.iloc[:50]))


@pytest.mark.parametrize("factory", FACTORIES, ids=_ids)
def test_row_order_and_chunking_do_not_matter_at_scoring(factory, frame, y):
    """Scoring runs in chunks: a line's features depend on the line, not its neighbours."""
    X = _X(frame)
    est = factory().fit(X, y)
    full = est.transform(X)
    perm = np.random.default_rng(0).permutation(len(X))
    shuffled = est.transform(X.iloc[perm])
    np.testing.assert_array_equal(full[perm], shuffled)
    np.testing.assert_array_equal(full[:7], est.transform(X.iloc[:7]))


@pytest.mark.parametrize("cls", TARGET, ids=lambda c: c.__name__)
def test_target_transformers_need_y(cls, frame):
    with pytest.raises(ValueError, match="needs y"):
        cls().fit(_X(frame))
    with pytest.raises(ValueError, match="missing labels"):
        cls().fit(_X(frame), pd.array([True, None] * (len(frame) // 2), dtype="boolean"))


def test_reads_only_declared_columns(frame, y):
    """Each transformer works on a frame holding only its declared input columns."""
    X = _X(frame)
    for cls in ALL:
        est = cls()
        cols = list(est.get_input_columns())
        np.testing.assert_array_equal(est.fit(X, y).transform(X), cls().fit(X[cols], y).transform(X[cols]))


def test_handles_empty_and_all_missing_frames(frame, y):
    X = _X(frame)
    for cls in ALL:
        est = cls().fit(X, y)
        assert est.transform(X.iloc[:0]).shape == (0, len(est.get_feature_names_out()))
    blank = X.iloc[:3].copy()
    for c in ("modifiers", "diagnosis_codes", "payer_type", "payer_id", "provider_id"):
        blank[c] = pd.array([pd.NA] * 3, dtype="string")
    for cls in ALL:
        out = cls().fit(X, y).transform(blank)
        assert out.shape[0] == 3


# ------------------------------------------------------------------ modifiers


def test_modifier_conflicts():
    X = lines(
        dict(hcpcs_code="L1832", modifiers="KX|GA|RT"),  # KX with GA
        dict(hcpcs_code="L1832", modifiers="RT|LT|KX", units=1),  # both sides, one unit
        dict(hcpcs_code="L1832", modifiers="RT|LT|KX", units=2),  # Medicare: two sides are two lines
        dict(hcpcs_code="L1832", modifiers="KX"),  # sided code without a side
        dict(hcpcs_code="L1832", modifiers="RT"),  # Medicare knee without KX
        dict(hcpcs_code="L1832", modifiers="RT", payer_type="commercial"),  # KX rule is Medicare's
        dict(hcpcs_code="L0627", modifiers=""),  # spinal: no side, no KX rule
        dict(hcpcs_code="L0627", modifiers="99|NU"),  # 99 with too few others
        dict(hcpcs_code="L0627", modifiers="ZZ|NU"),  # an unknown modifier
        dict(hcpcs_code="L1832", modifiers="RT", payer_type=None),
        dict(hcpcs_code="L1832", modifiers="GA|RT|NU"),  # GA: KX must be absent
    )
    t = ModifierFeatures().fit(X)
    out = t.transform(X)

    def col(name):
        return _col(t, out, name).tolist()

    assert col("kx_with_ga_gy_gz") == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert col("rt_and_lt_one_unit") == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert col("rt_lt_one_line_rule") == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert col("missing_side") == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert col("missing_kx") == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert col("missing_kx_payer_unknown") == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert col("mod99_few") == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]
    assert col("n_unknown") == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert col("n_modifiers") == [3, 3, 3, 1, 1, 1, 0, 2, 2, 1, 3]
    assert col("mod_KX") == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert col("no_purchase_rental_modifier") == [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0]


@pytest.mark.parametrize(
    ("code", "date", "feature", "expected"),
    [
        ("L0637", "2024-08-12", "documentation__medicare_pa_program", 1),  # on the list from 2024-08-12
        ("L0637", "2024-08-11", "documentation__medicare_pa_program", 0),
        ("L1833", "2024-08-11", "documentation__medicare_pa_program", 1),  # off the list from 2024-08-12
        ("L1833", "2024-08-12", "documentation__medicare_pa_program", 0),
        ("L0651", "2026-04-13", "documentation__medicare_pa_program", 1),
        ("L0651", "2026-04-12", "documentation__medicare_pa_program", 0),
        ("L1832", "2019-03-01", "modifiers__rt_lt_one_line_rule", 1),  # RT and LT on separate lines
        ("L1832", "2019-02-28", "modifiers__rt_lt_one_line_rule", 0),
        ("L1932", "2023-04-17", "record__f2f_wopd_code", 1),  # F2F/WOPD list addition
        ("L1932", "2023-04-16", "record__f2f_wopd_code", 0),
    ],
)
def test_features_follow_the_rule_in_force_on_the_date_of_service(frame, y, code, date, feature, expected):
    from denial_risk.features.pipeline import build_feature_pipeline

    X = lines(
        dict(
            hcpcs_code=code,
            modifiers="RT|LT|KX",
            service_date=date,
            submission_date=date,
            has_prior_auth=False,
        )
    )
    fp = build_feature_pipeline().fit(_X(frame), y)
    out = fp.transform(X)
    assert out[feature].iloc[0] == expected


def test_cg_and_ra_modifiers():
    X = lines(
        dict(hcpcs_code="L0450", modifiers="NU"),  # Medicare wants CG on this garment (Noridian)
        dict(hcpcs_code="L0450", modifiers="CG|NU"),
        dict(hcpcs_code="L0450", modifiers="NU", payer_type="commercial"),
        dict(hcpcs_code="L1832", modifiers="RA|RT|KX"),
    )
    t = ModifierFeatures().fit(X)
    out = t.transform(X)
    assert _col(t, out, "missing_cg").tolist() == [1, 0, 0, 0]
    assert _col(t, out, "mod_RA").tolist() == [0, 0, 0, 1]


def test_record_features_unknown_is_its_own_state():
    from denial_risk.features.record import RecordFeatures

    X = lines(
        dict(hcpcs_code="L1832", service_date="2025-05-01"),  # nothing recorded
        dict(
            hcpcs_code="L1832",
            service_date="2025-05-01",
            eligibility_verified=False,
            ordering_npi="1234567893",
            order_date="2025-04-20",
            face_to_face_date="2025-03-01",
        ),
        dict(
            hcpcs_code="L1832",
            service_date="2025-05-01",
            eligibility_verified=True,
            ordering_npi="1234567890",
            order_date="2025-05-09",
            face_to_face_date="2024-06-01",
        ),
        dict(hcpcs_code="L0627", service_date="2025-05-01"),  # not on the F2F/WOPD list
    )
    t = RecordFeatures().fit(X)
    out = t.transform(X)

    def col(name):
        return _col(t, out, name).tolist()

    assert col("eligibility_verified_unknown") == [1, 0, 0, 1]
    assert col("eligibility_verified_no") == [0, 1, 0, 0]
    assert col("ordering_npi_valid") == [0, 1, 0, 0]  # 1234567893: the CMS example NPI
    assert col("ordering_npi_invalid") == [0, 0, 1, 0]
    assert col("ordering_npi_unknown") == [1, 0, 0, 1]
    assert col("order_after_service") == [0, 0, 1, 0]
    assert col("f2f_wopd_code") == [1, 1, 1, 0]
    assert col("f2f_unknown_on_list") == [1, 0, 0, 0]
    assert col("f2f_outside_window") == [0, 0, 1, 0]  # a visit 11 months before the order


def test_modifier_onehot_list_is_a_parameter():
    X = lines(dict(modifiers="KX|RT"), dict(modifiers="59"))
    t = ModifierFeatures(modifiers=["59"]).fit(X)
    names = list(t.get_feature_names_out())
    assert [n for n in names if n.startswith("mod_")] == ["mod_59"]
    assert _col(t, t.transform(X), "n_other_known").tolist() == [2, 0]


# ------------------------------------------------------------------ diagnosis


def test_diagnosis_validity_and_support(frame, y):
    X = lines(
        dict(hcpcs_code="L0627", diagnosis_codes="M5450"),  # valid, billable, supports spine
        dict(hcpcs_code="L0627", diagnosis_codes="M48X|M5450"),  # invalid primary, 2nd supports
        dict(hcpcs_code="L1832", diagnosis_codes="M5450"),  # back pain on a knee brace
        dict(hcpcs_code="L0627", diagnosis_codes=""),  # no diagnosis
        dict(hcpcs_code="E1399", diagnosis_codes="M4806"),  # no policy: support unknown
    )
    t = DiagnosisFeatures().fit(_X(frame), y)
    out = t.transform(X)

    def col(name):
        return _col(t, out, name)

    np.testing.assert_array_equal(col("primary_valid"), [1, 0, 1, np.nan, 1])
    np.testing.assert_array_equal(col("primary_billable"), [1, 0, 1, np.nan, 0])
    assert col("any_invalid").tolist() == [0, 1, 0, 0, 0]
    assert col("dx_count").tolist() == [1, 2, 1, 0, 1]
    assert col("no_diagnosis").tolist() == [0, 0, 0, 1, 0]
    # support is a prefix rule (M48 supports a spinal orthosis); validity is a separate feature
    assert col("primary_supports_yes").tolist() == [1, 1, 0, 0, 0]
    assert col("primary_supports_no").tolist() == [0, 0, 1, 1, 0]  # no diagnosis supports nothing
    assert col("any_supports_yes").tolist() == [1, 1, 0, 0, 0]
    assert col("primary_supports_unknown").tolist() == [0, 0, 0, 0, 1]
    assert col("chapter=13").tolist() == [1, 0, 1, 0, 1]
    assert col("chapter=missing").tolist() == [0, 1, 0, 1, 0]
    assert ((col("support_rate") > 0) & (col("support_rate") < 1)).all()


def test_diagnosis_top_k_categories_are_learned_in_fit(frame, y):
    t = DiagnosisFeatures(max_blocks=1).fit(_X(frame), y)
    blocks = [n for n in t.get_feature_names_out() if n.startswith("block=")]
    assert len(blocks) == 3  # the most frequent one, other, missing
    out = t.transform(lines(dict(diagnosis_codes="G4733")))
    assert _col(t, out, "block=other")[0] == 1 or _col(t, out, blocks[0])[0] == 1


def test_support_rate_is_smoothed_toward_the_prior():
    """A rare (group, category) with all lines denied is pulled toward the overall rate."""
    X = pd.concat(
        [lines(dict(hcpcs_code="L0627", diagnosis_codes="M5450"))] * 200
        + [lines(dict(hcpcs_code="L1832", diagnosis_codes="M1711"))] * 2,
        ignore_index=True,
    )
    y = np.r_[np.zeros(150), np.ones(50), np.ones(2)]
    t = DiagnosisFeatures(smoothing=20).fit(X, y)
    rate = _col(t, t.transform(X.iloc[[0, 200]]), "support_rate")
    prior = y.mean()
    assert abs(rate[0] - 0.25) < 0.02
    assert prior < rate[1] < 0.5  # 2/2 denied, but only 2 lines: near the prior, not 1.0


# ------------------------------------------------------------------ code


def test_code_status_policy_and_units(frame, y):
    X = lines(
        dict(hcpcs_code="L0627", units=1),
        dict(hcpcs_code="L0627", units=3),  # spinal unit limit 1
        dict(hcpcs_code="L0620"),  # never in HCPCS Level II, inside the spinal policy's range
        dict(hcpcs_code="97760"),  # CPT
        dict(hcpcs_code="L1832", units=2),  # knee limit 1 a line (two sides: two lines)
        dict(hcpcs_code="L0452", place_of_service="21"),  # custom fabricated; inpatient
    )
    t = CodeFeatures().fit(_X(frame))
    out = t.transform(X)

    def col(name):
        return _col(t, out, name).tolist()

    assert col("hcpcs=valid") == [1, 1, 0, 0, 1, 1]
    assert col("hcpcs=invalid") == [0, 0, 1, 0, 0, 0]
    assert col("hcpcs=cpt") == [0, 0, 0, 1, 0, 0]
    assert col("in_policy_table") == [1, 1, 1, 0, 1, 1]
    assert col("policy_group=spinal_orthosis") == [1, 1, 1, 0, 0, 1]
    assert col("policy_group=missing") == [0, 0, 0, 1, 0, 0]
    assert col("sided") == [0, 0, 0, -1, 1, 0]
    assert col("custom_fabricated") == [0, 0, -1, -1, 0, 1]  # not in the file: fabrication unknown
    assert col("units_over_limit") == [0, 2, 0, 0, 1, 0]
    assert col("unit_limit_exceeded") == [0, 1, 0, 0, 1, 0]
    assert col("place_of_service=12") == [1, 1, 1, 1, 1, 0]
    assert col("place_of_service=other") == [0, 0, 0, 0, 0, 1]  # 21 not seen in fit


# ------------------------------------------------------------------ documentation


def test_documentation_states_and_expected_documents(frame, y):
    docs_all = {f: True for f in schema.BOOLEAN_FLAGS}
    X = lines(
        dict(hcpcs_code="L0627", **docs_all),
        dict(hcpcs_code="L0627", **{**docs_all, "has_prescription": False, "has_progress_notes": None}),
        dict(hcpcs_code="L0452", **{**docs_all, "has_measurements": False}),  # custom fabricated
        dict(hcpcs_code="L0452", **{**docs_all, "has_measurements": None}),
        dict(hcpcs_code="L0627", **{**docs_all, "has_prior_auth": False}),
    )
    t = DocumentationFeatures().fit(_X(frame), y)
    out = t.transform(X)

    def col(name):
        return _col(t, out, name)

    assert col("has_prescription_no").tolist() == [0, 1, 0, 0, 0]
    assert col("has_progress_notes_unknown").tolist() == [0, 1, 0, 0, 0]
    assert col("has_progress_notes_yes").tolist() == [1, 0, 1, 1, 1]
    assert col("n_expected_docs").tolist() == [4, 4, 5, 5, 4]
    assert col("expected_missing").tolist() == [0, 1, 1, 0, 0]
    assert col("expected_unknown").tolist() == [0, 1, 0, 1, 0]
    assert col("measurements_missing_custom").tolist() == [0, 0, 1, 0, 0]
    assert col("measurements_unknown_custom").tolist() == [0, 0, 0, 1, 0]
    assert col("prior_auth_absent").tolist() == [0, 0, 0, 0, 1]
    x_rate = col("pa_absent_x_rate")
    assert x_rate[0] == 0 and x_rate[4] == col("pa_absent_denial_rate")[4] > 0


def test_prior_auth_rate_learns_the_payer_that_denies_it():
    """Payer COM1 denies every line without prior auth; COM2 never does."""
    base = [dict(payer_type="commercial", payer_id=p, has_prior_auth=False) for p in ("COM1", "COM2")]
    X = pd.concat([lines(*base)] * 100, ignore_index=True)
    y = np.tile([1.0, 0.0], 100)
    t = DocumentationFeatures().fit(X, y)
    rate = _col(t, t.transform(X.iloc[:2]), "pa_absent_denial_rate")
    assert rate[0] > 0.8 and rate[1] < 0.2
    unseen = _col(
        t, t.transform(lines(dict(payer_type="commercial", payer_id="COM9"))), "pa_absent_denial_rate"
    )
    assert abs(unseen[0] - 0.5) < 0.05  # an unseen payer id gets its payer type's rate


# ------------------------------------------------------------------ payer


def test_payer_onehot_and_rate(frame, y):
    X = _X(frame)
    t = PayerFeatures(min_count=1).fit(X, y)
    out = t.transform(
        lines(
            dict(payer_type="medicaid", payer_id="MCD1"),
            dict(payer_type=None, payer_id=None),
            dict(payer_type="commercial", payer_id="NEW"),
        )
    )
    assert _col(t, out, "payer_type=medicaid").tolist() == [1, 0, 0]
    assert _col(t, out, "payer_type=missing").tolist() == [0, 1, 0]
    assert _col(t, out, "payer_id=MCD1").tolist() == [1, 0, 0]
    assert _col(t, out, "payer_id=other").tolist() == [0, 0, 1]
    assert _col(t, out, "payer_id=missing").tolist() == [0, 1, 0]
    assert np.isfinite(_col(t, out, "payer_denial_rate")).all()
    assert PayerFeatures(max_payers=2, min_count=1).fit(X, y).get_feature_names_out().size == 5 + 1 + 4 + 1


# ------------------------------------------------------------------ timing


def test_timing_lag_limits_and_season():
    X = lines(
        dict(payer_type="commercial", service_date="2024-01-01", submission_date="2024-04-10"),  # 100 d > 90
        dict(payer_type="medicare", service_date="2024-01-01", submission_date="2024-04-10"),  # < 365
        dict(payer_type="medicare", service_date="2024-07-03", submission_date=None),  # unknown
    )
    t = TimingFeatures().fit(X)
    out = t.transform(X)
    np.testing.assert_array_equal(_col(t, out, "filing_lag_days"), [100, 100, np.nan])
    np.testing.assert_array_equal(_col(t, out, "filing_limit_days"), [90, 365, 365])
    np.testing.assert_array_equal(_col(t, out, "over_limit"), [1, 0, np.nan])
    assert _col(t, out, "service_month").tolist() == [1, 1, 7]
    assert _col(t, out, "service_quarter").tolist() == [1, 1, 3]
    assert _col(t, out, "service_dow").tolist() == [0, 0, 2]  # Monday, Monday, Wednesday


def test_timing_learns_a_longer_limit_from_paid_lines():
    """COM1 pays lines filed 150 days late: its limit is not the configured 90 days."""
    X = pd.concat(
        [
            lines(
                dict(
                    payer_type="commercial",
                    payer_id="COM1",
                    service_date="2024-01-01",
                    submission_date="2024-05-30",
                )
            )
        ]
        * 30,
        ignore_index=True,
    )
    y = np.zeros(len(X))
    learned = TimingFeatures(min_paid_lines=20).fit(X, y)
    configured = TimingFeatures(learn_limits=False).fit(X, y)
    assert _col(learned, learned.transform(X.iloc[:1]), "filing_limit_days")[0] == 150
    assert _col(learned, learned.transform(X.iloc[:1]), "limit_learned")[0] == 1
    assert _col(configured, configured.transform(X.iloc[:1]), "filing_limit_days")[0] == 90
    other = lines(
        dict(
            payer_type="commercial", payer_id="COM2", service_date="2024-01-01", submission_date="2024-05-30"
        )
    )
    assert _col(learned, learned.transform(other), "over_limit")[0] == 1  # COM2 keeps 90 days


# ------------------------------------------------------------------ history


def test_history_replacement_and_unknowns(frame, y):
    t = HistoryFeatures().fit(_X(frame), y)
    X = lines(
        dict(hcpcs_code="L0627", prior_same_code_12m=1),
        dict(hcpcs_code="A7035", prior_same_code_12m=1),
        dict(hcpcs_code="L0627", prior_same_code_12m=None),
        dict(provider_id=None),
    )
    out = t.transform(X)
    np.testing.assert_array_equal(_col(t, out, "replacement_in_lifetime"), [1, 0, np.nan, 0])
    np.testing.assert_array_equal(_col(t, out, "prior_same_code_12m"), [1, 1, np.nan, 0])
    assert _col(t, out, "provider_denial_rate")[3] == pytest.approx(y.mean())  # unknown provider → prior
    assert _col(t, out, "provider_lines_log")[3] == 0


def test_history_rates_at_scoring_are_the_end_of_fit_rates():
    X = pd.concat(
        [
            lines(dict(provider_id="A", service_date="2024-01-01")),
            lines(dict(provider_id="B", service_date="2024-01-02")),
        ]
        * 50,
        ignore_index=True,
    )
    y = np.tile([1.0, 0.0], 50)
    t = HistoryFeatures(smoothing=10).fit(X, y)
    rate = _col(t, t.transform(X.iloc[:2]), "provider_denial_rate")
    assert rate[0] == pytest.approx((50 + 10 * 0.5) / 60) and rate[1] == pytest.approx((0 + 10 * 0.5) / 60)


# ------------------------------------------------------------------ amount, extra


def test_amount_ratio_to_code_median():
    X = lines(*[dict(hcpcs_code="L0627", billed_amount=a) for a in (100.0, 200.0, 300.0, 400.0, 500.0)])
    t = AmountFeatures(min_count=5).fit(X)
    out = t.transform(
        lines(
            dict(hcpcs_code="L0627", billed_amount=600.0, units=2),
            dict(hcpcs_code="L1832", billed_amount=50.0),
        )
    )
    np.testing.assert_allclose(_col(t, out, "billed_to_code_median"), [2.0, np.nan])
    np.testing.assert_allclose(_col(t, out, "log_billed"), np.log1p([600.0, 50.0]))
    assert _col(t, out, "units").tolist() == [2, 1]


def test_extra_columns(frame, y):
    t = _extra().fit(_X(frame), y)
    X = _X(frame).iloc[:4].copy()
    X["flag_x"] = pd.array(["yes", "NO", None, "maybe"], dtype="string")
    X["score_x"] = [1.5, np.nan, 3.0, -1.0]
    X["region_x"] = pd.array(["north", "west", None, "south"], dtype="string")
    out = t.transform(X)
    assert _col(t, out, "flag_x_yes").tolist() == [1, 0, 0, 0]
    assert _col(t, out, "flag_x_no").tolist() == [0, 1, 0, 0]
    assert _col(t, out, "flag_x_unknown").tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(_col(t, out, "score_x"), [1.5, np.nan, 3.0, -1.0])
    assert _col(t, out, "region_x=other").tolist() == [0, 1, 0, 0]
    assert _col(t, out, "region_x=missing").tolist() == [0, 0, 1, 0]
    with pytest.raises(ValueError, match="never features"):
        ExtraColumns(extra_numeric=["paid_amount"]).fit(_X(frame).assign(paid_amount=1.0), y)
    with pytest.raises(ValueError, match="not in the data"):
        ExtraColumns(extra_numeric=["nope"]).fit(_X(frame), y)


# ------------------------------------------------------------------ pipeline


def test_pipeline_names_groups_and_model(frame, y):
    X = _X(frame)
    fp = build_feature_pipeline(extra_numeric=["score_x"])
    pipe = Pipeline([("features", fp), ("model", HistGradientBoostingClassifier(max_iter=20))])
    with threadpool_limits(1):  # OpenMP threads on a busy machine cost seconds on 600 rows
        pipe.fit(X, y)
    names = list(fp.get_feature_names_out())
    assert len(names) == len(set(names))
    groups = feature_groups(fp)
    assert list(groups) == [*FEATURE_GROUPS, "extra"]
    assert sum(len(v) for v in groups.values()) == len(names)
    assert groups["modifiers"][0] == "modifiers__mod_KX"
    assert "documentation__has_prior_auth_no" in groups["documentation"]
    assert feature_groups(fp, as_indices=True)["extra"] == [names.index("extra__score_x")]
    proba = pipe.predict_proba(X.iloc[:20])[:, 1]
    assert proba.shape == (20,) and ((proba > 0) & (proba < 1)).all()
    out = fp.transform(X.iloc[:5])
    assert list(out.columns) == names and out.index.equals(X.index[:5])  # pandas output by default


@pytest.mark.parametrize(
    "bad",
    [
        dict(extra_numeric=["paid_amount"]),
        dict(extra_boolean=["denied"]),
        dict(extra_categorical=["denial_reason"]),
        dict(extra_numeric=["true_denial_probability"]),
        dict(extra_categorical=["claim_id"]),
        dict(extra_categorical=["patient_id"]),
        dict(extra_numeric=["line_number"]),
    ],
)
def test_pipeline_refuses_outcomes_and_identifiers(bad):
    with pytest.raises(ValueError, match="never features"):
        build_feature_pipeline(**bad)


def test_pipeline_refuses_duplicate_or_contract_extras():
    with pytest.raises(ValueError, match="more than once"):
        build_feature_pipeline(extra_numeric=["a"], extra_categorical=["a"])
    with pytest.raises(ValueError, match="contract columns"):
        build_feature_pipeline(extra_numeric=["units"])


def test_no_transformer_declares_an_outcome_or_identifier():
    fp = build_feature_pipeline(extra_boolean=["flag_x"])
    forbidden = {*schema.OUTCOME_COLUMNS, *schema.IDENTIFIER_COLUMNS}
    for _, trans, cols in fp.transformers:
        assert not forbidden & set(cols)
        assert set(cols) == set(trans.get_input_columns())
