"""MLflow round trip in a real temporary store, and no identifiers in it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from denial_risk.jobs.train import train_and_register
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.train import feature_input
from denial_risk.registry import tracking

pytestmark = pytest.mark.slow


@pytest.fixture()
def fast_config(tmp_path):
    path = tmp_path / "fast.toml"
    path.write_text("[training]\nsmall_data_rows = 0\n[tiers]\nhigh = 0.6\nmedium = 0.25\n")
    return str(path)


@pytest.fixture()
def registered(mlflow_store, claims_csv, fast_config):
    return train_and_register(str(claims_csv), config_path=fast_config)


def test_train_registers_champion_then_challenger(registered, claims_csv, fast_config):
    assert registered["alias"] == "champion" and registered["version"] == "1"
    second = train_and_register(str(claims_csv), config_path=fast_config)
    assert second["alias"] == "challenger"
    assert tracking.alias_version("champion") == "1" and tracking.alias_version("challenger") == "2"


def test_load_by_alias_predicts_like_the_trained_model(registered, claims_frame):
    model = tracking.load_model("models:/denial-risk@champion")
    rows = feature_input(claims_frame.tail(500), TrainConfig())
    p = model.predict_proba(rows)
    assert p.shape == (500,) and np.all((p >= 0) & (p <= 1))
    assert model.tiers == {"high": 0.6, "medium": 0.25}  # thresholds travel inside the model
    # the pyfunc (what serving and Spark call) gives the same numbers for raw contract rows
    pyfunc = tracking.load_pyfunc("models:/denial-risk@champion")
    raw = claims_frame.tail(500).drop(
        columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"]
    )
    raw = raw.assign(
        service_date=raw.service_date.dt.strftime("%Y-%m-%d"),
        submission_date=raw.submission_date.dt.strftime("%Y-%m-%d"),
    ).astype("string")
    out = pyfunc.predict(raw)
    np.testing.assert_allclose(out["denial_probability"].astype(float).to_numpy(), p, atol=1e-9)
    assert set(tracking_added := ["denial_probability", "expected_loss", "risk_rank", "risk_tier"]) <= set(
        out.columns
    )
    assert out[tracking_added].notna().all().all()


def test_export_scores_without_a_tracking_store(registered, claims_frame, tmp_path, monkeypatch):
    folder, digest = tracking.export_model("models:/denial-risk@champion", str(tmp_path / "models" / "v1"))
    assert (folder / "MLmodel").is_file()
    # the digest export prints is the one recorded in the registry at training, and sha256sum's
    import hashlib

    from mlflow import MlflowClient

    assert digest == MlflowClient().get_model_version("denial-risk", "1").tags["model_sha256"]
    assert digest == hashlib.sha256((folder / "MANIFEST.sha256").read_bytes()).hexdigest()
    rows = feature_input(claims_frame.tail(300), TrainConfig())
    expected = tracking.load_model("models:/denial-risk@champion").predict_proba(rows)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    got = tracking.load_model(str(folder), digest).predict_proba(rows)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_no_patient_or_claim_identifier_reaches_the_store(registered, simulated_claims, mlflow_store):
    patients = set(simulated_claims["patient_id"].dropna().astype(str))
    claims = set(simulated_claims["claim_id"].dropna().astype(str))
    db = Path(mlflow_store.removeprefix("sqlite:///"))
    texts = []
    con = sqlite3.connect(db)
    for table in ("params", "metrics", "tags", "latest_metrics", "model_versions", "registered_models"):
        for row in con.execute(f"SELECT * FROM {table}"):
            texts.extend(str(v) for v in row)
    con.close()
    for path in (db.parent / "mlruns").rglob("*"):
        if path.is_file() and path.suffix in {".json", ".csv", ".txt", ".md", ".yaml", ".MLmodel", ""}:
            texts.append(path.read_text(errors="ignore"))
        elif path.is_file() and path.suffix == ".skops":
            texts.append(path.read_bytes().decode("latin-1"))
    blob = "\n".join(texts)
    leaked_patients = [p for p in list(patients)[:3000] if p in blob]
    leaked_claims = [c for c in list(claims)[:3000] if c in blob]
    assert not leaked_patients, leaked_patients[:5]
    assert not leaked_claims, leaked_claims[:5]


def test_a_bad_model_uri_is_a_user_error(mlflow_store):
    from denial_risk.errors import UserError

    with pytest.raises(UserError, match="no MLflow store"):  # and none is created (tests/security)
        tracking.load_model("models:/denial-risk@champion")
    with tracking.run("setup"):  # creates the store
        pass
    with pytest.raises(UserError, match="--model models:/denial-risk@champion: not found"):
        tracking.load_model("models:/denial-risk@champion")
    with pytest.raises(UserError, match="no such model folder"):
        tracking.load_model("models/nothing-here")


def test_refuses_to_log_identifier_tables(mlflow_store):
    with tracking.run("t"), pytest.raises(ValueError, match="identifiers"):
        tracking.log_table(pd.DataFrame({"patient_id": ["P1"]}), "x")
