"""A small rework world shared by the rework tests (the team's history, and a later seed)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def rework_world():
    from denial_risk.synth.rework_team import simulate_rework

    return simulate_rework(12000, 21, "2024-01-01", 24)


@pytest.fixture(scope="session")
def rework_history(rework_world):
    from denial_risk.synth.rework_team import history_table

    return history_table(rework_world)


@pytest.fixture(scope="session")
def recovery_model(rework_history):
    from denial_risk.rework.history import fit_recovery

    return fit_recovery(rework_history)
