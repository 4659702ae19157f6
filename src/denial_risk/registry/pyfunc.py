"""The MLflow pyfunc, logged as "models from code" (no pickled Python object).

This file is the model code MLflow stores and runs; the fitted model comes from
a skops artifact, and the package itself travels in the model's `code/`.
`predict` returns the contract's added columns (the seven, with `likely_denial_codes`, and
`reject_reason`) for each input line, in input order; a request without one of
the contract's required columns is refused (HTTP 400 from the server). Concurrent `predict` calls
(the scoring server runs each request in a thread) are scored together
(`scoring.batcher`), each answered as if alone. `predict` is typed with `pd.DataFrame` (a type
MLflow infers no schema from): untyped, MLflow prints a three-line "Add type hints" warning on
every load.

`params` (declared in the signature: `scoring.request_params`) carry the explain policy and the
as-of day: the Spark engine passes `score`'s, a served request may send its own. Requests with
the same params share a batcher; a bad param is refused (400).
"""

from __future__ import annotations

import threading
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

MAX_BATCHERS = 16  # distinct params kept batching; a request with yet other params is scored alone


class DenialRiskPyfunc(PythonModel):
    def load_context(self, context):
        from denial_risk.modeling.bundle import load_bundle

        self.model = load_bundle(context.artifacts["bundle"])
        self._warm_up()
        self.lock = threading.Lock()
        self.batchers = {}
        self.batcher = self._batcher(None)

    def _warm_up(self):
        """Score the logged input example once: the code sets (the ICD-10-CM tree, the HCPCS file, the
        dated rules) load lazily, and a cold worker's first request paid it (3.4 s, against ~0.15 s
        warm: issue 23); a server's first request after start is now as fast as the next. Quiet: what
        the example lacks (a column the model's --config added) is not the user's file's to warn of."""
        import logging

        from denial_risk.registry.logged import input_example
        from denial_risk.scoring.score import score_request

        logger = logging.getLogger("denial_risk")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            score_request(self.model, input_example())
        finally:
            logger.setLevel(level)

    def _batcher(self, policy):
        """The batcher of requests with this policy (None: the default params)."""
        from denial_risk.scoring.batcher import MicroBatcher
        from denial_risk.scoring.score import score_requests

        with self.lock:
            batcher = self.batchers.get(policy)
            if batcher is None and len(self.batchers) < MAX_BATCHERS:
                batcher = MicroBatcher(lambda raws: score_requests(self.model, raws, policy))
                self.batchers[policy] = batcher
        return batcher or (lambda raw: score_requests(self.model, [raw], policy)[0])

    def predict(
        self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException

        from denial_risk.contract.schema import REQUIRED
        from denial_risk.scoring.request_params import ParamError, policy_of

        try:
            policy = policy_of(params)
        except ParamError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        columns = set(map(str, pd.DataFrame(model_input).columns))
        missing = [c for c in REQUIRED if c not in columns]
        if missing:  # a request that is not a claim table: 400, as MLflow's schema check answered
            raise MlflowException(
                f"The input column '{missing[0]}' is required by the model but missing from the input "
                f"data (required: {', '.join(REQUIRED)}).",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return self._batcher(policy)(model_input)

    def score_table(self, table: pd.DataFrame, sizes: list[int]) -> dict:
        """Several requests as one prepared table, each answered as if alone (`scoring.score_table`):
        the scoring server's lean path (registry/serving_fast.py), which has batched them already."""
        from denial_risk.scoring.score import score_table

        return score_table(self.model, table, sizes)


mlflow.models.set_model(DenialRiskPyfunc())
