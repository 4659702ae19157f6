"""Training with Spark reading the data (`train --engine spark`) fits the model the local job fits:
the same rejects, the same periods, the same time-aware sample, the same holdout figures; on
`local[2]`, with bad rows mixed in.

Needs pyspark (the `spark` extra) and Java 17; skipped without them.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

if os.environ.get("CI"):  # CI installs the spark extra: a broken import there is a failure, not a skip
    import pyspark  # noqa: F401
else:
    pytest.importorskip("pyspark")

ROWS = 6_000


@pytest.fixture(scope="module")
def labelled_csv(tmp_path_factory):
    from denial_risk.synth.simulate import simulate_claims

    path = tmp_path_factory.mktemp("spark_train") / "claims.csv"
    raw = simulate_claims(rows=ROWS, seed=11).astype(str).reset_index(drop=True)
    raw.loc[5, "billed_amount"] = "abc"
    raw.loc[6, "service_date"] = "2025-13-45"
    dup = raw.iloc[[40]]
    pd.concat([raw, dup], ignore_index=True).to_csv(path, index=False)
    return str(path)


def _both(path: str, budget: int):
    from denial_risk.jobs import train
    from denial_risk.modeling.config import TrainConfig

    config = TrainConfig()
    local = train._fit_streamed(path, config, budget)
    spark = train._fit_on_spark(path, config, budget, "local[2]")
    return local, spark


@pytest.mark.slow
@pytest.mark.parametrize("sampled", [False, True], ids=["whole", "sampled"])
def test_spark_reading_fits_what_the_local_job_fits(labelled_csv, sampled):
    from denial_risk.modeling.sampling import COST

    later = int(ROWS * 0.3)
    train_lines = 1_500 if sampled else 10 * ROWS  # a budget that holds 1,500 training lines, or all
    budget = int(COST.fixed + later * COST.per_later_line + train_lines * COST.per_train_line) + 1
    (lr, ltrain, lrej), (sr, strain, srej) = _both(labelled_csv, budget)

    assert lrej == srej == 3  # the bad amount, the bad date, the duplicate
    plan = lr.model.info["training_sample"]
    assert plan == sr.model.info["training_sample"]
    assert plan["sampled"] is sampled
    if sampled:
        assert plan["rows_train_sampled"] < plan["rows_train_available"]
        assert plan["sample_denied_kept"] > 0
    # the same lines in the same order, the same model on them
    assert ltrain["claim_id"].tolist() == strain["claim_id"].tolist()
    assert ltrain["line_number"].tolist() == strain["line_number"].tolist()
    assert lr.holdout["claim_id"].tolist() == sr.holdout["claim_id"].tolist()
    np.testing.assert_allclose(lr.holdout_proba, sr.holdout_proba, atol=1e-9)
    assert lr.metrics["roc_auc"] == pytest.approx(sr.metrics["roc_auc"], abs=1e-12)


@pytest.mark.slow
def test_train_engine_spark_registers_the_model(labelled_csv, mlflow_store, capsys, run):
    """Through the command line, as a user runs it: the run is logged and the model registered."""
    from mlflow import MlflowClient

    code, _, err = run(["train", "--data", labelled_csv, "--engine", "spark", "--master", "local[2]"], capsys)
    assert code == 0, err
    (version,) = MlflowClient().search_model_versions("name='denial-risk'")
    run = MlflowClient().get_run(version.run_id)
    assert run.data.params["data_fingerprint"].startswith("spark:")
    assert float(run.data.metrics["roc_auc"]) > 0.6
