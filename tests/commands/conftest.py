"""Fixtures the command tests share."""

from __future__ import annotations

import pytest


@pytest.fixture()
def registered(denial_model, mlflow_store, tmp_path):
    """The session model registered as denial-risk@champion in a fresh store, and exported to a folder
    (returned with its digest)."""
    from denial_risk.registry import tracking
    from denial_risk.scoring.score import score_request

    with tracking.run("test-score"):
        version, alias = tracking.log_and_register(
            denial_model, score_request(denial_model, tracking.input_example())
        )
    assert alias == "champion"
    return tracking.export_model("models:/denial-risk@champion", str(tmp_path / "models" / "v1"))
