"""An output that cannot be written, or an input that is not a file, is one line naming it.

Exit 2 when another path fixes it (a read-only folder, permission denied, a file
where a folder is expected, a FIFO or a device as input), exit 1 when the
machine failed (no space left). Each command that writes is tried: score,
validate --rejects, report, export, train, ingest-x12, simulate.

Which conditions are real and which are simulated:
- a file where a folder is expected: real, everywhere;
- a read-only folder: real; `chmod 555` when not root, a read-only bind mount when
  root (root writes through permission bits); skipped only when neither can be made;
- no space left: simulated for every command (the writer raises `OSError(ENOSPC)` as
  pyarrow does, or MLflow's and sqlite's own wording of it), and real once (a 64 kB
  tmpfs) when mounting is allowed;
- FIFO and device inputs: real (`os.mkfifo`, `/dev/zero`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from denial_risk.cli import main
from denial_risk.tableio import files
from denial_risk.testing import FullDiskWriter

ROOT = Path(__file__).resolve().parents[2]
REMITS = ROOT / "tests" / "fixtures" / "x12" / "linuxforhealth" / "835_005010X221A1" / "managed-care.835"


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@contextlib.contextmanager
def read_only_folder(base: Path):
    """A folder no file can be created in, by a real condition; yields (path, how)."""
    src = base / "ro-src"
    src.mkdir()
    if os.geteuid() != 0:
        src.chmod(0o555)
        try:
            yield src, "chmod 555"
        finally:
            src.chmod(0o755)
        return
    mnt = base / "ro"
    mnt.mkdir()
    made = subprocess.run(["mount", "--bind", "-o", "ro", str(src), str(mnt)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("root without permission to mount: no real read-only folder can be made here")
    try:
        yield mnt, "read-only bind mount"
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)  # busy: detach it anyway


@pytest.fixture(scope="module")
def champion(champion_store, tmp_path_factory):
    with champion_store(tmp_path_factory.mktemp("store"), "test-os-errors") as uri:
        yield uri


@pytest.fixture(autouse=True)
def _as_a_fresh_process(monkeypatch):
    """What a `denial-risk` process has that these in-process runs would not: MLflow's INFO lines off
    (the CLI sets MLFLOW_LOGGING_LEVEL before MLflow is imported), the tracking URI from the
    environment; and a salt, so ingest-x12's one-time line about making one is not in the way."""
    import logging

    import mlflow

    monkeypatch.setenv("DENIAL_RISK_PATIENT_SALT", "a-test-salt-of-some-length")
    level = logging.getLogger("mlflow").level
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    logging.getLogger("mlflow").setLevel(level)
    mlflow.set_tracking_uri(uri)  # a run without MLFLOW_TRACKING_URI sets (and exports) one: undo it


@pytest.fixture(scope="module")
def inputs(simulated_claims, champion, tmp_path_factory):
    """A small backlog, a labelled file and a scored worklist of it."""
    folder = tmp_path_factory.mktemp("inputs")
    backlog = folder / "backlog.csv"
    simulated_claims.iloc[:300].drop(
        columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"]
    ).to_csv(backlog, index=False)
    labelled = folder / "labelled.csv"
    simulated_claims.iloc[:1500].to_csv(labelled, index=False)
    scored = folder / "worklist.csv"
    with pytest.MonkeyPatch.context():
        try:
            main(["score", "--data", str(backlog), "--out", str(scored), "--model", champion])
        except SystemExit as exc:
            assert not exc.code
    return {"backlog": backlog, "labelled": labelled, "scored": scored, "model": champion}


def commands(inputs: dict, where: Path) -> dict[str, list]:
    """Each writing command, with its output under `where`."""
    return {
        "score": ["score", "--data", inputs["backlog"], "--out", where / "w.csv", "--model", inputs["model"]],
        "validate": ["validate", "--data", inputs["backlog"], "--rejects", where / "r.csv"],
        "report": ["report", "--scored", inputs["scored"], "--out", where / "r.html"],
        "export": ["export", "--model", inputs["model"], "--out", where / "m"],
        "ingest-x12": ["ingest-x12", "--remits", REMITS, "--out", where / "x.csv"],
        "simulate": ["simulate", "--rows", "20", "--seed", "1", "--out", where / "s.csv"],
    }


@pytest.mark.parametrize("name", ["score", "validate", "report", "export", "ingest-x12", "simulate"])
def test_a_file_where_a_folder_is_expected(inputs, tmp_path, capsys, name, run):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    code, _, err = run(commands(inputs, afile)[name], capsys)
    line = one_line(err)
    assert code == 2 and str(afile) in line, line
    assert afile.read_text() == "not a folder"


@pytest.mark.parametrize("name", ["score", "validate", "report", "export", "ingest-x12", "simulate"])
def test_a_read_only_folder(inputs, tmp_path, capsys, name, run):
    with read_only_folder(tmp_path) as (ro, how):
        code, _, err = run(commands(inputs, ro)[name], capsys)
        line = one_line(err)
        assert code == 2, (how, line)
        assert str(ro) in line and ("read-only" in line.lower() or "permission denied" in line.lower()), line
        assert list(ro.iterdir()) == []


