"""Feature engineering: scikit-learn transformers over the normalised claims frame.

One transformer per idea (modifiers, diagnosis, code, documentation, the record, payer,
timing, history, amount, extra columns: `GROUP_TRANSFORMERS` lists them once);
`build_feature_pipeline` composes them. See pipeline.py for the leakage rules
(out-of-fold / expanding-window target statistics; outcomes and identifiers are never read).
"""

from .amount import AmountFeatures
from .code import CodeFeatures
from .diagnosis import DiagnosisFeatures
from .documentation import DocumentationFeatures
from .extra import ExtraColumns
from .history import HistoryFeatures
from .modifiers import ModifierFeatures
from .payer import PayerFeatures
from .pipeline import (
    FEATURE_GROUPS,
    GROUP_TRANSFORMERS,
    build_feature_pipeline,
    check_columns_allowed,
    feature_groups,
    group_of,
    input_columns,
)
from .record import RecordFeatures
from .timing import TimingFeatures

__all__ = [
    "AmountFeatures",
    "CodeFeatures",
    "DiagnosisFeatures",
    "DocumentationFeatures",
    "ExtraColumns",
    "FEATURE_GROUPS",
    "GROUP_TRANSFORMERS",
    "HistoryFeatures",
    "ModifierFeatures",
    "PayerFeatures",
    "RecordFeatures",
    "TimingFeatures",
    "build_feature_pipeline",
    "check_columns_allowed",
    "feature_groups",
    "group_of",
    "input_columns",
]
