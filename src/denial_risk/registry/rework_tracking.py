"""MLflow for the rework queue's recovery model: its own registered model (`denial-risk-rework`),
logged from code like the denial model (registry/rework_pyfunc.py), its state a JSON file, signed,
registered and verified on load through the denial model's helpers in tracking.py (docs/rework.md)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from denial_risk.registry import logged, signing
from denial_risk.registry.tracking import _ready, _register

REWORK_MODEL_NAME = "denial-risk-rework"
REWORK_MODEL_FILE = "rework_model.json"


def log_and_register_rework(state: dict) -> tuple[str, str]:
    """Log the recovery model (its JSON state) in the active run and register it (`_register`)."""
    from denial_risk.registry import rework_pyfunc

    key = signing.signing_key()
    mlflow = _ready(write=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / REWORK_MODEL_FILE
        path.write_text(json.dumps(state), encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="rework_model",
            python_model=rework_pyfunc.__file__,
            artifacts={"model": str(path)},
            code_paths=[logged.package_code(Path(tmp))],
            pip_requirements=logged.pip_requirements(),
            registered_model_name=REWORK_MODEL_NAME,
        )
    return _register(info, REWORK_MODEL_NAME, key)
