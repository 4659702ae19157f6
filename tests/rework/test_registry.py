"""The recovery model in MLflow: `rework --history` registers denial-risk-rework, `--model` loads it
verified, and the queue is the same; the history's identifiers never reach the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def test_register_then_load_by_alias_gives_the_same_queue(
    mlflow_store, tmp_path, rework_history, rework_world, run, capsys
):
    from denial_risk.registry import rework_tracking, tracking
    from denial_risk.tableio.files import write_table

    history = tmp_path / "history.parquet"
    write_table(rework_history, history)
    denials = tmp_path / "open.parquet"
    write_table(rework_world.frame.tail(3000), denials)
    first = tmp_path / "q1.csv"
    code, out, err = run(["rework", "--data", denials, "--out", first, "--as-of", "2025-12-01",
                          "--history", history], capsys)  # fmt: skip
    assert code == 0, err
    assert "fitted on" in out
    assert tracking._alias_version(tracking._client(), "champion", rework_tracking.REWORK_MODEL_NAME) == "1"
    second = tmp_path / "q2.csv"
    code, out, err = run(["rework", "--data", denials, "--out", second, "--as-of", "2025-12-01",
                          "--model", "models:/denial-risk-rework@champion"], capsys)  # fmt: skip
    assert code == 0, err
    a, b = pd.read_csv(first), pd.read_csv(second)
    pd.testing.assert_frame_equal(a, b, check_exact=False, atol=1e-9)
    assert a.loc[a["action"] != "no_rework", "recovery_probability"].nunique() > 10  # learned, not the prior
    raw = pd.read_parquet(denials).assign(as_of="2025-12-01")
    served = tracking.load_pyfunc("models:/denial-risk-rework@champion").predict(raw)
    assert list(served.columns) == list(a.columns)
    pd.testing.assert_series_equal(
        served["expected_recovery"], a["expected_recovery"], check_exact=False, atol=0.01
    )
    wrong = "models:/denial-risk@champion"  # not a rework model (and none registered here)
    code, out, err = run(["rework", "--data", denials, "--out", second, "--model", wrong], capsys)
    assert code == 2 and err.count("\n") == 1
    db = Path(mlflow_store.removeprefix("sqlite:///"))
    text = "\n".join(str(r) for r in sqlite3.connect(db).execute("select key, value from params"))
    assert "CLM0" not in text and "pk_" not in text
