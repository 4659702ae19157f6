"""The rework recovery model as an MLflow pyfunc, logged as "models from code" (no pickled object).

The fitted state is a JSON artifact (`rework.recovery.RecoveryModel.to_dict`). `predict`
takes a contract table with `denied` and `denial_reason` and returns the rework queue
(docs/rework.md). Deadlines count from today, or from the input's `as_of` column (its first
value) when it has one: the logged model has no params schema, so MLflow would drop `params`.
"""

from __future__ import annotations

import json
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ReworkPyfunc(PythonModel):
    def load_context(self, context):
        from denial_risk.rework.recovery import RecoveryModel

        with open(context.artifacts["model"], encoding="utf-8") as fh:
            self.recovery = RecoveryModel.from_dict(json.load(fh))

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from denial_risk.contract.normalize import normalize_chunk
        from denial_risk.rework.queue import rework_queue

        frame = pd.DataFrame(model_input)
        as_of = (
            frame["as_of"].iloc[0] if "as_of" in frame and len(frame) else pd.Timestamp.today().normalize()
        )
        clean, _ = normalize_chunk(frame.drop(columns=["as_of"], errors="ignore"))
        return rework_queue(clean, as_of, self.recovery)


mlflow.models.set_model(ReworkPyfunc())
