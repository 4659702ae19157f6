"""`denial-risk score` on files as they really arrive: dates written MM/DD/YYYY, a semicolon-delimited
export, a spreadsheet saved under a .csv name, some rows rejected, and a worklist scored again."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import schema


@pytest.fixture()
def backlog(simulated_claims, tmp_path):
    """400 unlabelled lines as text, as a file holds them."""
    frame = simulated_claims.iloc[:400].drop(columns=["denied", "denial_reason", "paid_amount"])
    return frame.astype(str).reset_index(drop=True)


def _score(run, capsys, data, out, *extra):
    return run(["score", "--data", data, "--out", out, *extra], capsys)


def test_every_row_rejected_is_exit_2_with_the_reason_and_an_example_and_writes_nothing(
    registered, backlog, tmp_path, capsys, run
):
    us_dates = pd.to_datetime(backlog["service_date"]).dt.strftime("%m/%d/%Y")
    data = tmp_path / "us_dates.csv"
    backlog.assign(service_date=us_dates).to_csv(data, index=False)
    out = tmp_path / "o" / "worklist.csv"
    code, stdout, err = _score(run, capsys, data, out)
    assert code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    first = us_dates.iloc[0]
    assert line == (
        f"error: --data {data}: all 400 rows rejected, nothing written: service_date: 400 rows unparseable, "
        f"e.g. '{first}'; dates must be YYYY-MM-DD or YYYYMMDD"
    )
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())  # no partial output


def test_some_rows_rejected_prints_the_counts_by_reason_and_exits_0(
    registered, backlog, tmp_path, capsys, run
):
    bad = backlog.copy()
    bad.loc[[3, 4, 5], "service_date"] = "03/15/2025"
    bad.loc[[5, 9], "billed_amount"] = "12,50 EUR"
    bad.loc[11, "claim_id"] = ""
    data = tmp_path / "some_bad.csv"
    bad.to_csv(data, index=False)
    code, stdout, err = _score(run, capsys, data, tmp_path / "worklist.csv")
    assert code == 0, err
    assert "400 lines: 395 scored, 5 rejected" in stdout
    rejected = [ln.strip() for ln in stdout.splitlines() if ln.strip().startswith("rejected:")]
    assert rejected == [
        "rejected: service_date: 3 rows unparseable, e.g. '03/15/2025'; dates must be YYYY-MM-DD or YYYYMMDD",
        "rejected: billed_amount: 2 rows unparseable, e.g. '12,50 EUR'; amounts are plain numbers such as "
        "1234.50 or $1,234.50",
        "rejected: claim_id: 1 row missing",
    ]
    assert len(pd.read_csv(tmp_path / "worklist.rejects.csv")) == 5


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_another_delimiter_is_named(backlog, tmp_path, capsys, run, sep, name):
    data = tmp_path / "export.csv"
    backlog.to_csv(data, index=False, sep=sep)
    code, _, err = _score(run, capsys, data, tmp_path / "w.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"looks {name}-delimited" in err and "missing required column" not in err
    assert not (tmp_path / "w.csv").exists()


def _xlsx(path) -> None:
    """A minimal Office Open XML workbook: a zip archive, as Excel writes it."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        z.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet/>')


@pytest.mark.parametrize("kind", ["xlsx", "xls"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_spreadsheet_under_a_csv_or_parquet_name_is_named(tmp_path, capsys, run, kind, suffix):
    data = tmp_path / f"claims{suffix}"
    if kind == "xlsx":
        _xlsx(data)
    else:  # an OLE2 compound file header, as Excel 97-2003 writes it
        data.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504)
    code, _, err = _score(run, capsys, data, tmp_path / "w.csv")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "is a spreadsheet" in err and "export the sheet as CSV" in err
    assert "UTF-8" in err.split("export")[1]  # the advice, not "the header row is not valid UTF-8"
    assert not (tmp_path / "w.csv").exists()


def test_a_scored_file_scored_again_has_its_columns_replaced_once(registered, backlog, tmp_path, capsys, run):
    data = tmp_path / "backlog.csv"
    backlog.to_csv(data, index=False)
    first, again = tmp_path / "first.csv", tmp_path / "again.csv"
    assert _score(run, capsys, data, first)[0] == 0
    code, _, err = _score(run, capsys, first, again)
    assert code == 0, err
    assert "Downloading artifacts" not in err  # no MLflow progress bars off a terminal
    warnings = [ln for ln in err.splitlines() if "already scored" in ln]
    assert warnings == [
        f"warning: --data {first} is already scored: its columns {', '.join(schema.ADDED)} are "
        "replaced by the new score"
    ]
    a = pd.read_csv(first, dtype=str, keep_default_na=False)
    b = pd.read_csv(again, dtype=str, keep_default_na=False)
    assert list(b.columns) == list(a.columns)  # each added column once, in the contract's order
    np.testing.assert_allclose(
        b["denial_probability"].astype(float), a["denial_probability"].astype(float), atol=1e-9
    )
    assert (b["risk_rank"] == a["risk_rank"]).all()
