"""The MLflow pyfunc, logged as "models from code" (no pickled Python object).

MLflow 3 refuses to unpickle a PythonModel by default; this file is the model
code MLflow stores and runs, and the fitted model comes from a skops artifact.
`predict` returns the contract's added columns (the seven, with `likely_denial_codes`, and
`reject_reason`) for each input line, in input order. `predict` is typed with
`pd.DataFrame` (a type MLflow infers no schema from, so behaviour is unchanged):
untyped, MLflow prints a three-line "Add type hints" warning on every load.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class DenialRiskPyfunc(PythonModel):
    def load_context(self, context):
        from denial_risk.modeling.bundle import load_bundle

        self.model = load_bundle(context.artifacts["bundle"])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from denial_risk.scoring.score import score_request

        return score_request(self.model, model_input)


mlflow.models.set_model(DenialRiskPyfunc())
