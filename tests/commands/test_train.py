"""`denial-risk train --config`: a bad key or a column the data lacks stops before any work (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "data" / "sample" / "claims.csv"


def _train(tmp_path, config_text: str):
    cfg = tmp_path / "c.toml"
    cfg.write_text(config_text)
    exe = Path(sys.executable).with_name("denial-risk")
    return subprocess.run(
        [str(exe), "train", "--data", str(CLAIMS), "--config", str(cfg)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("[features]\nextra_categorica = ['state']\n", "[features] extra_categorica: unknown key"),
        ("[features]\nextra_categorical = ['state']\n", "missing column 'state'"),
        ("[tiers]\nhigh = 0.1\nmedium = 0.3\n", "need 0 < medium < high < 1"),
        ("[feature]\nextra_categorical = ['state']\n", "[feature]: unknown key"),
        (
            "[features]\nextra_categorical = 'state'\n",
            "[features] extra_categorical: Input should be a valid list",
        ),
        ("[tiers]\nhigh = 'high'\n", "[tiers] high: Input should be a valid number"),
        ("[tiers]\nhigh = -1\n", "need 0 < medium < high < 1"),
    ],
)
def test_bad_config_is_exit_2_one_line_and_nothing_written(tmp_path, text, message):
    run = _train(tmp_path, text)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_a_file_whose_every_row_is_rejected_says_why(simulated_claims, mlflow_store, tmp_path, capsys, run):
    """Dates written 03/15/2025: not "0 labelled lines", but the reason, an example and the form."""
    raw = simulated_claims.iloc[:300].astype(str)
    data = tmp_path / "us_dates.csv"
    raw.assign(service_date="03/15/2025").to_csv(data, index=False)
    code, _, err = run(["train", "--data", data], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert (
        "all 300 rows rejected, nothing written: service_date: 300 rows unparseable, e.g. '03/15/2025'; "
        "dates must be YYYY-MM-DD or YYYYMMDD" in err
    )
