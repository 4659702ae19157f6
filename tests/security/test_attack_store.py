"""Issue 25 F13, F14 and the store side effects; issue 24's store without a store: one line, the
documented exit code, and nothing created by a command that only reads."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

READERS = {
    "score": ["score", "--data", "{data}", "--out", "{tmp}/out/w.csv"],
    "evaluate": ["evaluate", "--data", "{data}"],
    "promote": ["promote"],
    "export": ["export", "--model", "models:/denial-risk@champion", "--out", "{tmp}/exported"],
    "monitor": ["monitor", "--scored", "{data}"],
}


def _argv(name, data, tmp):
    return [a.format(data=data, tmp=tmp) for a in READERS[name]]


def _one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture()
def bare(tmp_path, monkeypatch):
    """A working folder with no store, and no MLFLOW_TRACKING_URI: MLflow's default applies."""
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(None)
    yield tmp_path
    mlflow.set_tracking_uri(None)


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_reading_command_without_a_store_creates_nothing(name, bare, claims_csv, capsys, run):
    code, _, err = run(_argv(name, claims_csv, bare), capsys)
    line = _one_line(err)
    assert code == 2, line
    assert "no MLflow store" in line and "mlflow.db" in line and str(bare) in line, line
    assert sorted(p.name for p in bare.iterdir()) == [], "a reading command created files"


def test_a_uri_to_a_missing_folder_creates_no_folder(tmp_path, monkeypatch, claims_csv, capsys, run):
    missing = tmp_path / "no" / "such" / "folder"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing / 'mlflow.db'}")
    for argv in (["promote"], ["train", "--data", str(claims_csv)]):
        code, out, err = run(argv, capsys)
        assert code == 2 and str(missing) in _one_line(err), err
        assert "split by service date" not in out
    assert not (tmp_path / "no").exists()


def test_an_empty_file_does_not_become_a_database(tmp_path, monkeypatch, claims_csv, capsys, run):
    db = tmp_path / "mlflow.db"
    db.touch()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    for argv in (["promote"], ["train", "--data", str(claims_csv)]):
        code, _, err = run(argv, capsys)
        assert code == 2 and "empty file" in _one_line(err), err
    assert db.stat().st_size == 0


def _corrupt(db):
    """A real store, then pages overwritten past the header: SQLite opens it, reads fail."""
    from denial_risk.registry import tracking

    with tracking.run("setup"):  # creates the store
        pass
    data = bytearray(db.read_bytes())
    data[100:] = b"\xa5" * (len(data) - 100)
    db.write_bytes(bytes(data))


def _foreign(db):
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.commit()
    con.close()


def _garbage(db):
    db.write_bytes(b"this is not a database\n" * 100)


def _newer(db):
    from denial_risk.registry import tracking

    with tracking.run("setup"):  # creates the store
        pass
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.commit()
    con.close()


@pytest.mark.parametrize(
    "damage, words",
    [
        (_corrupt, "corrupt"),
        (_foreign, "not an MLflow store"),
        (_garbage, "not an SQLite database"),
        (_newer, "schema version ffffffffffff"),
    ],
)
def test_f14_a_bad_store_stops_train_before_the_fit(
    damage, words, mlflow_store, tmp_path, claims_csv, capsys, run
):
    from denial_risk.registry import tracking

    db = tmp_path / "mlflow.db"
    damage(db)
    capsys.readouterr()  # MLflow's own lines while the store was made
    tracking._READY.clear()  # a new command: nothing checked yet
    before = db.read_bytes()
    code, out, err = run(["train", "--data", str(claims_csv)], capsys)
    line = _one_line(err)
    assert code == 2 and "MLflow store" in line and str(db) in line and words in line, line
    assert "split by service date" not in out  # refused before the fit
    assert db.read_bytes() == before
    tracking._READY.clear()
    code, _, err = run(["promote"], capsys)
    assert code == 2 and words in _one_line(err)


_INIT = """
import sys, time
from denial_risk.registry import tracking
start = float(sys.argv[1])
tracking.prepare_store()  # the pre-fit check: a fresh store is not created yet
time.sleep(max(0.0, start - time.time()))
with tracking.run("train"):  # the first run logged creates the store, all four at once
    pass
from mlflow import MlflowClient
print(len(MlflowClient().search_experiments()))
"""


def test_f13_two_first_uses_of_a_fresh_store_at_once_both_succeed(tmp_path):
    """Four processes create the same fresh store at the same instant; MLflow's first migration
    runs once (serialised), and every one of them goes on."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _INIT, start], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, results):
        assert proc.returncode == 0, err.decode()[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["mlflow.db"]  # and no lock file left


def test_an_unreachable_tracking_server_is_one_line_naming_it_quickly(
    tmp_path, monkeypatch, claims_csv, capsys, run
):
    from denial_risk.registry.serving import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for argv in (
        ["score", "--data", str(claims_csv), "--out", str(tmp_path / "w.csv")],
        ["train", "--data", str(claims_csv)],
    ):
        started = time.monotonic()
        code, out, err = run(argv, capsys)
        line = _one_line(err)
        assert time.monotonic() - started < 60, "retried for minutes"
        assert code == 1 and uri in line, line
        assert "denial-risk-model." not in line  # not the temporary folder
        assert "split by service date" not in out
    assert list(tmp_path.iterdir()) == []


def test_two_trains_at_once_do_not_both_claim_the_challenger(mlflow_store, tmp_path):
    """Version 3 takes @challenger first, then version 2 (registered at the same time, slower):
    2 must not take it back, and says so (None)."""
    from mlflow import MlflowClient

    from denial_risk.registry import tracking

    with tracking.run("setup"):  # creates the store
        pass
    client = MlflowClient()
    client.create_registered_model("denial-risk")
    for _ in range(3):
        client.create_model_version("denial-risk", source=str(tmp_path))
    assert tracking._give_alias("1") == "champion"
    assert tracking._give_alias("3") == "challenger"
    assert tracking._give_alias("2") is None
    assert tracking.alias_version("challenger") == "3"
    assert tracking.alias_version("champion") == "1"


def test_a_file_path_store_is_one_whole_line_and_creates_nothing(
    tmp_path, monkeypatch, claims_csv, capsys, run
):
    """Issue 24: MLflow's refusal of a file store was cut mid-sentence (and a missing folder made)."""
    store = tmp_path / "runs"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(store))
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    code, out, err = run(["train", "--data", claims_csv], capsys)
    line = _one_line(err)
    assert code == 2 and str(store) in line and line.rstrip().endswith("."), line
    assert "split by service date" not in out
    assert list(store.iterdir()) == []
    code, _, err = run(["promote"], capsys)
    assert code == 2 and "no MLflow store" in _one_line(err)


def test_a_tracking_server_whose_host_does_not_resolve_is_the_uris_mistake(monkeypatch, capsys, run):
    uri = "http://no-such-host.invalid:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code, _, err = run(["promote"], capsys)
    line = _one_line(err)
    assert code == 2 and uri in line and "not found" in line, line
