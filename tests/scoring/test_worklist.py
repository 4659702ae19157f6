"""The worklist file: the contract (columns, order, original values, rows in = scored + rejected),
file-wide ranking, atomic writing, drift warning."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.scoring import printout, worklist
from denial_risk.scoring.score import score_request

N = 3000


@pytest.fixture(scope="module")
def backlog(simulated_claims, tmp_path_factory):
    """A raw backlog as a user's file: accepted spellings, an extra column, and rows that must be rejected."""
    raw = (
        simulated_claims.iloc[:N]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .astype("string")
        .fillna("")
        .astype(str)
        .reset_index(drop=True)
    )
    raw.insert(3, "Work Queue", [f"Q{i % 7}" for i in range(N)])  # extra column, kept untouched, in place
    raw.loc[5, "billed_amount"] = "$1,234.50"  # accepted form, must come back as written
    raw.loc[6, "payer_type"] = "MEDICARE"
    raw.loc[7, "diagnosis_codes"] = "M17.11, M25.561"
    raw.loc[10, "billed_amount"] = "-5"  # rejected
    raw.loc[11, "service_date"] = "2024-13-45"  # rejected
    raw.loc[12, "claim_id"] = ""  # rejected
    raw.loc[13, ["claim_id", "line_number"]] = raw.loc[
        14, ["claim_id", "line_number"]
    ].to_numpy()  # duplicate
    path = tmp_path_factory.mktemp("backlog") / "backlog.csv"
    raw.to_csv(path, index=False)
    return path, raw


@pytest.fixture(scope="module")
def scored(denial_model, backlog, tmp_path_factory):
    path, raw = backlog
    out = tmp_path_factory.mktemp("out") / "worklist.csv"
    result = worklist.score_file(path, out, denial_model, top=5, progress=False, block_bytes=64 << 10)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    rejects = pd.read_csv(schema.rejects_path_for(str(out)), dtype=str, keep_default_na=False)
    return result, got, rejects


def test_columns_rows_and_values_follow_the_contract(backlog, scored):
    _, raw = backlog
    result, got, rejects = scored
    assert list(got.columns) == [*raw.columns, *schema.ADDED]
    assert result.rows == N == len(got) + len(rejects)
    assert (result.scored, result.rejected) == (len(got), len(rejects)) and len(rejects) == 4
    assert rejects[REJECT_REASON].str.len().gt(0).all()
    # original values, in input order (the rejected positions removed)
    kept = raw.drop(index=[10, 11, 12, 14]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[list(raw.columns)], kept.astype(str), check_dtype=False)
    assert "$1,234.50" in set(got["billed_amount"]) and "MEDICARE" in set(got["payer_type"])
    for col in schema.ADDED:
        assert got[col].ne("").all() or col in ("top_reasons", "recommended_actions"), col
    assert set(got["risk_tier"]) <= set(schema.RISK_TIERS)


def test_rank_follows_expected_loss_across_chunks(scored):
    _, got, _ = scored
    loss = got["expected_loss"].astype(float).to_numpy()
    p = got["denial_probability"].astype(float).to_numpy()
    rank = got["risk_rank"].astype(int).to_numpy()
    assert sorted(rank) == list(range(1, len(got) + 1))
    order = np.argsort(rank)
    assert (np.diff(loss[order]) <= 0).all()  # rounding to the cent keeps the order (ties: parquet test)
    billed = got["billed_amount"].str.replace(r"[$,]", "", regex=True).astype(float).to_numpy()
    # the CSV's probability (4 decimals) and loss (cents) are each rounded: half a unit each, at most
    assert (np.abs(loss - p * billed) <= 0.005 + 0.00005 * billed + 1e-9).all()


def test_same_scores_as_in_memory_scoring(denial_model, backlog, scored):
    _, raw = backlog
    _, got, _ = scored
    direct = score_request(denial_model, raw.drop(columns=["Work Queue"]))
    direct = direct[direct[REJECT_REASON].isna()].reset_index(drop=True)
    np.testing.assert_allclose(  # the CSV rounds to 4 decimals: half a unit
        got["denial_probability"].astype(float), direct["denial_probability"].astype(float), atol=5e-5 + 1e-12
    )
    # the worklist explains the lines at or above the medium tier (tests/scoring/test_explain.py)
    worked = got["risk_tier"].isin(["medium", "high"]).to_numpy()
    assert (got["top_reasons"].fillna("")[worked] == direct["top_reasons"].fillna("")[worked]).all()
    assert (got["recommended_actions"].fillna("") == direct["recommended_actions"].fillna("")).all()
    assert (got["likely_denial_codes"] == direct["likely_denial_codes"]).all()


