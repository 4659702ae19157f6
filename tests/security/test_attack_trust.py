"""Issue 25 W1 / W2: whoever can write `mlflow.db` and the artifacts cannot make a model trusted.

W1: the version's `model_sha256` row edited, with the artifact and its own manifest, once ran
tampered code through `models:/denial-risk@champion`. Now the three recorded digests must agree;
an attacker who edits all three is stopped by the signing key (registry/signing.py), which
never reaches the store. The tampered code would create a sentinel file: it never appears.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from denial_risk.registry import manifest

pytestmark = pytest.mark.slow

KEY = "k" * 32


@pytest.fixture()
def registered(denial_model, mlflow_store, tmp_path, monkeypatch):
    """The session model as version 1 (@champion), signed with KEY: (db, stored folder)."""
    from mlflow import MlflowClient

    from denial_risk.registry import tracking
    from denial_risk.scoring.score import score_request

    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY", KEY)
    started = time.time() - 120
    with tracking.run(tracking.experiment_name(), "train", started=started):
        version, alias = tracking.log_and_register(
            denial_model, score_request(denial_model, tracking.input_example())
        )
    assert (version, alias) == ("1", "champion")
    stored = Path(MlflowClient().get_model_version_download_uri("denial-risk", "1"))
    return tmp_path / "mlflow.db", stored


def _tamper(stored: Path, sentinel: Path) -> str:
    """Code appended to the model's code file, and the folder's manifest made to match it."""
    with open(stored / "pyfunc.py", "a") as f:
        f.write(f"\nopen({str(sentinel)!r}, 'w').write('ran')\n")
    return manifest.write_manifest(stored)


def _edit_rows(db: Path, digest: str, *, where: tuple[str, ...]) -> None:
    con = sqlite3.connect(db)
    if "version" in where:
        con.execute("UPDATE model_version_tags SET value = ? WHERE key = 'model_sha256'", (digest,))
    if "run" in where:
        con.execute("UPDATE tags SET value = ? WHERE key = 'model_sha256'", (digest,))
    if "logged" in where:
        con.execute("UPDATE logged_model_tags SET tag_value = ? WHERE tag_key = 'model_sha256'", (digest,))
    con.commit()
    con.close()


def _load(uri="models:/denial-risk@champion"):
    from denial_risk.registry import tracking

    return tracking.load_model(uri)


def test_w1_one_edited_row_with_edited_files_is_refused(registered, tmp_path, monkeypatch):
    from denial_risk.errors import UserError

    monkeypatch.delenv("DENIAL_RISK_SIGNING_KEY")  # even with no key: the digests disagree
    db, stored = registered
    sentinel = tmp_path / "ran"
    _edit_rows(db, _tamper(stored, sentinel), where=("version",))
    for uri in ("models:/denial-risk@champion", "models:/denial-risk/1"):
        with pytest.raises(UserError, match="differs from the one in the registry"):
            _load(uri)
    assert not sentinel.exists()


def test_w1_all_rows_edited_are_refused_with_the_signing_key(registered, tmp_path, monkeypatch):
    from denial_risk.errors import UserError

    db, stored = registered
    sentinel = tmp_path / "ran"
    _edit_rows(db, _tamper(stored, sentinel), where=("version", "run", "logged"))
    with pytest.raises(UserError, match="model_hmac does not match the signing key"):
        _load()
    assert not sentinel.exists()
    # the same store with the key set elsewhere as a file: refused the same way
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    monkeypatch.delenv("DENIAL_RISK_SIGNING_KEY")
    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY_FILE", str(key_file))
    with pytest.raises(UserError, match="does not match the signing key"):
        _load()
    assert not sentinel.exists()


def test_signed_model_loads_with_its_key_and_unsigned_is_refused_once_a_key_is_set(registered, monkeypatch):
    from mlflow import MlflowClient

    from denial_risk.errors import UserError

    assert _load().feature_names
    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY", "another key, also long enough")
    with pytest.raises(UserError, match="does not match the signing key"):
        _load()
    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY", KEY)
    MlflowClient().delete_model_version_tag("denial-risk", "1", "model_hmac")
    with pytest.raises(UserError, match="is not signed"):
        _load()
    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY", "short")
    with pytest.raises(UserError, match="at least 16"):
        _load()


def test_a_key_file_readable_by_others_is_refused(registered, tmp_path, monkeypatch):
    from denial_risk.errors import UserError

    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    key_file.chmod(0o644)
    monkeypatch.setenv("DENIAL_RISK_SIGNING_KEY_FILE", str(key_file))
    with pytest.raises(UserError, match="readable by others"):
        _load()


def test_the_logged_model_has_an_input_schema_and_the_run_lasts_the_work(registered):
    """Issue 24: the model version showed "Inputs (0)", and runs lasted 3 s for long fits."""
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    from denial_risk.contract.schema import REQUIRED

    client = MlflowClient()
    version = client.get_model_version("denial-risk", "1")
    info = get_model_info("models:/denial-risk/1")
    inputs = info.signature.inputs.input_names()
    assert set(REQUIRED) <= set(inputs)
    # our own loads skip MLflow's value-by-value check of that schema (its cost: loaded.skip_input_check)
    from denial_risk.registry import tracking

    assert tracking.load_pyfunc("models:/denial-risk/1").metadata.get_input_schema() is None
    run = client.get_run(version.run_id)
    assert run.info.end_time - run.info.start_time >= 120_000  # ms: started before the "fit"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "denial-risk"


def test_f1_a_file_name_that_is_not_utf8_in_the_registry_is_one_line(registered, tmp_path, capsys, run):
    _, stored = registered
    with open(os.fsencode(stored) + b"/code/evil\xff.py", "wb") as f:
        f.write(b"raise SystemExit('ran')\n")
    from denial_risk.registry import tracking

    backlog = tmp_path / "b.csv"
    tracking.input_example().to_csv(backlog, index=False)
    code, _, err = run(["score", "--data", backlog, "--out", tmp_path / "w.csv"], capsys)
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "models:/denial-risk@champion" in lines[0], lines[0]
