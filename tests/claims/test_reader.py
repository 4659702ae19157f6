"""claims.reader and tableio.files: chunked CSV/Parquet reading and atomic writing.

Header matching, BOM, malformed rows and bad bytes on the reading side.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from denial_risk.claims.reader import ClaimReader, canonical_name, read_table
from denial_risk.errors import UserError
from denial_risk.tableio.files import TableWriter, atomic_path, file_format, write_table


def write(tmp_path: Path, text: str | bytes, name: str = "claims.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return p


def test_file_format():
    assert file_format("a/b.CSV") == "csv"
    assert file_format("x.parquet") == "parquet"
    with pytest.raises(UserError, match=r"--out x.xlsx: unsupported file type '.xlsx'"):
        file_format("x.xlsx", option="--out")
    with pytest.raises(UserError, match="'\\(none\\)'"):
        file_format("noext")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("claim_id", "claim_id"),
        ("Claim_ID", "claim_id"),
        (" claim_id ", "claim_id"),
        ("CLAIM ID", "claim_id"),
        ("Service Date", "service_date"),
        ("service-date", "service_date"),
        ("\ufeffclaim_id", "claim_id"),
        ("HAS_PRIOR_AUTH", "has_prior_auth"),
        ("My Extra", "My Extra"),  # not a contract column: kept exactly
    ],
)
def test_canonical_name(name, expected):
    assert canonical_name(name) == expected


def test_header_case_space_insensitive_and_bom(tmp_path):
    p = write(tmp_path, "\ufeff Claim_ID ,SERVICE_DATE, My Extra\nA,2024-01-01,x\n")
    r = ClaimReader(p)
    assert r.columns == ["claim_id", "service_date", " My Extra"]
    assert r.source_columns == [" Claim_ID ", "SERVICE_DATE", " My Extra"]
    df = pd.concat(list(r))
    assert list(df.columns) == ["claim_id", "service_date", " My Extra"]
    assert df.iloc[0].tolist() == ["A", "2024-01-01", "x"]


def test_cells_come_back_exactly_as_written(tmp_path):
    p = write(tmp_path, 'a,b,c\n" x ",007,"line\nbreak"\n,"",\n')
    df = pd.concat(list(ClaimReader(p)))
    assert df["a"].tolist() == [" x ", ""]
    assert df["b"].tolist() == ["007", ""]
    assert df["c"].tolist() == ["line\nbreak", ""]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="nope.csv: file not found"):
        ClaimReader(tmp_path / "nope.csv")
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(UserError, match="is a folder, not a regular file"):
        ClaimReader(tmp_path / "d.csv")


def test_empty_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="empty file"):
        ClaimReader(write(tmp_path, ""))
    with pytest.raises(UserError, match="empty file"):
        ClaimReader(write(tmp_path, "\n\n"))


@pytest.mark.parametrize("text", ["a,b\n", "a,b", "a,b\r\n", "\n\na,b\n\n"])
def test_header_only_file_has_no_rows(tmp_path, text):
    r = ClaimReader(write(tmp_path, text))
    assert r.columns == ["a", "b"]
    assert list(r) == []
    assert list(read_table(r.path).columns) == ["a", "b"]


def test_duplicated_header_name_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="column 'claim_id' appears more than once"):
        ClaimReader(write(tmp_path, "claim_id,x,Claim_ID\n1,2,3\n"))
    with pytest.raises(UserError, match="column 'x' appears more than once"):
        ClaimReader(write(tmp_path, "x,x\n1,2\n"))


def test_invalid_utf8_in_header_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="header row is not valid UTF-8"):
        ClaimReader(write(tmp_path, b"claim_id,\xff\xfe\n1,2\n"))


def test_invalid_utf8_in_a_row_is_reported_not_raised(tmp_path):
    p = write(tmp_path, b"a,b\n1,ok\n2,caf\xe9\n3,ok\n")
    blocks = list(ClaimReader(p).blocks())
    frame = pd.concat([b.frame for b in blocks])
    bad = {k: v for b in blocks for k, v in b.bad_utf8.items()}
    assert frame["a"].tolist() == ["1", "2", "3"]
    assert frame["b"].iloc[1] == "caf\ufffd"
    assert bad == {1: ["b"]}


def test_malformed_rows_are_kept_with_their_position(tmp_path):
    p = write(tmp_path, "a,b\n1,2\n3\n4,5\n6,7,8\n9,10\n")
    blocks = list(ClaimReader(p).blocks())
    frame = pd.concat([b.frame for b in blocks])
    bad = [m for b in blocks for m in b.malformed]
    assert frame.index.tolist() == [0, 2, 4]
    assert [(m.position, m.text, m.expected, m.actual) for m in bad] == [(1, "3", 2, 1), (3, "6,7,8", 2, 3)]
    assert bad[0].reason == "row: has 1 fields, the header has 2"


@pytest.mark.parametrize("block_bytes", [1, 7, 16, 64, 1 << 20])
def test_positions_are_exact_whatever_the_block_size(tmp_path, block_bytes):
    lines, expect_bad = [], []
    for i in range(60):
        if i % 7 == 3:
            lines.append(f"{i}")
            expect_bad.append(i)
        elif i % 11 == 5:
            lines.append(f'{i},"multi\nline {i}"')
        else:
            lines.append(f"{i},v{i}")
    p = write(tmp_path, "a,b\n" + "\n".join(lines) + "\n")
    blocks = list(ClaimReader(p, block_bytes=block_bytes).blocks())
    frame = pd.concat([b.frame for b in blocks])
    bad = [m.position for b in blocks for m in b.malformed]
    assert bad == expect_bad
    assert frame.index.tolist() == [i for i in range(60) if i not in expect_bad]
    assert (frame["a"].astype(int) == frame.index).all()
    if block_bytes <= 64:
        assert len(blocks) > 3


def test_row_longer_than_a_block(tmp_path):
    long = "x" * 5000
    p = write(tmp_path, f'a,b\n1,2\n2,"{long}"\n3,4\n')
    frames = list(ClaimReader(p, block_bytes=64))
    df = pd.concat(frames)
    assert df["a"].tolist() == ["1", "2", "3"]
    assert df["b"].iloc[1] == long


@pytest.mark.parametrize("block_bytes", [8, 1 << 20])
def test_unclosed_quote_runs_to_the_end_of_the_file_without_a_crash(tmp_path, block_bytes):
    # CSV semantics: the quoted value never closes, so it holds the rest of the file
    p = write(tmp_path, 'a,b,c\n1,2,3\n3,"open,x\n4,5,6\n')
    blocks = list(ClaimReader(p, block_bytes=block_bytes).blocks())
    frame = pd.concat([b.frame for b in blocks])
    bad = [m for b in blocks for m in b.malformed]
    assert frame["a"].tolist() == ["1"]
    assert len(bad) == 1 and bad[0].position == 1 and bad[0].text.startswith('3,"open')


def test_parquet_reading_keeps_types_and_canonicalises_names(tmp_path):
    p = tmp_path / "c.parquet"
    pq.write_table(
        pa.table({"Claim_ID": ["a", "b", "c"], "billed_amount": [1.5, None, 3.0], "extra": [1, 2, 3]}),
        p,
        row_group_size=2,
    )
    r = ClaimReader(p, batch_rows=2)
    frames = list(r)
    assert len(frames) == 2
    df = pd.concat(frames)
    assert list(df.columns) == ["claim_id", "billed_amount", "extra"]
    assert df.index.tolist() == [0, 1, 2]
    assert df["billed_amount"].dtype == "float64"


def test_not_really_parquet_is_a_user_error(tmp_path):
    p = write(tmp_path, "a,b\n1,2\n", name="x.parquet")
    with pytest.raises(UserError, match="x.parquet: cannot be read"):
        ClaimReader(p)


def test_columns_selection(tmp_path):
    p = write(tmp_path, "Claim_ID,b,c\n1,2,3\n")
    df = read_table(p, columns=["claim_id", "c"])
    assert list(df.columns) == ["claim_id", "c"]


# --- writing --------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_write_and_read_round_trip(tmp_path, ext):
    df = pd.DataFrame({"a": pd.Series(["x", None], dtype="string"), "b": [1.5, 2.0]})
    out = write_table(df, tmp_path / f"o.{ext}")
    back = read_table(out)
    assert back["a"].iloc[0] == "x"
    assert len(back) == 2


def test_table_writer_chunks_with_all_missing_and_absent_columns(tmp_path):
    target = tmp_path / "o.parquet"
    with TableWriter(target) as w:
        w.write(pd.DataFrame({"a": ["x"], "b": [None]}))
        w.write(pd.DataFrame({"a": ["y"], "b": ["z"]}))
        w.write(pd.DataFrame({"a": ["w"]}))  # b absent in this chunk: written as missing
    back = pq.read_table(target).to_pandas()
    assert back["a"].tolist() == ["x", "y", "w"]
    assert back["b"].tolist()[1] == "z"
    assert pd.isna(back["b"].iloc[2])


def test_table_writer_refuses_to_drop_new_columns(tmp_path):
    with pytest.raises(ValueError, match="would be lost"), TableWriter(tmp_path / "o.csv") as w:
        w.write(pd.DataFrame({"a": ["x"]}))
        w.write(pd.DataFrame({"a": ["y"], "new": ["z"]}))
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_table_writer_empty_still_has_header(tmp_path):
    target = tmp_path / "o.csv"
    with TableWriter(target) as w:
        w.write_empty(["a", "b"])
    assert target.read_text().strip() == '"a","b"'


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"


def test_malformed_row_with_invalid_utf8_is_still_just_a_malformed_row(tmp_path):
    p = write(tmp_path, b"a,b\n1,2\n3\xff\n4,5\n")
    blocks = list(ClaimReader(p).blocks())
    bad = [m for b in blocks for m in b.malformed]
    assert [(m.position, m.text) for m in bad] == [(1, "3\ufffd")]
    assert pd.concat([b.frame for b in blocks])["a"].tolist() == ["1", "4"]


@pytest.mark.parametrize("block_bytes", [16, 24, 32, 48, 1 << 20])
def test_nul_bytes_and_quoted_crlf_survive_block_boundaries(tmp_path, block_bytes):
    # pyarrow 25 drops the LF of a CRLF split across blocks even inside quotes (apache/arrow#51368)
    # and mis-chunks rows holding NUL; the reader works around both
    rows = [(f"r{i}", "x\r\ny" if i % 3 == 0 else ("n\x00l" if i % 3 == 1 else "z")) for i in range(30)]
    body = "".join(f'{a},"{b}"\r\n' for a, b in rows)
    p = write(tmp_path, "a,b\r\n" + body)
    blocks = list(ClaimReader(p, block_bytes=block_bytes).blocks())
    assert not [m for b in blocks for m in b.malformed]
    df = pd.concat([b.frame for b in blocks])
    assert list(zip(df["a"], df["b"])) == rows


def test_multibyte_characters_split_across_reads(tmp_path):
    rows = [(f"r{i}", "é€𝄞" * (i % 4)) for i in range(50)]
    p = write(tmp_path, "a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
    blocks = list(ClaimReader(p, block_bytes=17).blocks())
    df = pd.concat([b.frame for b in blocks])
    assert list(zip(df["a"], df["b"])) == rows
    assert not any(b.bad_utf8 for b in blocks)


def test_split_incomplete_utf8():
    from denial_risk.claims.arrow_csv import _split_incomplete_utf8

    text = "aé€𝄞".encode()
    for cut in range(len(text) + 1):
        head, tail = _split_incomplete_utf8(text[:cut])
        head.decode("utf-8")  # always whole characters
        assert head + tail == text[:cut]
        assert len(tail) < 4
    assert _split_incomplete_utf8(b"a\xff") == (b"a\xff", b"")  # invalid, not incomplete: left to the decoder


def _many_blocks(tmp_path: Path, rows: int = 4000) -> Path:
    body = "".join(f'C{i:06d},{i % 9 + 1},L0650,"RT|KX",{i * 1.5:.2f}\n' for i in range(rows))
    return write(tmp_path, "claim_id,line_number,hcpcs_code,modifiers,billed_amount\n" + body)


def test_reader_stays_a_few_blocks_ahead_of_a_slow_consumer(tmp_path, monkeypatch):
    """pyarrow alone reads up to 32 blocks ahead; memory must not grow with the file."""
    import time

    from denial_risk.claims import arrow_csv as dio

    ahead_seen: list[int] = []
    real = dio.ReadPace.before_read

    def spy(self):
        real(self)
        ahead_seen.append(self._reads - self._taken)

    monkeypatch.setattr(dio.ReadPace, "before_read", spy)
    p = _many_blocks(tmp_path)
    rows = 0
    for block in ClaimReader(p, block_bytes=2048).blocks():
        rows += len(block.frame)
        time.sleep(0.01)  # a consumer busy scoring the block
    assert rows == 4000
    assert len(ahead_seen) > 40  # many blocks were read
    assert max(ahead_seen) <= dio.READ_AHEAD_BLOCKS + 2


def test_abandoning_a_reader_mid_file_exits_cleanly(tmp_path):
    """A half-read file at interpreter exit (a script that stops early) is not a crash."""
    import subprocess
    import sys

    p = _many_blocks(tmp_path, rows=20000)
    code = (
        "import sys; from denial_risk.claims.reader import ClaimReader\n"
        f"it = ClaimReader({str(p)!r}, block_bytes=4096).blocks()\n"
        "first = next(it)\nprint(len(first.frame))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.strip()) > 0
