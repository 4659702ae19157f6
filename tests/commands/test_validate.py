"""`denial-risk validate --data PATH --rejects PATH`: counts per reason, rejects file, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from denial_risk.claims.contract_check import validate_file
from denial_risk.cli import main

HEADER = (
    "claim_id,line_number,service_date,payer_type,hcpcs_code,modifiers,diagnosis_codes,billed_amount,note\n"
)
BROKEN = HEADER + (
    "A,1,2024-01-05,medicare,L0627,KX,M54.50,100,fine\n"
    "A,1,2024-01-06,medicare,L0627,KX,M54.50,100,dup\n"
    ",1,2024-01-05,medicare,L0627,KX,M54.50,100,no id\n"
    "E,1,2024-02-30,medicare,L0627,KX,M54.50,-1,bad date and negative\n"
    "H,1,2024-01-05,medicare\n"
    'I,1,20240105,Medicaid,l0627,"kx, rt",m54.50,"$1,234.50",ok\n'
)


def run(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def broken_csv(tmp_path: Path) -> Path:
    p = tmp_path / "claims.csv"
    p.write_text(BROKEN)
    return p


def test_counts_per_reason_and_rejects_file(tmp_path, broken_csv):
    rejects = tmp_path / "out" / "claims.rejects.csv"
    code, out, err = run("validate", "--data", str(broken_csv), "--rejects", str(rejects))
    assert code == 0, err
    assert "6 rows: 2 scorable, 4 rejected" in out
    for line in (
        "1  claim_id+line_number: duplicate of an earlier row",
        "1  claim_id: missing",
        "1  service_date: unparseable date",
        "1  billed_amount: negative amount",
        "1  row: has 4 fields, the header has 9",
    ):
        assert line in out
    df = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert len(df) == 4
    assert df["reject_reason"].tolist()[2] == (
        "service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD); billed_amount: negative amount"
    )
    assert df["raw_line"].tolist()[3] == "H,1,2024-01-05,medicare"
    assert df["note"].tolist()[:3] == ["dup", "no id", "bad date and negative"]  # original values kept
    assert list(df.columns)[:9] == HEADER.strip().split(",")


def test_rejects_as_parquet(tmp_path, broken_csv):
    rejects = tmp_path / "r.parquet"
    code, _, err = run("validate", "--data", str(broken_csv), "--rejects", str(rejects))
    assert code == 0, err
    assert pq.read_table(rejects).num_rows == 4


def test_parquet_input_with_typed_columns(tmp_path):
    table = pa.table(
        {
            "claim_id": ["A", "B", None],
            "service_date": pa.array([19000, 19001, 19002], pa.date32()),
            "payer_type": ["medicare"] * 3,
            "hcpcs_code": ["L0627"] * 3,
            "modifiers": ["KX"] * 3,
            "diagnosis_codes": ["M54.50"] * 3,
            "billed_amount": [10.0, -1.0, 5.0],
            "has_prior_auth": [True, None, False],
        }
    )
    data = tmp_path / "c.parquet"
    pq.write_table(table, data)
    code, out, err = run("validate", "--data", str(data), "--rejects", str(tmp_path / "r.csv"))
    assert code == 0, err
    assert "3 rows: 1 scorable, 2 rejected" in out


def test_header_only_file_exit_0_rejects_file_has_header(tmp_path):
    data = tmp_path / "h.csv"
    data.write_text(HEADER)
    rejects = tmp_path / "r.csv"
    code, out, err = run("validate", "--data", str(data), "--rejects", str(rejects))
    assert code == 0, err
    assert "0 rows: 0 scorable, 0 rejected" in out
    assert rejects.read_text().strip().split(",")[-2:] == ['"reject_reason"', '"raw_line"']


def _assert_user_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_missing_file_exit_2_no_output(tmp_path):
    rejects = tmp_path / "r.csv"
    code, out, err = run("validate", "--data", str(tmp_path / "nope.csv"), "--rejects", str(rejects))
    _assert_user_error(code, err, "nope.csv", "file not found")
    assert not rejects.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "column",
    ["claim_id", "service_date", "payer_type", "hcpcs_code", "modifiers", "diagnosis_codes", "billed_amount"],
)
def test_missing_required_column_exit_2_names_it(tmp_path, column):
    cols = [c for c in HEADER.strip().split(",") if c != column]
    data = tmp_path / "c.csv"
    data.write_text(",".join(cols) + "\n" + ",".join("x" for _ in cols) + "\n")
    rejects = tmp_path / "r.csv"
    code, _, err = run("validate", "--data", str(data), "--rejects", str(rejects))
    _assert_user_error(code, err, "c.csv", f"'{column}'")
    assert not rejects.exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"", "empty file"),
        (b"claim_id,claim_id,service_date\n", "appears more than once"),
        (b"claim_\xff_id,x\n1,2\n", "not valid UTF-8"),
    ],
)
def test_unreadable_files_exit_2(tmp_path, content, needle):
    data = tmp_path / "c.csv"
    data.write_bytes(content)
    code, _, err = run("validate", "--data", str(data), "--rejects", str(tmp_path / "r.csv"))
    _assert_user_error(code, err, "c.csv", needle)
    assert not (tmp_path / "r.csv").exists()


def test_bad_options_exit_2(tmp_path, broken_csv):
    code, _, err = run("validate", "--data", str(broken_csv), "--rejects", str(tmp_path / "r.xlsx"))
    _assert_user_error(code, err, "--rejects", ".xlsx")
    code, _, err = run("validate", "--data", str(tmp_path / "c.txt"), "--rejects", str(tmp_path / "r.csv"))
    _assert_user_error(code, err, "--data", ".txt")
    code, _, err = run("validate", "--data", str(broken_csv))
    _assert_user_error(code, err, "--rejects")
    code, _, err = run("validate", "--data", str(broken_csv), "--rejects", str(broken_csv))
    _assert_user_error(code, err, "--rejects")
    assert broken_csv.read_text() == BROKEN  # the input is never overwritten


def test_invalid_utf8_rows_are_rejects_not_a_crash(tmp_path):
    data = tmp_path / "latin1.csv"
    data.write_bytes(
        (HEADER + "A,1,2024-01-05,medicare,L0627,KX,M54.50,100,caf").encode()
        + b"\xe9\n"
        + b"B,1,2024-01-05,medicare,L0627,KX,M54.50,100,ok\n"
    )
    code, out, err = run("validate", "--data", str(data), "--rejects", str(tmp_path / "r.csv"))
    assert code == 0, err
    assert "2 rows: 1 scorable, 1 rejected" in out
    assert "note: not valid UTF-8" in out
    # the rejects file keeps the row's original bytes: raw_line read as Latin-1 (docs/claims.md)
    got = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    assert got["note"].tolist() == ["caf\ufffd"]
    assert got["raw_line"].tolist() == ["A,1,2024-01-05,medicare,L0627,KX,M54.50,100,café"]
    assert got["raw_line"][0].encode("latin-1") == data.read_bytes().splitlines()[1]


def test_many_chunks_same_result_as_one(tmp_path, broken_csv):
    one = validate_file(broken_csv, tmp_path / "a.csv")
    many = validate_file(broken_csv, tmp_path / "b.csv", block_bytes=64)
    assert (one.rows, one.scorable, one.rejected, one.reasons) == (
        many.rows,
        many.scorable,
        many.rejected,
        many.reasons,
    )
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_console_script_end_to_end(tmp_path, broken_csv):
    exe = Path(sys.executable).with_name("denial-risk")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "denial_risk.cli"]
    ok = subprocess.run(
        [*cmd, "validate", "--data", str(broken_csv), "--rejects", str(tmp_path / "r.csv")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert ok.returncode == 0, ok.stderr
    assert "4 rejected" in ok.stdout
    bad = subprocess.run(
        [*cmd, "validate", "--data", str(tmp_path / "missing.csv"), "--rejects", str(tmp_path / "r2.csv")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert (
        bad.stderr.strip().count("\n") == 0 and "missing.csv" in bad.stderr and "Traceback" not in bad.stderr
    )
