"""`denial-risk rework` on the 835s in tests/fixtures/x12, and simulate --x12 -> ingest-x12 -> rework."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "x12"
REMITS = [
    *sorted((FIX / "rework").glob("*.835")),
    *sorted((FIX / "linuxforhealth" / "835_005010X221A1").glob("*.835")),
    FIX / "pyx12" / "835_mult_loops.txt",
]


def test_rework_on_the_fixture_835s(tmp_path, run, capsys):
    from denial_risk.x12 import ingest

    out = tmp_path / "queue.csv"
    code, stdout, err = run(["rework", "--remits", *REMITS, "--out", out, "--as-of", "2026-02-20"], capsys)
    assert code == 0, err
    q = pd.read_csv(out, dtype={"claim_id": str})
    labelled = ingest([], REMITS).labelled
    denied = labelled[labelled["denied"].astype(bool)]
    keys = list(zip(q["claim_id"], q["line_number"], strict=True))
    assert len(keys) == len(set(keys)) == len(denied) >= 6  # every denied line, once
    assert set(keys) == set(zip(denied["claim_id"], denied["line_number"], strict=True))
    by = q.set_index(["claim_id", "line_number"])
    assert (
        by.loc[("RW0001", 1), "denial_reason"] == "OA-18" and by.loc[("RW0001", 1), "action"] == "no_rework"
    )
    assert by.loc[("RW0001", 2), "action"] == "no_rework"  # CO-29, sent 406 days after service: no proof
    assert by.loc[("RW0001", 3), "action"] == "appeal"  # CO-50: a redetermination
    assert by.loc[("RW0001", 3), "deadline"] == "2026-06-15"  # 2026-02-10 + 5 + 120 days
    dated = q[q["deadline"].notna()]
    assert (pd.to_datetime(dated["deadline"]) > pd.to_datetime(dated["adjudication_date"])).all()
    assert (q["expected_recovery"] <= q["billed_amount"] + 1e-9).all()
    assert "6 denied lines" in stdout or f"{len(q)} denied lines" in stdout


def test_simulate_x12_ingest_rework_end_to_end(tmp_path, run, capsys):
    x12, table = tmp_path / "x12", tmp_path / "sim.csv"
    code, _, err = run(["simulate", "--rows", 400, "--seed", 5, "--out", table, "--x12", x12], capsys)
    assert code == 0, err
    assert (x12 / "claims.rework.837").exists() and (x12 / "remits.rework.835").exists()
    labelled = tmp_path / "labelled.csv"
    code, stdout, err = run(["ingest-x12", "--claims", x12, "--remits", x12, "--out", labelled], capsys)
    assert code == 0, err
    lab = pd.read_csv(labelled, dtype=str, keep_default_na=False)
    assert (lab["rework_link"] != "").sum() > 0  # replacements, reversals or resubmissions linked
    replaced = lab.loc[lab["replaced_by"] != "", "replaced_by"]
    assert replaced.isin(lab["claim_id"]).all()
    out = tmp_path / "queue.parquet"
    code, stdout, err = run(["rework", "--data", labelled, "--out", out, "--as-of", "2026-01-01"], capsys)
    assert code == 0, err
    q = pd.read_parquet(out)
    n_denied = lab["denied"].str.lower().eq("true").sum()
    assert len(q) == n_denied and q[["claim_id", "line_number"]].duplicated().sum() == 0
    assert (q["expected_recovery"] <= q["billed_amount"] + 1e-9).all()
    done = q["action_text"].str.startswith("already reworked")
    assert done.sum() == (replaced.notna() & lab.loc[replaced.index, "denied"].str.lower().eq("true")).sum()


def test_bad_input_is_one_line(tmp_path, run, capsys):
    code, out, err = run(["rework", "--out", tmp_path / "q.csv"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--data" in err
    code, out, err = run(["rework", "--data", tmp_path / "none.csv", "--out", tmp_path / "q.csv"], capsys)
    assert code == 2 and err.count("\n") == 1
    table = tmp_path / "t.csv"
    pd.DataFrame({"claim_id": ["A"], "service_date": ["2026-01-01"], "payer_type": ["medicare"],
                  "hcpcs_code": ["L1833"], "modifiers": [""], "diagnosis_codes": ["M1711"],
                  "billed_amount": [10.0]}).to_csv(table, index=False)  # fmt: skip
    code, out, err = run(["rework", "--data", table, "--out", tmp_path / "q.csv"], capsys)
    assert code == 2 and "denied" in err and not (tmp_path / "q.csv").exists()
    code, out, err = run(["rework", "--data", table, "--out", tmp_path / "q.csv", "--as-of", "soon"], capsys)
    assert code == 2 and "--as-of" in err
    code, out, err = run(["rework", "--remits", tmp_path / "nope.835", "--out", tmp_path / "q.csv"], capsys)
    assert code == 2 and "nope.835" in err


def test_queue_csv_cells_cannot_run_as_formulas(tmp_path, run, capsys):
    table = tmp_path / "t.csv"
    pd.DataFrame({"claim_id": ['=HYPERLINK("http://x","y")', "C2"], "service_date": ["2026-01-01"] * 2,
                  "payer_type": ["medicare"] * 2, "hcpcs_code": ["L1833", "L0650"], "modifiers": ["RT", ""],
                  "diagnosis_codes": ["M1711", "M5450"], "billed_amount": [300.0, 500.0],
                  "denied": [True, True], "denial_reason": ["CO-4", "CO-50"],
                  "adjudication_date": ["2026-01-20"] * 2}).to_csv(table, index=False)  # fmt: skip
    out = tmp_path / "q.csv"
    code, _, err = run(["rework", "--data", table, "--out", out, "--as-of", "2026-02-01"], capsys)
    assert code == 0, err
    q = pd.read_csv(out, dtype=str)
    assert set(q["claim_id"]) == {'\'=HYPERLINK("http://x","y")', "C2"}
    assert list(q["action"]) in (["reopening", "appeal"], ["appeal", "reopening"])
