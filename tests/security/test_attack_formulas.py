"""Issue 25 F4, F5: spreadsheet formulas in a header cell, or in text held as an Arrow type other
than `string`, reached CSV outputs as is. Also the full-width and leading-space forms."""

from __future__ import annotations

import csv

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

PAYLOADS = ["=1+2", "@SUM(1)", "+1", "-2+3", " =1+2", "\u3000=1+2", "\uff1d1+2", "\uff20SUM(1)", "\tx"]
TYPES = {
    "string": pa.string(),
    "large_string": pa.large_string(),
    "string_view": pa.string_view(),
    "binary": pa.binary(),
    "large_binary": pa.large_binary(),
    "binary_view": pa.binary_view(),
    "dictionary": pa.dictionary(pa.int32(), pa.string()),
    "dictionary_binary": pa.dictionary(pa.int32(), pa.binary()),
}


def _column(values, t):
    if pa.types.is_dictionary(t):
        return pa.array(values, pa.string()).dictionary_encode().cast(t)
    return pa.array(values, pa.string()).cast(t)


def _cells(path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _formula_like(cell: str) -> bool:
    stripped = cell.lstrip(" \u00a0\u3000")
    return cell[:1] in ("\t", "\r") or stripped[:1] in tuple("=+-@\uff1d\uff0b\uff0d\uff20")


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_f5_every_string_like_arrow_type_is_neutralised(kind, tmp_path):
    from denial_risk.tableio.files import TableWriter

    out = tmp_path / "t.csv"
    with TableWriter(out) as w:
        w.write_arrow(pa.table({"note": _column(PAYLOADS + ["plain"], TYPES[kind])}))
    _, rows = _cells(out)
    cells = [r[0] for r in rows]
    assert cells[-1] == "plain"
    for payload, cell in zip(PAYLOADS, cells):
        assert cell == "'" + payload, (kind, payload, cell)


def test_f4_a_header_cell_is_neutralised_in_every_table(tmp_path):
    from denial_risk.tableio.files import TableWriter

    out = tmp_path / "t.csv"
    with TableWriter(out) as w:
        w.write(pd.DataFrame({"=1+2": ["a"], "@SUM(1)": ["b"], "claim_id": ["c"]}))
        w.write(pd.DataFrame({"=1+2": ["d"], "@SUM(1)": ["e"], "claim_id": ["f"]}))
    header, rows = _cells(out)
    assert header == ["'=1+2", "'@SUM(1)", "claim_id"]
    assert rows == [["a", "b", "c"], ["d", "e", "f"]]


def test_f4_f5_validate_rejects_from_a_binary_parquet(simulated_claims, tmp_path, capsys, run):
    """A Parquet file as Hive or older Spark writes it: text as `binary`, and an extra column
    whose name is a formula; every rejected row's cells and the header are neutralised."""
    frame = simulated_claims.iloc[:40].drop(columns=["true_denial_probability"]).astype(str).copy()
    frame["billed_amount"] = ""  # every row rejected, so every value reaches the rejects file
    frame["note"] = (PAYLOADS * 10)[:40]
    frame["=1+2"] = "@SUM(1)"
    frame["claim_id"] = ["=HYPERLINK(1)"] * 40
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = pa.table({n: table.column(n).cast(pa.binary()) for n in table.column_names})
    data = tmp_path / "claims.parquet"
    pq.write_table(table, data)
    rejects = tmp_path / "rejects.csv"
    code, _, err = run(["validate", "--data", data, "--rejects", rejects], capsys)
    assert code == 0, err
    header, rows = _cells(rejects)
    assert len(rows) == 40
    assert "'=1+2" in header and "=1+2" not in header
    for row in [header, *rows]:
        for cell in row:
            assert not _formula_like(cell), cell
