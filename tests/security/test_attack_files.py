"""Issue 25 F7, F10: SIGTERM to `validate` left a `.partial` of rejected rows (patient ids
included); a legal 240-character output name failed after the work, because the temporary name
was longer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def all_rejected(simulated_claims, tmp_path_factory):
    """~120k lines, every one rejected (no billed amount): the rejects file grows from the start."""
    frame = pd.concat([simulated_claims] * 10, ignore_index=True)
    frame["billed_amount"] = ""
    path = tmp_path_factory.mktemp("big") / "claims.csv"
    frame.to_csv(path, index=False)
    return path


def test_f7_sigterm_to_validate_leaves_no_partial(all_rejected, tmp_path):
    out = tmp_path / "rejects.csv"
    argv = [sys.executable, "-m", "denial_risk.cli", "validate", "--data", str(all_rejected)]
    proc = subprocess.Popen([*argv, "--rejects", str(out)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".rejects.csv.*.partial")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert proc.poll() is None, "validate ended before its .partial was seen"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read().decode()[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_f10_a_legal_long_name_is_written(claims_csv, tmp_path, capsys, run):
    from denial_risk.tableio.files import check_name_fits  # noqa: F401 - the check exists

    name = "r" * (240 - len(".csv")) + ".csv"
    out = tmp_path / name
    code, _, err = run(["validate", "--data", claims_csv, "--rejects", out], capsys)
    assert code == 0, err
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == [name]


def test_f10_a_name_too_long_is_refused_before_the_work(claims_csv, tmp_path, capsys, run):
    out = tmp_path / ("r" * 300 + ".csv")
    started = time.monotonic()
    code, out_text, err = run(["validate", "--data", claims_csv, "--rejects", out], capsys)
    assert code == 2 and "longer than the 255" in err and err.count("\n") == 1, err
    assert time.monotonic() - started < 30
    assert list(tmp_path.iterdir()) == []


def test_f10_score_checks_its_rejects_name_before_the_model_loads(claims_csv, tmp_path, capsys, run):
    """`w.rejects.csv` is 8 bytes longer than `--out`: a name that fits only without them is refused
    before any work (the model is not even found: no store here)."""
    out = tmp_path / ("w" * (255 - len(".csv") - 4) + ".csv")
    assert len(os.fsencode(out.name)) <= 255
    code, _, err = run(["score", "--data", claims_csv, "--out", out, "--model", "nowhere"], capsys)
    assert code == 2 and "rejects file" in err and "longer than" in err, err


@pytest.mark.parametrize("margin", ["nan", "inf", "-inf", "NaN"])
def test_promote_refuses_a_margin_that_is_not_a_number(margin, tmp_path, monkeypatch, capsys, run):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["promote", "--margin", margin], capsys)
    assert code == 2 and "--margin" in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []
