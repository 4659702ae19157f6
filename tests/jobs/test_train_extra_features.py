"""The README's `--config` example trains and registers, end to end; its model scores through the
CLI and through the pyfunc (MLflow's signature keeps the extra columns); a backlog without them
is one line; a configured feature that copies `denied` is flagged as probable leakage."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

README_CONFIG = """[features]
extra_boolean = ["has_face_to_face"]
extra_numeric = ["patient_age"]
extra_categorical = ["state"]
[tiers]        # risk_tier thresholds, stored in the model
high = 0.5
medium = 0.2
"""


@pytest.fixture(scope="module")
def with_extras(tmp_path_factory):
    """Labelled claims plus the README's three extra columns (no signal in them)."""
    from denial_risk.synth.simulate import simulate_claims

    frame = simulate_claims(rows=4000, seed=5)
    rng = np.random.default_rng(5)
    frame["has_face_to_face"] = rng.choice(["true", "false", ""], len(frame))
    frame["patient_age"] = rng.integers(20, 95, len(frame)).astype(str)
    frame["state"] = rng.choice(["CA", "NY", "TX", "FL"], len(frame))
    folder = tmp_path_factory.mktemp("extras")
    path = folder / "claims.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_the_readme_config_trains_registers_and_scores(with_extras, mlflow_store, tmp_path, capsys, run):
    import mlflow

    from denial_risk.registry import tracking

    path, frame = with_extras
    cfg = tmp_path / "features.toml"
    cfg.write_text(README_CONFIG)
    code, out, err = run(["train", "--data", path, "--config", cfg], capsys)
    assert code == 0, err
    assert "registered denial-risk version 1 as @champion" in out
    run_id = tracking.model_run_id("models:/denial-risk@champion")
    assert mlflow.get_run(run_id).info.status == "FINISHED"
    assert mlflow.get_run(run_id).data.params["leakage_suspects"] == "(none)"

    # the input example shown with the model carries the extra columns, with aggregate values only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pyfunc = tracking.load_pyfunc("models:/denial-risk@champion")
    assert not [w for w in caught if "Add type hints" in str(w.message)]  # predict is typed
    example = pd.DataFrame(pyfunc.input_example)
    assert {"has_face_to_face", "patient_age", "state"} <= set(example.columns)
    assert set(example["claim_id"]) == {"EXAMPLE-1"}  # no identifier of the training data
    # no input schema: MLflow would drop every column a schema does not list (registry/tracking.py)
    assert pyfunc.metadata.get_input_schema() is None

    backlog = frame.drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
    rows = backlog.head(200).astype(str)
    served = pyfunc.predict(rows)  # what `serve` and Spark call: the extra columns reach the features
    assert served["denial_probability"].notna().all()
    state_effect = pyfunc.predict(rows.assign(state="TX"))["denial_probability"]
    assert state_effect.notna().all()

    backlog_path = tmp_path / "backlog.csv"
    backlog.head(300).to_csv(backlog_path, index=False)
    code, out, err = run(["score", "--data", backlog_path, "--out", tmp_path / "w.csv"], capsys)
    assert code == 0, err
    assert "300 lines: 300 scored, 0 rejected" in out
    got = pd.read_csv(tmp_path / "w.csv", dtype=str, keep_default_na=False)
    np.testing.assert_allclose(
        got["denial_probability"].astype(float).to_numpy()[:200],
        served["denial_probability"].astype(float).to_numpy(),
        atol=5e-5 + 1e-9,  # the CSV worklist rounds probabilities to 4 decimals (docs/claims.md)
    )

    lacking = tmp_path / "lacking.csv"
    backlog.head(50).drop(columns=["state"]).to_csv(lacking, index=False)
    code, _, err = run(["score", "--data", lacking, "--out", tmp_path / "w2.csv"], capsys)
    assert code == 2 and err.count("\n") == 1 and "missing column 'state'" in err, err
    assert not (tmp_path / "w2.csv").exists()


def test_a_feature_that_copies_denied_is_flagged_as_leakage(with_extras, caplog):
    from denial_risk.contract.normalize import normalize_chunk
    from denial_risk.modeling.card import build_model_card
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model

    _, frame = with_extras
    raw = frame.astype("string").fillna("")
    raw["appeal_won"] = frame["denied"].map({True: "1", False: "0"})  # known only after adjudication
    clean, _ = normalize_chunk(raw)
    config = TrainConfig(extra_numeric=("appeal_won", "patient_age"), extra_categorical=("state",))
    with caplog.at_level(logging.WARNING, logger="denial_risk"):
        result = fit_model(clean, config)
    assert result.params["leakage_suspects"] == "appeal_won"
    assert result.params["extra_auc_appeal_won"] == 1.0
    assert result.params["extra_auc_patient_age"] < 0.6 and result.params["extra_auc_state"] < 0.6
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'appeal_won' alone separates the holdout" in m for m in warned), warned
    assert not any("patient_age" in m or "'state'" in m for m in warned)
    assert result.model.info["leakage_suspects"] == ["appeal_won"]
    assert "Probable leakage" in build_model_card(result, data_name="claims.csv")
