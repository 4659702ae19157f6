"""Saving and loading the fitted model without pickle.

The model travels inside the MLflow model as a skops file. skops refuses to
load any type it does not trust; we name exactly the types this model needs
(our own classes and HistGradientBoosting's TreePredictor, as the
MLflow/scikit-learn docs advise) and refuse to save a model that would need
anything else, rather than trusting everything.
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
ALLOWED_PREFIXES = ("denial_risk.",)


def _allowed(name: str) -> bool:
    return name in ALLOWED_EXACT or name.startswith(ALLOWED_PREFIXES)


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
    if not all(_allowed(t) for t in trusted):
        raise TypeError("the model's trusted-type list names types this version does not allow")
    return sio.load(folder / BUNDLE_FILE, trusted=trusted)
