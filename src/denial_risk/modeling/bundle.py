"""Saving and loading the fitted model without pickle.

The model travels inside the MLflow model as a skops file. skops refuses to
load any type it does not trust; we name exactly the classes this model needs
(our own classes and HistGradientBoosting's TreePredictor, as the
MLflow/scikit-learn docs advise), never a prefix and never a function (a skops
node may *call* a trusted name with arguments from the file), and refuse to save
a model that would need anything else, rather than trusting everything.
"""

from __future__ import annotations

import json
from pathlib import Path

import skops.io as sio

from denial_risk.modeling.model import DenialModel

BUNDLE_FILE = "denial_model.skops"
TRUSTED_FILE = "trusted_types.json"

# Types outside skops' defaults that a DenialModel legitimately contains.
ALLOWED_EXACT = {
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "builtins.slice",
    "numpy.dtype",
}
# Our own classes a DenialModel is built from (tests/modeling/test_bundle.py checks every
# feature class of the package is here, and that every name is a class).
OWN_TYPES = {
    "denial_risk.modeling.model.DenialModel",
    "denial_risk.features._base.RateTable",
    "denial_risk.features.amount.AmountFeatures",
    "denial_risk.features.code.CodeFeatures",
    "denial_risk.features.diagnosis.DiagnosisFeatures",
    "denial_risk.features.documentation.DocumentationFeatures",
    "denial_risk.features.extra.ExtraColumns",
    "denial_risk.features.history.HistoryFeatures",
    "denial_risk.features.modifiers.ModifierFeatures",
    "denial_risk.features.payer.PayerFeatures",
    "denial_risk.features.timing.TimingFeatures",
    "denial_risk.features.record.RecordFeatures",
    "denial_risk.features.select.InformativeColumns",
    "denial_risk.modeling.effects.FixEffects",
}


def _allowed(name: str) -> bool:
    return name in ALLOWED_EXACT or name in OWN_TYPES


def save_bundle(model: DenialModel, folder: str | Path) -> Path:
    """Write the model and the exact list of types it needs into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / BUNDLE_FILE
    sio.dump(model, path)
    needed = sorted(sio.get_untrusted_types(file=path))
    refused = [t for t in needed if not _allowed(t)]
    if refused:
        raise TypeError(f"the model contains types that would have to be trusted blindly: {refused}")
    (folder / TRUSTED_FILE).write_text(json.dumps(needed, indent=1))
    return folder


def load_bundle(folder: str | Path) -> DenialModel:
    folder = Path(folder)
    trusted = json.loads((folder / TRUSTED_FILE).read_text())
    if not isinstance(trusted, list) or not all(isinstance(t, str) and _allowed(t) for t in trusted):
        raise TypeError("the model's trusted-type list names types this version does not allow")
    return sio.load(folder / BUNDLE_FILE, trusted=trusted)
