"""CSV outputs a spreadsheet cannot run: every formula payload, in every kind of column, through
the real `score` and `validate` commands; numbers and Parquet outputs keep their values; a
Parquet `list<string>` column is written to CSV as `|`-joined text."""

from __future__ import annotations

import itertools

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from denial_risk.tableio.files import FORMULA_START

PAYLOADS = [
    '=HYPERLINK("http://evil","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "\t=1+1",  # a leading TAB
    "\r=1+1",  # a leading CR
    "-2+3",
]
COLUMNS = ["claim_id", "patient_id", "payer_id", "modifiers", "note"]  # note: an extra column
CASES = list(itertools.product(PAYLOADS, COLUMNS))


@pytest.fixture(scope="module")
def champion(champion_store, tmp_path_factory):
    """The session model registered as denial-risk@champion in a store of this module's own."""
    with champion_store(tmp_path_factory.mktemp("store"), "test-output-safety") as uri:
        yield uri


@pytest.fixture(scope="module")
def hostile_csv(simulated_claims, tmp_path_factory):
    """A backlog where each payload sits in each column kind twice: once in a scorable row, once in a
    row rejected for a missing billed_amount. Line numbers are unique, so no row is a duplicate."""
    base = (
        simulated_claims.iloc[: 2 * len(CASES)]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .astype("string")
        .fillna("")
        .astype(str)
        .reset_index(drop=True)
    )
    base["note"] = "ok"
    base["line_number"] = [str(i + 1) for i in range(len(base))]
    for i, (payload, column) in enumerate(CASES):
        for row in (i, len(CASES) + i):
            base.loc[row, column] = payload
        base.loc[len(CASES) + i, "billed_amount"] = ""  # rejected
    path = tmp_path_factory.mktemp("hostile") / "backlog.csv"
    base.to_csv(path, index=False, quoting=1)  # QUOTE_ALL: a CR inside a cell stays in the cell
    return path, base


def _assert_safe(frame: pd.DataFrame, numeric: tuple[str, ...] = ()) -> None:
    """No text cell of a CSV output begins like a formula."""
    for col in frame.columns:
        if col in numeric:
            continue
        bad = frame[col][frame[col].str.startswith(FORMULA_START)]
        assert bad.empty, (col, bad.tolist())


def _assert_payloads_quoted(frame: pd.DataFrame, lines: list[int]) -> int:
    """Every payload cell comes back as `'` + the original; returns how many were checked."""
    by_line = frame.set_index("line_number")
    checked = 0
    for i, (payload, column) in enumerate(CASES):
        line = str(lines[i])
        assert by_line.loc[line, column] == "'" + payload, (payload, column)
        checked += 1
    return checked


def test_score_worklist_and_rejects_carry_no_formula(champion, hostile_csv, tmp_path, capsys, run):
    path, base = hostile_csv
    out = tmp_path / "worklist.csv"
    code, stdout, err = run(["score", "--data", str(path), "--out", str(out), "--model", champion], capsys)
    assert code == 0, err
    assert f"{2 * len(CASES)} lines: {len(CASES)} scored, {len(CASES)} rejected" in stdout
    worklist = pd.read_csv(out, dtype=str, keep_default_na=False)
    rejects = pd.read_csv(tmp_path / "worklist.rejects.csv", dtype=str, keep_default_na=False)
    assert _assert_payloads_quoted(worklist, list(range(1, len(CASES) + 1))) == 30
    assert _assert_payloads_quoted(rejects, list(range(len(CASES) + 1, 2 * len(CASES) + 1))) == 30
    _assert_safe(worklist)
    _assert_safe(rejects)
    # the same run to Parquet keeps every original value
    code, _, err = run(
        ["score", "--data", str(path), "--out", str(tmp_path / "w.parquet"), "--model", champion], capsys
    )
    assert code == 0, err
    for name in ("w.parquet", "w.rejects.parquet"):
        got = pd.read_parquet(tmp_path / name).set_index("line_number")
        expect = base.set_index("line_number").loc[got.index]
        for column in COLUMNS:
            assert got[column].tolist() == expect[column].tolist(), (name, column)


def test_validate_rejects_carry_no_formula(hostile_csv, tmp_path, capsys, run):
    path, _ = hostile_csv
    rejects = tmp_path / "r.csv"
    code, _, err = run(["validate", "--data", str(path), "--rejects", str(rejects)], capsys)
    assert code == 0, err
    got = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert _assert_payloads_quoted(got, list(range(len(CASES) + 1, 2 * len(CASES) + 1))) == 30
    _assert_safe(got)


def test_typed_parquet_input_numbers_stay_numbers_and_lists_become_text(
    champion, simulated_claims, tmp_path, capsys, run
):
    """Negative floats and ints written as numbers are not quoted; a list<string> modifiers column
    (which pyarrow's CSV writer refuses: ArrowInvalid) is written as `|`-joined text."""
    raw = (
        simulated_claims.iloc[:40]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .reset_index(drop=True)
    )
    table = pa.Table.from_pandas(raw.drop(columns=["modifiers"]), preserve_index=False)
    mods = [m.split("|") if m else [] for m in raw["modifiers"].fillna("").astype(str)]
    mods[0] = ["=1", "KX"]
    table = table.append_column("modifiers", pa.array(mods, pa.list_(pa.string())))
    table = table.append_column("adjustment", pa.array([-12.5] * 40, pa.float64()))
    table = table.append_column("delta_days", pa.array([-3] * 40, pa.int64()))
    table = table.append_column("memo", pa.array(["-2+3"] * 40, pa.string()))
    data = tmp_path / "typed.parquet"
    pq.write_table(table, data)
    out = tmp_path / "w.csv"
    code, _, err = run(["score", "--data", str(data), "--out", str(out), "--model", champion], capsys)
    assert code == 0, err
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(got["adjustment"]) == {"-12.5"} and set(got["delta_days"]) == {"-3"}
    assert set(got["memo"]) == {"'-2+3"}
    first = got.set_index(["claim_id", "line_number"]).loc[
        (str(raw.loc[0, "claim_id"]), str(raw.loc[0, "line_number"])), "modifiers"
    ]
    assert first == "'=1|KX"
    assert (got["modifiers"].str.contains(r"^\[|', '", regex=True)).sum() == 0  # no list repr
    assert float(got["expected_loss"].astype(float).min()) >= 0
    _assert_safe(got, numeric=("adjustment", "delta_days"))
