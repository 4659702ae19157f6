"""The fitted denial model as one object: features, classifier, calibrator, reasons, fix effects.

The pieces are kept apart (not one opaque Pipeline) because the worklist computes
features once and reads the model's group attributions on the feature matrix, because
reasons need the feature groups, and because a fix's effect is not the classifier's
business: it is learned per payer cell from the remittances (`modeling.effects`).
The scoring engines add the contract's columns from it (`scoring.explain`, `scoring.score`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.modeling.config import DEFAULT_TIERS

log = logging.getLogger(__name__)

EXTRA_KEYS = ("extra_boolean", "extra_numeric", "extra_categorical")  # `info` keys naming --config columns


@dataclass
class DenialModel:
    features: object  # fitted transformer: normalised frame -> numeric matrix
    classifier: object  # calibrated classifier on the feature matrix (predict_proba)
    reason_model: object | None  # multiclass CARC classifier on the feature matrix, or None
    feature_names: list[str]
    feature_groups: dict[str, list[int]]
    typical_values: np.ndarray  # per-feature "typical" value (training median) for attributions
    tiers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    info: dict = field(default_factory=dict)  # training window, fingerprint, chosen model, drift profile
    fix_effects: object = None  # modeling.effects.FixEffects learned from the training remits, or None

    # --- features and probabilities ---

    @property
    def matrix_dtype(self):
        """The feature matrix's dtype: float32 for a model trained on float32 features, else float64."""
        return np.float32 if self.info.get("matrix_dtype") == "float32" else np.float64

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        from denial_risk.modeling.predictor import feature_matrix

        return feature_matrix(self, self._with_extra_columns(frame), self.matrix_dtype)

    def _with_extra_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A configured extra column the lines lack is all missing, as an absent optional column is."""
        extras = [c for k in EXTRA_KEYS for c in self.info.get(k, ())]
        absent = [c for c in extras if c not in frame.columns]
        if not absent:
            return frame
        log.warning(f"column(s) {absent} the model was trained with are absent; scored as unknown")
        return frame.assign(**{c: pd.Series(pd.NA, index=frame.index, dtype="string") for c in absent})

    def proba_from_matrix(self, X: np.ndarray) -> np.ndarray:
        fast = self._paths().classifier
        if fast is not None:
            return fast.proba(fast.bin(X))
        # float64 arithmetic: a float32 dot product's rounding depends on the batch (BLAS blocking),
        # and a line must get the same risk alone or in a file
        return self.classifier.predict_proba(np.asarray(X, dtype=np.float64))[:, 1]

    def binned(self, X: np.ndarray) -> np.ndarray | None:
        """The classifier's bins of `X` (for rescoring many edits of the same rows), or None."""
        fast = self._paths().classifier
        return None if fast is None else fast.bin(X)

    def binned_columns(self) -> np.ndarray:
        """Which matrix columns `binned` keeps (boolean mask)."""
        return self._paths().classifier.trees.keep

    def proba_from_binned(self, B: np.ndarray) -> np.ndarray:
        """`proba_from_matrix` of the rows whose bins `binned` gave."""
        return self._paths().classifier.proba(B)

    def _paths(self):
        from denial_risk.modeling.predictor import for_model

        return for_model(self)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The line's risk: the classifier's, raised where a certain rule binds that the training
        remits held too few lines of (`modeling.rule_risk`)."""
        return self.rule_risk(frame).p

    def rule_risk(self, frame: pd.DataFrame, X: np.ndarray | None = None, facts=None):
        """`modeling.rule_risk.RuleRisk` of normalised rows (`X`: their feature matrix, when built)."""
        from denial_risk.modeling.rule_risk import rule_risk

        p = self.proba_from_matrix(self.transform(frame) if X is None else X)
        return rule_risk(self.info, frame, p, facts)

    def tier(self, p: np.ndarray) -> np.ndarray:
        return np.where(p >= self.tiers["high"], "high", np.where(p >= self.tiers["medium"], "medium", "low"))

    # --- predicted denial reasons (CARC) ---

    def top_carcs(self, X: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
        """The k most likely CARCs for each row, given that the line is denied."""
        if self.reason_model is None or len(X) == 0:
            return [[] for _ in range(len(X))]
        proba = self.reason_proba(X)
        classes = np.asarray(self.reason_model.classes_).astype(str)
        top = np.argsort(-proba, axis=1)[:, :k]
        return [[(classes[j], float(proba[i, j])) for j in row] for i, row in enumerate(top)]

    def reason_proba(self, X: np.ndarray) -> np.ndarray:
        """P(CARC | denied) per row and class (`reason_model.classes_`); needs a reason model."""
        fast = self._paths().reason
        if fast is not None:
            return fast.predict(X)
        # float64, as `proba_from_matrix`: a float32 product's rounding would depend on the batch
        return self.reason_model.predict_proba(np.asarray(X, dtype=np.float64))


def feature_frame_columns() -> list[str]:
    """Columns a caller must provide (the contract's inputs, never outcomes)."""
    return [c for c in (*schema.REQUIRED, *schema.OPTIONAL) if c not in schema.OUTCOME_COLUMNS]
