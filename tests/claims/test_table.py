"""The claim table on real files: rows in = scorable + rejected, always.

CSV and Parquet files with broken rows, typed Parquet columns, invalid bytes,
duplicates across chunks, and property-based tests (hypothesis) that no string
in any column makes the reader or the normaliser raise, only reject.
"""

from __future__ import annotations

import csv
import io
import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from denial_risk.claims.table import RAW_LINE, ClaimTable, load_claims
from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON, normalize_chunk
from denial_risk.errors import UserError

HEADER = [
    "claim_id",
    "line_number",
    "service_date",
    "payer_type",
    "hcpcs_code",
    "modifiers",
    "diagnosis_codes",
    "billed_amount",
    "has_prior_auth",
    "note",
]

GOOD = ["C1", "1", "2024-01-05", "medicare", "L0627", "KX|RT", "M54.50", "100.00", "y", "ok"]


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    buf = io.StringIO()
    # CRLF: Python's writer then quotes a lone "\r" in a value (unquoted, it ends the row)
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def good_rows(n: int, start: int = 0) -> list[list[str]]:
    return [[f"C{i}", *GOOD[1:]] for i in range(start, start + n)]


def collect(path, **opts):
    table = ClaimTable(path, **opts)
    chunks = list(table.chunks())
    clean = pd.concat([c.clean for c in chunks]) if chunks else pd.DataFrame()
    rejects = pd.concat([c.rejects for c in chunks]) if chunks else pd.DataFrame()
    return table, chunks, clean, rejects


def assert_accounted(clean: pd.DataFrame, rejects: pd.DataFrame, rows_in: int) -> None:
    """Every input row is exactly once scorable or rejected, at its input position."""
    assert len(clean) + len(rejects) == rows_in
    positions = sorted([*clean.index.tolist(), *rejects.index.tolist()])
    assert positions == list(range(rows_in))


BROKEN_CSV = (
    "claim_id,line_number,service_date,payer_type,hcpcs_code,modifiers,diagnosis_codes,billed_amount,note\n"
    "A,1,2024-01-05,medicare,L0627,KX,M54.50,100,fine\n"  # 0 ok
    "A,1,2024-01-06,medicare,L0627,KX,M54.50,100,dup\n"  # 1 duplicate
    ",1,2024-01-05,medicare,L0627,KX,M54.50,100,no id\n"  # 2 missing claim_id
    "B,1,,medicare,L0627,KX,M54.50,100,no date\n"  # 3 missing service_date
    "C,1,2024-01-05,medicare,,KX,M54.50,100,no code\n"  # 4 missing hcpcs
    "D,1,2024-01-05,medicare,L0627,KX,M54.50,,no amount\n"  # 5 missing billed_amount
    "E,1,2024-02-30,medicare,L0627,KX,M54.50,100,bad date\n"  # 6 impossible date
    "F,1,2024-01-05,medicare,L0627,KX,M54.50,12abc,bad amount\n"  # 7 unparseable amount
    "G,1,2024-01-05,medicare,L0627,KX,M54.50,-3,negative\n"  # 8 negative
    "H,1,2024-01-05,medicare\n"  # 9 too few fields
    'I,1,20240105,Medicaid,l0627,"kx, rt","m54.50 M48.06","$1,234.50",ok\n'  # 10 ok
    "J,1,2024-01-05,medicare,L0627,KX,M54.50,100,too,many\n"  # 11 too many fields
    "K,2,2024-01-05,medicare,L0627,KX,M54.50,100,last\n"  # 12 ok
)

EXPECTED_REASONS = {
    1: "claim_id+line_number: duplicate of an earlier row",
    2: "claim_id: missing",
    3: "service_date: missing",
    4: "hcpcs_code: missing",
    5: "billed_amount: missing",
    6: "service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD)",
    7: "billed_amount: unparseable amount",
    8: "billed_amount: negative amount",
    9: "row: has 4 fields, the header has 9",
    11: "row: has 10 fields, the header has 9",
}


