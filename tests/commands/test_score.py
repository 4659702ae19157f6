"""`denial-risk score`: exit codes, nothing written on a mistake, --top, registry URI = exported folder."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture()
def small_csv(simulated_claims, tmp_path):
    path = tmp_path / "in" / "backlog.csv"
    path.parent.mkdir()
    simulated_claims.iloc[:400].drop(columns=["denied", "denial_reason", "paid_amount"]).to_csv(
        path, index=False
    )
    return path


def test_missing_file_column_and_bad_options_exit_2_and_write_nothing(small_csv, tmp_path, capsys, run):
    out = tmp_path / "o" / "w.csv"
    cases = [
        ["score", "--data", str(tmp_path / "nope.csv"), "--out", str(out)],
        ["score", "--data", str(small_csv), "--out", str(tmp_path / "o" / "w.xlsx")],
        ["score", "--data", str(small_csv), "--out", str(out), "--engine", "spark"],
        ["score", "--data", str(small_csv), "--out", str(out), "--engine", "gpu"],
        ["score", "--data", str(small_csv), "--out", str(out), "--top", "-1"],
        ["score", "--data", str(small_csv), "--out", str(out), "--model", str(tmp_path / "no-model")],
    ]
    bad = tmp_path / "bad.csv"
    pd.read_csv(small_csv, dtype=str).drop(columns=["hcpcs_code"]).to_csv(bad, index=False)
    cases.append(["score", "--data", str(bad), "--out", str(out)])
    for argv in cases:
        code, stdout, err = run(argv, capsys)
        assert code == 2, (argv, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    spark_err = run(cases[2], capsys)[2]
    import importlib.util

    if importlib.util.find_spec("pyspark") is None:
        assert "'spark' extra" in spark_err
    else:  # with the extra installed, the Spark engine refuses a non-Parquet output, naming --out
        assert "--out" in spark_err and "Parquet" in spark_err
    assert "hcpcs_code" in run(cases[-1], capsys)[2]


def test_top_prints_and_exported_folder_scores_like_the_registry(
    registered, small_csv, tmp_path, capsys, run
):
    out_reg = tmp_path / "reg" / "worklist.csv"
    code, stdout, err = run(["score", "--data", str(small_csv), "--out", str(out_reg), "--top", "3"], capsys)
    assert code == 0, err
    assert "400 lines: 400 scored, 0 rejected" in stdout
    assert "first 3 worklist lines" in stdout and "why:" in stdout
    table = stdout.split("first 3 worklist lines:")[1].strip().splitlines()
    assert table[0].split()[:3] == ["rank", "claim", "line"]
    assert [ln.split()[0] for ln in table[2:] if ln[:4].strip().isdigit()] == ["1", "2", "3"]
    assert str(out_reg) in stdout and "worklist.rejects.csv" in stdout

    out_dir = tmp_path / "dir" / "worklist.csv"
    folder, digest = registered
    code, _, err = run(
        ["score", "--data", str(small_csv), "--out", str(out_dir), "--model", str(folder)]
        + ["--model-sha256", digest],
        capsys,
    )
    assert code == 0, err
    a = pd.read_csv(out_reg, dtype=str, keep_default_na=False)
    b = pd.read_csv(out_dir, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)


def test_a_killed_runs_work_folder_is_removed_by_the_next_run(
    registered, simulated_claims, tmp_path, capsys, run
):
    """SIGKILL leaves `.worklist.csv.<pid>-*.work` (scored rows, patient ids included) and the
    rejects' `.partial`; the next run on the same output removes them."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    big = tmp_path / "in" / "big.csv"
    big.parent.mkdir()
    parts = []
    for k in range(3):
        part = simulated_claims.drop(columns=["denied", "denial_reason", "paid_amount"]).copy()
        part["claim_id"] = part["claim_id"].astype(str) + f"-{k}"
        parts.append(part)
    pd.concat(parts).to_csv(big, index=False)
    out = tmp_path / "o" / "worklist.csv"
    exe = Path(sys.executable).with_name("denial-risk")
    proc = subprocess.Popen(
        [str(exe), "score", "--data", str(big), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"]},
    )
    deadline = time.monotonic() + 300
    left = []
    while time.monotonic() < deadline and proc.poll() is None:
        left = list(out.parent.glob(".worklist.csv.*.work")) if out.parent.exists() else []
        if left and list(left[0].glob("*")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert left and left[0].name.startswith(f".worklist.csv.{proc.pid}-") and left[0].exists()
    assert not out.exists()

    small = big.parent / "small.csv"
    simulated_claims.iloc[:50].drop(columns=["denied", "denial_reason", "paid_amount"]).to_csv(
        small, index=False
    )
    code, stdout, err = run(["score", "--data", str(small), "--out", str(out)], capsys)
    assert code == 0, err
    assert "left-over(s) of an interrupted run" in stdout
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "worklist.claims.csv",
        "worklist.csv",
        "worklist.rejects.csv",
    ]


def test_top_by_claim_prints_the_first_claims(registered, small_csv, tmp_path, capsys, run):
    out = tmp_path / "w" / "worklist.csv"
    code, stdout, err = run(
        ["score", "--data", str(small_csv), "--out", str(out), "--top", "4", "--by", "claim"], capsys
    )
    assert code == 0, err
    assert "worklist.claims.csv" in stdout and "first 4 claims:" in stdout
    table = stdout.split("first 4 claims:")[1].strip().splitlines()
    assert table[0].split()[:4] == ["rank", "claim", "payer", "lines"]
    rows = [ln.split() for ln in table[2:] if ln[:4].strip().isdigit()]
    claims = pd.read_csv(out.with_name("worklist.claims.csv"), dtype=str, keep_default_na=False)
    assert [r[:2] for r in rows] == [[str(k + 1), c] for k, c in enumerate(claims["claim_id"][:4])]
    assert run(["score", "--data", str(small_csv), "--out", str(out), "--by", "patient"], capsys)[0] == 2
