"""The feature pipeline: the normalised claims frame → one numeric matrix with stable names.

`build_feature_pipeline()` returns a `ColumnTransformer` with one transformer per feature
group. Each transformer is handed **only the columns it declares** (`get_input_columns()`),
and the remainder is dropped, so an outcome column (`schema.OUTCOME_COLUMNS`) or an
identifier (`claim_id`, `patient_id`, `line_number`) can never reach a feature: building a
pipeline that would read one raises ValueError.

Use it as the first step of `Pipeline([("features", build_feature_pipeline()), ("model",
HistGradientBoostingClassifier())])`: `Pipeline.fit(X, y)` calls `fit_transform(X, y)`,
which gives the target-learned columns **out-of-fold** (diagnosis support rate, payer rate,
prior-auth-absent rate, learned filing limits) or **expanding-window** (history rates), so
training rows never see their own label; `transform` (scoring) uses the tables learned on
all the training rows.

Output names are `<group>__<feature>`; the group is the biller-facing feature group
(`feature_groups(fitted)` lists the names per group, `FEATURE_GROUPS` the input columns
behind each group). Some columns are NaN when unknown (lags, rates on the first training
date, ratios to an unknown code's charge): HistGradientBoosting handles NaN natively; a
linear baseline needs `SimpleImputer(add_indicator=True)` in front.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.compose import ColumnTransformer

from denial_risk.contract import schema

from ._base import FORBIDDEN_COLUMNS, ColumnFeatures
from .amount import AmountFeatures
from .code import CodeFeatures
from .diagnosis import DiagnosisFeatures
from .documentation import DocumentationFeatures
from .extra import ExtraColumns
from .history import HistoryFeatures
from .modifiers import ModifierFeatures
from .payer import PayerFeatures
from .record import RecordFeatures
from .timing import TimingFeatures

GROUP_SEP = "__"

# Biller-facing group → the transformer class that makes it.
GROUP_TRANSFORMERS: dict[str, type[ColumnFeatures]] = {
    "modifiers": ModifierFeatures,
    "diagnosis": DiagnosisFeatures,
    "code": CodeFeatures,
    "documentation": DocumentationFeatures,
    "record": RecordFeatures,
    "payer": PayerFeatures,
    "timing": TimingFeatures,
    "history": HistoryFeatures,
    "amount": AmountFeatures,
}

# Biller-facing group → the normalised-frame columns behind it (what a fix would change).
# Output feature names per group depend on the fit (learned categories): `feature_groups()`.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    group: cls.input_columns for group, cls in GROUP_TRANSFORMERS.items()
}


def check_columns_allowed(columns: Iterable[str], what: str = "feature pipeline") -> None:
    """Raise ValueError if any column is an outcome or an identifier."""
    bad = sorted({str(c) for c in columns} & FORBIDDEN_COLUMNS)
    if bad:
        raise ValueError(
            f"{what} would use {bad} as feature input: outcome columns "
            f"({', '.join(schema.OUTCOME_COLUMNS)}) and identifiers "
            f"({', '.join(schema.IDENTIFIER_COLUMNS)}) are never features"
        )


def build_feature_pipeline(
    *,
    extra_boolean: Iterable[str] = (),
    extra_numeric: Iterable[str] = (),
    extra_categorical: Iterable[str] = (),
    smoothing: float = 20.0,
    cv=5,
    output: str = "pandas",
) -> ColumnTransformer:
    """All feature groups over the normalised frame, as one `ColumnTransformer`.

    `extra_*`: columns beyond the contract named in the `[features]` table of the config
    TOML (group `extra`). `smoothing` (pseudo-lines) and `cv` (int → shuffled KFold with a
    fixed seed, or a splitter) apply to every target-learned column. `output="pandas"`
    (default) returns a DataFrame (columns = feature names, index = the input's);
    `"default"` a numpy array. Raises ValueError if
    any transformer would read an outcome or identifier column, or an extra column is
    named twice or is already a contract column.
    """
    extra_boolean, extra_numeric, extra_categorical = (
        tuple(str(c) for c in extra_boolean),
        tuple(str(c) for c in extra_numeric),
        tuple(str(c) for c in extra_categorical),
    )
    extras = (*extra_boolean, *extra_numeric, *extra_categorical)
    check_columns_allowed(extras, "the [features] configuration")
    dup = sorted({c for c in extras if extras.count(c) > 1})
    if dup:
        raise ValueError(f"[features]: column(s) {dup} named more than once")
    contract = set(schema.REQUIRED) | set(schema.OPTIONAL)
    clash = sorted(set(extras) & contract)
    if clash:
        raise ValueError(
            f"[features]: {clash} are contract columns, already features; name only extra columns"
        )

    shared = {"smoothing": smoothing, "cv": cv}  # each group takes those of its parameters it has
    transformers: list[tuple[str, ColumnFeatures]] = [
        (group, cls(**{k: v for k, v in shared.items() if k in cls._get_param_names()}))
        for group, cls in GROUP_TRANSFORMERS.items()
    ]
    if extras:
        transformers.append(
            (
                "extra",
                ExtraColumns(
                    extra_boolean=extra_boolean,
                    extra_numeric=extra_numeric,
                    extra_categorical=extra_categorical,
                ),
            )
        )
    spec = []
    for name, trans in transformers:
        cols = list(trans.get_input_columns())
        check_columns_allowed(cols, f"feature group {name!r}")
        spec.append((name, trans, cols))
    features = ColumnTransformer(spec, remainder="drop", verbose_feature_names_out=True)
    # pandas output: named columns, the input's index, and column-major blocks that
    # `np.asarray` joins without the strided copy `np.hstack` makes of 200 wide columns.
    return features.set_output(transform="pandas") if output == "pandas" else features


def input_columns(features: ColumnTransformer) -> list[str]:
    """Every normalised-frame column the pipeline reads (for checks and documentation)."""
    cols: list[str] = []
    for _, _, c in features.transformers:
        cols += [x for x in c if x not in cols]
    return cols


def group_of(feature_name: str) -> str:
    """`"modifiers__missing_kx"` → `"modifiers"`."""
    return feature_name.split(GROUP_SEP, 1)[0]


def feature_groups(features, *, as_indices: bool = False) -> dict[str, list]:
    """Group → output feature names (or column positions) of a *fitted* pipeline.

    `features` is the fitted `ColumnTransformer` (or anything with
    `get_feature_names_out()`, or a list of names). Groups appear in pipeline order.
    """
    names = (
        list(features)
        if isinstance(features, list | tuple | np.ndarray)
        else list(features.get_feature_names_out())
    )
    out: dict[str, list] = {}
    for i, n in enumerate(names):
        out.setdefault(group_of(str(n)), []).append(i if as_indices else str(n))
    return out