def test_amounts_too_large_to_sum_are_rejected_and_the_summary_stays_finite(denial_model, backlog, tmp_path):
    path, raw = backlog
    huge = raw.iloc[20:50].copy()  # rows 10-14 of the backlog are rejects of other kinds
    huge.loc[[30, 31], "billed_amount"] = "1e308"  # two of them sum to inf
    src = tmp_path / "huge.csv"
    huge.to_csv(src, index=False)
    result = worklist.score_file(src, tmp_path / "w.csv", denial_model, progress=False)
    rejects = pd.read_csv(tmp_path / "w.rejects.csv", dtype=str, keep_default_na=False)
    assert rejects[REJECT_REASON].tolist() == ["billed_amount: implausible amount (over 1,000,000,000)"] * 2
    assert rejects["billed_amount"].tolist() == ["1e308", "1e308"]  # the original value, as written
    text = "\n".join(printout.format_summary(result))
    assert "inf" not in text and np.isfinite(result.billed)


def test_top_lines_and_summary(scored):
    result, got, _ = scored
    assert list(result.top["risk_rank"]) == [1, 2, 3, 4, 5]
    first = got[got["risk_rank"] == "1"].iloc[0]
    assert result.top.iloc[0]["claim_id"] == first["claim_id"]
    text = "\n".join(printout.format_top(result.top))
    assert first["claim_id"] in text and "why:" in text
    assert sum(result.lines_by_tier.values()) == result.scored
    assert sum(result.at_risk_by_tier.values()) == pytest.approx(  # each CSV figure within half a cent
        got["expected_loss"].astype(float).sum(), abs=0.005 * len(got)
    )
    billed = [line.split()[5] for line in text.splitlines()[2:] if line[:6].strip().isdigit()]
    assert len(billed) == 5 and all(re.fullmatch(r"\$[\d,]+\.\d\d", b) for b in billed), billed


def test_csv_numbers_are_rounded_for_a_reader(scored):
    _, got, _ = scored
    decimals = {
        c: got[c].str.partition(".")[2].str.len().max() for c in ("denial_probability", "expected_loss")
    }
    assert decimals["denial_probability"] <= 4 and decimals["expected_loss"] <= 2, decimals


def test_parquet_output_matches_csv(denial_model, backlog, scored, tmp_path):
    path, _ = backlog
    _, got, _ = scored
    out = tmp_path / "worklist.parquet"
    worklist.score_file(path, out, denial_model, progress=False, explain=False)  # one chunk, no reasons
    pq_frame = pq.read_table(out).to_pandas()
    assert list(pq_frame.columns) == list(got.columns)
    np.testing.assert_allclose(  # Parquet keeps full precision; the CSV rounds to 4 decimals
        pq_frame["denial_probability"], got["denial_probability"].astype(float), atol=5e-5 + 1e-12
    )
    assert (pq_frame["risk_rank"].to_numpy() == got["risk_rank"].astype(int).to_numpy()).all()
    order = np.argsort(pq_frame["risk_rank"].to_numpy())
    loss, p = pq_frame["expected_loss"].to_numpy()[order], pq_frame["denial_probability"].to_numpy()[order]
    assert (np.diff(loss) <= 0).all() and (np.diff(p)[np.diff(loss) == 0] <= 0).all()  # ties by probability
    assert (tmp_path / "worklist.rejects.parquet").exists()


@pytest.mark.parametrize("where", ["scoring", "writing"])
def test_interrupted_run_leaves_no_output(denial_model, backlog, tmp_path, monkeypatch, where):
    path, _ = backlog
    out = tmp_path / "worklist.csv"
    calls = {"n": 0}
    if where == "scoring":
        real = worklist.scored_columns

        def boom(*a, **k):
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
            return real(*a, **k)

        monkeypatch.setattr(worklist, "scored_columns", boom)
    else:
        real_write = worklist.TableWriter.write_arrow

        def boom(self, table):
            real_write(self, table)
            if self.target == out:  # pass 2, after the first batch of the final file
                raise KeyboardInterrupt

        monkeypatch.setattr(worklist.TableWriter, "write_arrow", boom)
    with pytest.raises(KeyboardInterrupt):
        worklist.score_file(path, out, denial_model, progress=False, explain=False, block_bytes=64 << 10)
    assert list(tmp_path.iterdir()) == []  # no output, no rejects, no half or temporary file


def test_drift_warning_names_the_shifted_features(denial_model, backlog, tmp_path):
    _, raw = backlog
    shifted = raw.copy()
    shifted["payer_type"] = "commercial"
    shifted["has_prior_auth"] = ""
    path = tmp_path / "shifted.csv"
    shifted.to_csv(path, index=False)
    result = worklist.score_file(path, tmp_path / "w.csv", denial_model, progress=False, explain=False)
    assert result.drift is not None and result.drift_warning
    drifted = set(result.drift.loc[result.drift["drifted"], "feature"])
    assert any(f.startswith("documentation__has_prior_auth") for f in drifted), drifted
    assert "documentation__has_prior_auth" in result.drift_warning


def test_the_separator_never_falls_inside_a_reason_or_a_fix(scored):
    """Every piece `; ` leaves is whole: its brackets balance (a '; ' inside a parenthesis split a
    filing-limit finding and a same-or-similar fix in two)."""
    _, got, _ = scored
    pieces = [
        p for col in ("top_reasons", "recommended_actions") for s in got[col] for p in s.split("; ") if s
    ]
    assert len(pieces) > 100
    broken = [p for p in pieces if p.count("(") != p.count(")")]
    assert not broken, broken[:3]