@pytest.mark.parametrize("block_bytes", [1 << 20, 64, 200])
def test_broken_csv_every_row_accounted_with_its_reason(tmp_path, block_bytes):
    p = tmp_path / "broken.csv"
    p.write_text(BROKEN_CSV)
    table, chunks, clean, rejects = collect(p, block_bytes=block_bytes)
    assert_accounted(clean, rejects, 13)
    assert rejects[REJECT_REASON].to_dict() == EXPECTED_REASONS
    assert clean.index.tolist() == [0, 10, 12]
    # malformed rows keep their raw line; other rejects keep their original values
    assert rejects.loc[9, RAW_LINE] == "H,1,2024-01-05,medicare"
    assert rejects.loc[11, RAW_LINE] == "J,1,2024-01-05,medicare,L0627,KX,M54.50,100,too,many"
    assert rejects.loc[7, "billed_amount"] == "12abc"
    assert pd.isna(rejects.loc[7, RAW_LINE])
    assert list(rejects.columns) == [*table.columns, REJECT_REASON, RAW_LINE]
    # each chunk's rejects are in input order
    for c in chunks:
        assert c.rejects.index.is_monotonic_increasing
    row = clean.loc[10]
    assert (row["modifiers"], row["diagnosis_codes"], row["billed_amount"]) == (
        "KX|RT",
        "M5450|M4806",
        1234.5,
    )
    assert row["service_date"] == pd.Timestamp("2024-01-05") and row["payer_type"] == "medicaid"


def test_duplicates_across_many_chunks(tmp_path):
    rows = good_rows(60)
    rows += [["C5", *GOOD[1:]], ["C50", *GOOD[1:]], ["C50", "2", *GOOD[2:]], ["C59", "1.0", *GOOD[2:]]]
    p = tmp_path / "dups.csv"
    p.write_text(csv_text(rows))
    table, chunks, clean, rejects = collect(p, block_bytes=512)
    assert len(chunks) > 5
    assert_accounted(clean, rejects, 64)
    assert rejects.index.tolist() == [60, 61, 63]
    assert set(rejects[REJECT_REASON]) == {"claim_id+line_number: duplicate of an earlier row"}


