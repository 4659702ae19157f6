"""Fixtures the command tests share."""

from __future__ import annotations

import pytest


@pytest.fixture()
def registered(register_champion, mlflow_store, tmp_path):
    """The session model registered as denial-risk@champion in a fresh store, and exported to a folder
    (returned with its digest)."""
    from denial_risk.registry import tracking

    version, alias = register_champion("test-score")
    assert alias == "champion"
    return tracking.export_model("models:/denial-risk@champion", str(tmp_path / "models" / "v1"))