def test_train_in_a_read_only_folder_stops_before_the_fit(inputs, tmp_path, capsys, monkeypatch, run):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    import mlflow

    mlflow.set_tracking_uri(None)
    with read_only_folder(tmp_path) as (ro, how), monkeypatch.context() as mp:
        mp.chdir(ro)  # left again before the mount is undone (a busy mount cannot be)
        code, out, err = run(["train", "--data", inputs["labelled"]], capsys)
        line = one_line(err)
        assert code == 2 and "MLflow store" in line and "mlflow.db" in line, (how, line)
        assert "split by service date" not in out  # stopped before the fit


def _disk_full_text(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("name", ["score", "validate", "report", "export", "ingest-x12", "simulate"])
def test_no_space_left_is_exit_1_naming_the_file(inputs, tmp_path, capsys, monkeypatch, name, run):
    monkeypatch.setattr(files.pacsv, "CSVWriter", FullDiskWriter)
    monkeypatch.setattr(files.pq, "ParquetWriter", FullDiskWriter)
    if name == "report":
        monkeypatch.setattr(Path, "write_text", _disk_full_text)
    if name == "export":
        import mlflow
        from mlflow.exceptions import MlflowException

        def full(*args, dst_path=None, **kwargs):  # as MLflow words it after a parallel download
            Path(dst_path, "conda.yaml").parent.mkdir(parents=True, exist_ok=True)
            raise MlflowException(
                "The following failures occurred while downloading one or more artifacts:\n"
                f"##### File conda.yaml #####\n[Errno 28] No space left on device: 'a' -> '{dst_path}'"
            )

        monkeypatch.setattr(mlflow.artifacts, "download_artifacts", full)
    out = tmp_path / "out"
    code, _, err = run(commands(inputs, out)[name], capsys)
    line = one_line(err)
    assert code == 1 and str(out) in line and "No space left on device" in line, line
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]  # nothing half-written


def test_train_with_a_full_store_is_exit_1_naming_it(inputs, tmp_path, capsys, monkeypatch, run):
    import sqlite3

    import mlflow
    import sqlalchemy.exc

    from denial_risk.registry import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)

    def full(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError(
            "INSERT INTO model_versions", {}, sqlite3.OperationalError("database or disk is full")
        )

    monkeypatch.setattr(tracking, "log_and_register", full)
    code, _, err = run(["train", "--data", inputs["labelled"]], capsys)
    line = one_line(err)
    assert code == 1 and uri in line and "No space left on device" in line, line


def test_a_real_full_disk(inputs, tmp_path, capsys, run):
    """No simulation: a 64 kB tmpfs (root with mount rights only)."""
    full = tmp_path / "full"
    full.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True
        ).returncode
    ):
        pytest.skip("cannot mount a small tmpfs here; the simulated cases above stand")
    try:
        code, _, err = run(commands(inputs, full)["score"], capsys)
        line = one_line(err)
        assert code == 1 and str(full) in line and "No space left on device" in line, line
        assert list(full.iterdir()) == []
        held = [os.readlink(f) for f in Path("/proc/self/fd").iterdir() if _link(f).startswith(str(full))]
        assert held == [], f"files on the full disk left open: {held}"
    finally:
        if subprocess.run(["umount", str(full)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(full)], capture_output=True)  # never leave it mounted


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:
        return ""


def test_a_fifo_or_a_device_as_input_is_refused_at_once(tmp_path):
    """Through the console script with a timeout: a FIFO must not block the read for ever."""
    fifo = tmp_path / "claims.csv"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")
    cfg = tmp_path / "c.toml"
    os.mkfifo(cfg)
    exe = Path(sys.executable).with_name("denial-risk")
    cases = [
        (["validate", "--data", fifo, "--rejects", tmp_path / "r.csv"], "named pipe (FIFO)"),
        (["score", "--data", fifo, "--out", tmp_path / "w.csv"], "named pipe (FIFO)"),
        (["report", "--scored", fifo, "--out", tmp_path / "r.html"], "named pipe (FIFO)"),
        (["train", "--data", zero], "is a device"),
        (["validate", "--data", "/dev/zero", "--rejects", tmp_path / "r.csv"], "unsupported file type"),
        (["train", "--data", tmp_path / "r.csv", "--config", cfg], "named pipe (FIFO)"),
    ]
    (tmp_path / "r.csv").write_text("claim_id\n")
    for argv, needle in cases:
        done = subprocess.run(
            [str(exe), *map(str, argv)], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        line = one_line(done.stderr)
        assert done.returncode == 2 and needle in line, (argv, line)


def test_outputs_of_a_failed_write_are_not_left_half_written(inputs, tmp_path, capsys, monkeypatch, run):
    """The rejects of a run that failed on the worklist are not left either (both are atomic)."""
    monkeypatch.setattr(files.pacsv, "CSVWriter", FullDiskWriter)
    out = tmp_path / "o"
    code, _, _ = run(commands(inputs, out)["score"], capsys)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == [] if out.exists() else True
    assert pd.read_csv(inputs["backlog"]).shape[0] == 300  # the input is untouched