def test_file_larger_than_block_yields_several_chunks(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text(csv_text(good_rows(1000)))
    table, chunks, clean, rejects = collect(p, block_bytes=8192)
    assert len(chunks) >= 5
    assert max(len(c.raw) for c in chunks) < 1000
    assert_accounted(clean, rejects, 1000)
    assert clean.index.is_monotonic_increasing


def test_invalid_utf8_rows_are_rejected_not_fatal(tmp_path):
    text = csv_text(good_rows(3)).encode()
    text = text.replace(b"C1,", b"C\xff1,").replace(
        b"C2,1,2024-01-05,medicare,L0627,KX|RT,M54.50,100.00,y,ok",
        b"C2,1,2024-01-05,medicare,L0627,KX|RT,M54.50,-1,y,\xe9",
    )
    p = tmp_path / "latin1.csv"
    p.write_bytes(text)
    _, _, clean, rejects = collect(p)
    assert_accounted(clean, rejects, 3)
    assert rejects[REJECT_REASON].to_dict() == {
        1: "claim_id: not valid UTF-8",
        2: "billed_amount: negative amount; note: not valid UTF-8",
    }
    assert rejects.loc[1, "claim_id"] == "C\ufffd1"
    # raw_line keeps the original bytes, read as Latin-1 (encode("latin-1") gives them back)
    assert rejects.loc[1, RAW_LINE].encode("latin-1") == text.split(b"\r\n")[2]
    assert rejects.loc[2, RAW_LINE].encode("latin-1") == text.split(b"\r\n")[3]


@pytest.mark.parametrize("block_bytes", [64, 200, 1 << 20])
def test_rows_that_are_not_utf8_keep_their_bytes_whatever_the_layout(tmp_path, block_bytes):
    """Latin-1 and cp1252 bytes, a quoted value over two lines, a malformed row, blank lines, CR-only
    line ends, a BOM: every rejected row's raw_line is exactly its bytes (without the line end)."""
    body = [
        b"C0,1,2024-01-05,medicare,L0627,KX,M54.50,100.00,y,ok",
        b"C1,1,2024-01-05,medicare,L0627,KX,M54.50,100.00,y,caf\xe9 cr\xe8me",
        b"",  # a blank line: not a row
        b'C2,1,2024-01-05,medicare,L0627,KX,M54.50,100.00,y,"two\nlines \x93quoted\x94"',
        b"C3,1,2024-01-05,medicare,L0627,KX,M54.50,\xa3100",  # malformed (9 fields) and not UTF-8
        b'C4,1,2024-01-05,medicare,L0627,KX,M54.50,100.00,y,12" brace \xb0',  # a quote inside a field
        b"C5,1,2024-01-05,medicare,L0627,KX,M54.50,100.00,y,\xc3\xa9t\xc3\xa9",  # valid UTF-8: scored
    ]
    header = b"\xef\xbb\xbf" + ",".join(HEADER).encode()
    for end in (b"\n", b"\r"):
        data = end.join([header, b"", *body]) + end  # a blank line after the header too
        p = tmp_path / f"mixed{len(end)}{end!r}.csv"
        p.write_bytes(data)
        _, _, clean, rejects = collect(p, block_bytes=block_bytes)
        assert_accounted(clean, rejects, 6)
        assert sorted(clean["claim_id"]) == ["C0", "C5"]
        raw = rejects[RAW_LINE].to_dict()
        expected = {1: body[1], 2: body[3], 3: body[4], 4: body[5]}
        assert {k: v.encode("latin-1") for k, v in raw.items()} == expected


def test_header_only_and_missing_required_column(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text(",".join(HEADER) + "\n")
    clean, rejects = load_claims(p)
    assert clean.empty and rejects.empty
    assert str(clean["billed_amount"].dtype) == "float64"
    assert REJECT_REASON in rejects.columns
    q = tmp_path / "m.csv"
    q.write_text("claim_id,service_date\nA,2024-01-01\n")
    with pytest.raises(UserError, match="m.csv: missing required column 'payer_type'"):
        ClaimTable(q)


def test_load_claims_in_input_order(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text(BROKEN_CSV)
    clean, rejects = load_claims(p)
    assert_accounted(clean, rejects, 13)
    assert clean.index.is_monotonic_increasing and rejects.index.is_monotonic_increasing


# --- Parquet --------------------------------------------------------------------


def test_parquet_with_typed_columns_and_broken_rows(tmp_path):
    n = 9
    table = pa.table(
        {
            "Claim_ID": pa.array(["A", "B", None, "D", "E", "F", "G", "A", "I"]),
            "line_number": pa.array([1, 1, 1, 1, 1, 1, 1, 1, None], pa.int64()),
            "service_date": pa.array(
                [pd.Timestamp("2024-01-05").date()] * 3 + [None] + [pd.Timestamp("2024-02-01").date()] * 5,
                pa.date32(),
            ),
            "submission_date": pa.array([pd.Timestamp("2024-02-10 08:00")] * n, pa.timestamp("us")),
            "payer_type": pa.array(["Medicare"] * n),
            "hcpcs_code": pa.array(["l0627"] * 4 + [None] + ["L0627"] * 4),
            "modifiers": pa.array([["KX", "rt"]] + [[]] * (n - 1), pa.list_(pa.string())),
            "diagnosis_codes": pa.array(["M54.50"] * n),
            "billed_amount": pa.array(
                [10.5, -1.0, 3.0, 4.0, 5.0, float("nan"), None, 8.0, 9.0], pa.float64()
            ),
            "has_prior_auth": pa.array([True, False, None, True, True, True, True, True, False]),
            "units": pa.array([2, None, 1, 1, 1, 1, 1, 1, 1], pa.int32()),
            "extra_num": pa.array(range(n), pa.int64()),
        }
    )
    p = tmp_path / "typed.parquet"
    pq.write_table(table, p, row_group_size=4)
    t, chunks, clean, rejects = collect(p, batch_rows=4)
    assert len(chunks) == 3
    assert_accounted(clean, rejects, n)
    assert rejects[REJECT_REASON].to_dict() == {
        1: "billed_amount: negative amount",
        2: "claim_id: missing",
        3: "service_date: missing",
        4: "hcpcs_code: missing",
        5: "billed_amount: missing",
        6: "billed_amount: missing",
        7: "claim_id+line_number: duplicate of an earlier row",
    }
    first = clean.loc[0]
    assert first["service_date"] == pd.Timestamp("2024-01-05")
    assert first["submission_date"] == pd.Timestamp("2024-02-10")
    assert (
        first["modifiers"] == "KX|RT" and first["hcpcs_code"] == "L0627" and first["payer_type"] == "medicare"
    )
    assert bool(first["has_prior_auth"]) is True and first["units"] == 2
    assert clean.loc[8, "line_number"] == 1 and clean.loc[8, "has_prior_auth"] == False  # noqa: E712
    assert clean["extra_num"].tolist() == [0, 8]
    for name, dtype in schema.NORMALISED_DTYPES.items():
        if name in clean.columns:
            assert str(clean[name].dtype) == dtype, name


def test_parquet_all_string_columns_like_a_csv(tmp_path):
    df = pd.read_csv(
        io.StringIO(BROKEN_CSV.replace("H,1,2024-01-05,medicare\n", "").replace(",too,many", "")),
        dtype=str,
        keep_default_na=False,
    )
    p = tmp_path / "s.parquet"
    df.to_parquet(p)
    _, _, clean, rejects = collect(p)
    assert_accounted(clean, rejects, len(df))
    assert RAW_LINE not in rejects.columns


# --- property-based -------------------------------------------------------------

# any text: unicode, separators, quotes, CR/LF, NUL, empty, whitespace
ANY_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            ",",
            '"',
            '""',
            "\n",
            "\r\n",
            "\r",
            "|",
            "$",
            "-",
            "1",
            "0",
            "y",
            "NaN",
            "nan",
            "2024-02-30",
            "20240230",
            "1e400",
            "-0",
            "$1,234.50",
            "(5)",
            "\ufeff",
            "\x00",
            "2024-01-05",
            "99999999",
            "00000000",
            "9999-12-31",
            "1.5",
            "true",
            "TRUE",
        ]
    ),
)
CONTRACT = [*schema.REQUIRED, *schema.OPTIONAL, *schema.LABELS]


