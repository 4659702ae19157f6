"""tableio.files: formula-safe CSV cells, list columns in CSV, OS errors that name the output,
input and output checks, left-overs of a killed run."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from denial_risk.errors import UserError, os_error_exit
from denial_risk.tableio import files
from denial_risk.tableio.files import TableWriter, check_input, check_output, remove_stale, write_table
from denial_risk.testing import FullDiskWriter

# OWASP's CSV-injection examples and the issue's: each begins with = + - @ TAB or CR
PAYLOADS = [
    '=HYPERLINK("http://evil","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
    "-2+3",
]


def read_cells(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_text_cells_that_start_like_a_formula_get_a_quote_numbers_and_parquet_do_not(tmp_path):
    frame = pd.DataFrame(
        {
            "text": [*PAYLOADS, "CLM-1", "a=b", ""],
            "amount": [-12.5, 1.0, -3.0, 0.0, 2.0, -0.5, 7.0, 8.0, 9.0],
            "count": pd.array([-1, 2, 3, 4, 5, 6, 7, None, 9], dtype="Int64"),
        }
    )
    write_table(frame, tmp_path / "t.csv")
    got = read_cells(tmp_path / "t.csv")
    assert got["text"].tolist() == [*(f"'{p}" for p in PAYLOADS), "CLM-1", "a=b", ""]
    assert got["amount"].tolist()[:2] == ["-12.5", "1"]  # a number column: never quoted
    assert got["count"].tolist()[0] == "-1"
    write_table(frame, tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "t.parquet").column("text").to_pylist()[: len(PAYLOADS)] == PAYLOADS


def test_every_chunk_is_made_safe_and_a_later_typed_chunk_too(tmp_path):
    target = tmp_path / "t.csv"
    with TableWriter(target) as w:
        w.write(pd.DataFrame({"a": ["ok"], "b": [None]}))  # b all-missing in the first chunk
        w.write(pd.DataFrame({"a": ["@x"], "b": ["=y"]}))
    assert read_cells(target).values.tolist() == [["ok", ""], ["'@x", "'=y"]]


def test_list_columns_are_pipe_joined_in_csv_and_kept_in_parquet(tmp_path):
    table = pa.table(
        {
            "modifiers": pa.array([["KX", "RT"], [], None, ["=1", "LT"]], pa.list_(pa.string())),
            "units": pa.array([[1, 2], [3], [], None], pa.large_list(pa.int64())),
            "tags": pa.array([["a", None], ["b"], [], ["c"]], pa.list_(pa.string())),  # a null element
            "state": pa.array(["CA", "=NY", "CA", "TX"]).dictionary_encode(),
        }
    )
    with TableWriter(tmp_path / "t.csv") as w:
        w.write_arrow(table)
    got = read_cells(tmp_path / "t.csv")
    assert got["modifiers"].tolist() == ["KX|RT", "", "", "'=1|LT"]
    assert got["units"].tolist() == ["1|2", "3", "", ""]
    assert got["tags"].tolist() == ["a", "b", "", "c"]
    assert got["state"].tolist() == ["CA", "'=NY", "CA", "TX"]
    with TableWriter(tmp_path / "t.parquet") as w:
        w.write_arrow(table)
    assert pq.read_table(tmp_path / "t.parquet").column("modifiers").to_pylist()[0] == ["KX", "RT"]


def test_a_full_disk_names_the_output_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(files.pacsv, "CSVWriter", FullDiskWriter)
    target = tmp_path / "out" / "w.csv"
    with pytest.raises(OSError) as caught:
        write_table(pd.DataFrame({"a": ["x"]}), target)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    line, code = os_error_exit(caught.value)
    assert code == 1 and line.startswith(f"{target}: No space left on device")
    assert list((tmp_path / "out").iterdir()) == []  # no .partial left behind


def test_os_error_exit_codes_user_path_vs_machine():
    assert os_error_exit(PermissionError(errno.EACCES, "Permission denied", "/x/w.csv")) == (
        "/x/w.csv: Permission denied",
        2,
    )
    assert os_error_exit(OSError(errno.EROFS, "ro", "/x"))[1] == 2
    assert os_error_exit(OSError(errno.EIO, "io", "/x"))[1] == 1
    line, code = os_error_exit(OSError("Error writing bytes to file. Detail: [errno 28] No space left"))
    assert code == 1 and line.startswith("No space left on device")


def test_check_output_names_a_file_where_a_folder_is_expected(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match=r"--out .*afile/w.csv: .*afile is a file, not a folder"):
        check_output(tmp_path / "afile" / "w.csv")
    with pytest.raises(UserError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(UserError, match="is a file, not a folder"):
        check_output(tmp_path / "afile", folder=True)
    check_output(tmp_path / "new" / "deeper" / "w.csv")  # a folder that can be made is fine


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits (see test_os_errors)")
def test_check_output_names_a_folder_without_write_permission(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    try:
        with pytest.raises(UserError, match="cannot write in .*ro \\(permission denied\\)"):
            check_output(ro / "w.csv")
    finally:
        ro.chmod(0o755)


def test_check_input_refuses_fifo_device_and_folder_without_opening_them(tmp_path):
    fifo = tmp_path / "claims.csv"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match=r"claims.csv: is a named pipe \(FIFO\), not a regular file"):
        check_input(fifo)
    with pytest.raises(UserError, match="is a device, not a regular file"):
        check_input("/dev/zero")
    with pytest.raises(UserError, match="is a folder"):
        check_input(tmp_path)
    with pytest.raises(UserError, match="file not found"):
        check_input(tmp_path / "nope.csv")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_remove_stale_removes_a_dead_runs_leftovers_only(tmp_path):
    out = tmp_path / "worklist.csv"
    dead = _dead_pid()
    stale_work = tmp_path / f".worklist.csv.{dead}-abc123.work"
    stale_work.mkdir()
    (stale_work / "scored.parquet").write_bytes(b"patient ids")
    stale_part = tmp_path / f".worklist.csv.{dead}-xyz.partial"
    stale_part.write_text("half")
    legacy = tmp_path / ".worklist.csv.q1w2e3.work"  # an older version's name: no process id
    legacy.mkdir()
    live = tmp_path / f".worklist.csv.{os.getpid()}-live.work"  # a run in progress: left alone
    live.mkdir()
    other = tmp_path / f".other.csv.{dead}-abc.work"  # another output's: not ours to remove
    other.mkdir()
    removed = remove_stale(out)
    assert sorted(p.name for p in removed) == sorted([stale_work.name, stale_part.name, legacy.name])
    assert not stale_work.exists() and not stale_part.exists() and not legacy.exists()
    assert live.exists() and other.exists()
