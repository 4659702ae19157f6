"""`ingest-x12 --claims PATH… --remits PATH…`: several paths after one flag (shell globs), through the
real console script; the flag stays repeatable, and both forms give the same tables."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from denial_risk.commands.ingest_x12 import MULTI_PATH_OPTIONS, expand_multi_paths
from denial_risk.testing import make_claims
from denial_risk.x12 import write_835, write_837p

EXE = Path(sys.executable).with_name("denial-risk")


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    t = make_claims(200, seed=31)
    claims = write_837p(t, d / "claims.837", claims_per_file=30)
    remits = write_835(t, d / "remits.835", claims_per_file=25)
    assert len(claims) >= 3 and len(remits) >= 3
    return d, [str(p) for p in claims], [str(p) for p in remits], len(t)


def _run(args: list[str], cwd: Path, shell: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(EXE), "ingest-x12", *args]
    return subprocess.run(
        " ".join([shlex.quote(cmd[0]), cmd[1], *args]) if shell else cmd,
        shell=shell,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_expand_multi_paths():
    opts = MULTI_PATH_OPTIONS
    assert expand_multi_paths(["--remits", "a", "b", "--claims", "c", "--out", "o"], opts) == [
        "--remits",
        "a",
        "--remits",
        "b",
        "--claims",
        "c",
        "--out",
        "o",
    ]
    # repeated flags, `--opt=value`, `--` and other options are left as they are
    assert expand_multi_paths(["--remits", "a", "--remits", "b"], opts) == ["--remits", "a", "--remits", "b"]
    assert expand_multi_paths(["--remits=a", "b"], opts) == ["--remits=a", "b"]
    assert expand_multi_paths(["--out", "o", "x"], opts) == ["--out", "o", "x"]
    assert expand_multi_paths(["--claims", "a", "--", "-b"], opts) == ["--claims", "a", "--", "-b"]


def test_several_paths_after_one_flag_equal_the_repeated_flag(split_files, tmp_path):
    d, claims, remits, n = split_files
    one = _run(["--claims", *claims, "--remits", *remits, "--out", str(tmp_path / "one.csv")], tmp_path)
    assert one.returncode == 0, one.stderr
    repeated = [a for p in claims for a in ("--claims", p)] + [a for p in remits for a in ("--remits", p)]
    rep = _run([*repeated, "--out", str(tmp_path / "rep.csv")], tmp_path)
    assert rep.returncode == 0, rep.stderr
    # mixed: one flag with two paths, then the flag again
    mixed = _run(
        [
            "--remits",
            *remits[:2],
            "--claims",
            *claims,
            "--remits",
            *remits[2:],
            "--out",
            str(tmp_path / "mix.csv"),
        ],
        tmp_path,
    )
    assert mixed.returncode == 0, mixed.stderr
    frames = [pd.read_csv(tmp_path / f) for f in ("one.csv", "rep.csv", "mix.csv")]
    assert len(frames[0]) == n and frames[0]["match_method"].eq("line_control_number").all()
    for other in frames[1:]:
        pd.testing.assert_frame_equal(
            frames[0].sort_values(["claim_id", "line_number"]).reset_index(drop=True),
            other.sort_values(["claim_id", "line_number"]).reset_index(drop=True),
        )
    assert f"read {len(claims) + len(remits)} files" in one.stdout


def test_shell_glob_after_one_flag(split_files, tmp_path):
    d, claims, remits, n = split_files
    run = _run(
        [
            "--remits",
            shlex.quote(str(d)) + "/*.835",
            "--claims",
            shlex.quote(str(d)) + "/*.837",
            "--out",
            shlex.quote(str(tmp_path / "glob.parquet")),
        ],
        tmp_path,
        shell=True,
    )
    assert run.returncode == 0, run.stderr
    assert len(pd.read_parquet(tmp_path / "glob.parquet")) == n
    assert f"read {len(claims) + len(remits)} files" in run.stdout


def test_a_stray_argument_is_still_a_usage_error(split_files, tmp_path):
    _, claims, _, _ = split_files
    run = _run(["--claims", claims[0], "--out", str(tmp_path / "o.csv"), "stray.837"], tmp_path)
    assert run.returncode == 2 and "stray.837" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "o.csv").exists()
    assert "--remits PATH..." in _run(["--help"], tmp_path).stdout