@st.composite
def raw_chunks(draw):
    extra_cols = draw(st.lists(st.sampled_from(["note", "Other Col", "x1"]), unique=True, max_size=2))
    optional = draw(
        st.lists(st.sampled_from([c for c in CONTRACT if c not in schema.REQUIRED]), unique=True, max_size=6)
    )
    cols = [*schema.REQUIRED, *optional, *extra_cols]
    n = draw(st.integers(0, 12))
    rows = [[draw(ANY_TEXT) for _ in cols] for _ in range(n)]
    return cols, rows


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check_clean(clean: pd.DataFrame) -> None:
    for name, dtype in schema.NORMALISED_DTYPES.items():
        if name in clean.columns:
            assert str(clean[name].dtype) == dtype, (name, clean[name].dtype)
    for name in CONTRACT:
        assert name in clean.columns
    # scorable rows have what scoring needs
    assert clean["claim_id"].notna().all() and clean["hcpcs_code"].notna().all()
    assert clean["service_date"].notna().all() and (clean["billed_amount"] >= 0).all()
    assert not clean.duplicated(["claim_id", "line_number"]).any()


@PROPERTY
@given(raw_chunks())
def test_normalizer_never_raises_only_rejects(chunk):
    cols, rows = chunk
    raw = pd.DataFrame({c: pd.Series([r[i] for r in rows], dtype="str") for i, c in enumerate(cols)})
    clean, rejects = normalize_chunk(raw, start=5)
    assert_accounted(clean.set_axis(clean.index - 5), rejects.set_axis(rejects.index - 5), len(rows))
    _check_clean(clean)
    assert rejects[REJECT_REASON].notna().all()
    # rejects keep the raw values exactly
    for pos in rejects.index:
        assert rejects.loc[pos, cols].tolist() == rows[pos - 5]


@PROPERTY
@given(raw_chunks(), st.sampled_from([256, 1 << 20]), st.booleans())
def test_csv_file_never_raises_rows_in_equals_scorable_plus_rejected(
    tmp_path_factory, chunk, block_bytes, bom
):
    cols, rows = chunk
    p = tmp_path_factory.mktemp("prop") / "claims.csv"
    p.write_text(("\ufeff" if bom else "") + csv_text(rows, header=cols), encoding="utf-8")
    table, chunks, clean, rejects = collect(p, block_bytes=block_bytes)
    assert_accounted(clean, rejects, len(rows))
    if len(clean):
        _check_clean(clean)
    # what the reader gives back is exactly what was written (quotes, newlines, spaces and all)
    raw = pd.concat([c.raw for c in chunks]) if chunks else pd.DataFrame(columns=cols)
    assert len(raw) == len(rows)
    for pos, values in enumerate(rows):
        assert raw.loc[pos, cols].tolist() == values


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=40), max_size=8), st.sampled_from([128, 1 << 20]))
def test_arbitrary_bytes_never_traceback(tmp_path_factory, lines, block_bytes):
    """Any bytes after a valid header: rejects or a UserError, never another exception."""
    p = tmp_path_factory.mktemp("bytes") / "claims.csv"
    p.write_bytes((",".join(HEADER) + "\n").encode() + b"\n".join(lines))
    try:
        table, chunks, clean, rejects = collect(p, block_bytes=block_bytes)
    except UserError:
        return
    n = len(clean) + len(rejects)
    assert_accounted(clean, rejects, n)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.sampled_from(string.ascii_uppercase[:4]), st.integers(1, 3)), max_size=30),
    st.sampled_from([400, 1 << 20]),
)
def test_duplicates_found_whatever_the_chunking(tmp_path_factory, keys, block_bytes):
    rows = [[c, str(ln), *GOOD[2:]] for c, ln in keys]
    p = tmp_path_factory.mktemp("dups") / "claims.csv"
    p.write_text(csv_text(rows))
    _, _, clean, rejects = collect(p, block_bytes=block_bytes)
    assert_accounted(clean, rejects, len(rows))
    first_seen = ~pd.Series([tuple(k) for k in keys], dtype=object).duplicated()
    assert clean.index.tolist() == np.flatnonzero(first_seen.to_numpy()).tolist()
