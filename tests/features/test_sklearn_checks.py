"""scikit-learn's own estimator checks on every feature transformer.

The API conventions (cloneable, `__init__` only stores, get/set params,
unfitted errors, mixin order, tags) must pass as they stand. The checks that
feed generic unnamed numeric arrays cannot apply: each transformer reads the
contract's *named* claim columns (`hcpcs_code`, `modifiers`, ...), so they are
declared expected failures with that reason. Their claim-shaped counterparts
(pickling, row-order and subset invariance, idempotent fit, dtype of output,
not-fitted errors) are tested on claim frames in test_features.py.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from denial_risk.features import (
    AmountFeatures,
    CodeFeatures,
    DiagnosisFeatures,
    DocumentationFeatures,
    ExtraColumns,
    HistoryFeatures,
    ModifierFeatures,
    PayerFeatures,
    TimingFeatures,
)

NEEDS_NAMED_CLAIM_COLUMNS = (
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag",
    "check_estimators_dtypes", "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit1d", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes",
)
REASON = "reads the contract's named claim columns; sklearn's generic check feeds unnamed numeric arrays"


def _expected_failures(estimator) -> dict[str, str]:
    return {name: REASON for name in NEEDS_NAMED_CLAIM_COLUMNS}


@parametrize_with_checks(
    [ModifierFeatures(), DiagnosisFeatures(), CodeFeatures(), DocumentationFeatures(), PayerFeatures(),
     TimingFeatures(), HistoryFeatures(), AmountFeatures(), ExtraColumns(extra_numeric=("x",))],
    legacy=False,  # the API checks; the legacy data checks all feed unnamed arrays
    expected_failed_checks=_expected_failures,
    xfail_strict=True,  # a declared failure that starts passing is an error: the list stays exact
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
