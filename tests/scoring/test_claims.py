"""The claim worklist (`<out>.claims.<ext>`): its contract on the sample backlog, claims scattered
through the file, rejected lines, formula-safe cells, and the merged reasons and fixes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from denial_risk.contract import schema
from denial_risk.modeling.claim_risk import log_survival
from denial_risk.scoring import claim_text, worklist
from denial_risk.scoring import claims as claims_module
from denial_risk.scoring.claim_text import claim_actions, claim_reasons, line_ranges

ROOT = Path(__file__).resolve().parents[2]
BACKLOG = ROOT / "data" / "sample" / "backlog.csv"
TIERS = {"low": 0, "medium": 1, "high": 2}


def _read(path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"claim_id": str, "payer_id": str, "lines_at_risk": str}, keep_default_na=False
    )


@pytest.fixture(scope="module")
def sample(denial_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("claims") / "worklist.csv"
    result = worklist.score_file(BACKLOG, out, denial_model, top=3, progress=False)
    return result, _read(out), _read(schema.claims_path_for(str(out)))


def test_the_claim_table_holds_its_contract_on_the_sample_backlog(sample, denial_model):
    result, lines, claims = sample
    assert list(claims.columns) == list(schema.CLAIM_COLUMNS)
    # one row per scored claim, ranks 1..n in order
    assert sorted(claims["claim_id"]) == sorted(lines["claim_id"].unique())
    assert claims["claim_id"].is_unique and len(claims) == result.claims.claims
    assert claims["claim_rank"].tolist() == list(range(1, len(claims) + 1))
    # sums of the lines' (the CSV worklist rounds each line's expected loss to the cent: half a cent a line)
    by = lines.groupby("claim_id")
    got = claims.set_index("claim_id")
    half_cents = 0.005 * by.size().loc[got.index].to_numpy() + 1e-9
    assert (np.abs(got["expected_loss"] - by["expected_loss"].sum().loc[got.index]) <= half_cents).all()
    np.testing.assert_allclose(got["billed_amount"], by["billed_amount"].sum().loc[got.index], rtol=1e-9)
    assert (got["lines"] == by.size().loc[got.index]).all()
    # rank by expected loss, ties by probability
    el = claims["expected_loss"].to_numpy()
    assert (np.diff(el) <= 1e-9).all()
    # every line in lines_at_risk is at medium or above, and every such line is listed
    tier_of = {(c, str(n)): t for c, n, t in zip(lines.claim_id, lines.line_number, lines.risk_tier)}
    for cid, listed in zip(claims.claim_id, claims.lines_at_risk):
        for n in [v for v in listed.split("|") if v]:
            assert TIERS[tier_of[(cid, n)]] >= TIERS["medium"]
    at_risk = lines[lines.risk_tier != "low"].groupby("claim_id").size()
    listed = got["lines_at_risk"].map(lambda s: len([v for v in s.split("|") if v]))
    assert (listed.loc[at_risk.index] == at_risk).all() and listed.sum() == at_risk.sum()
    # probability and tier: a one-line claim's probability is its line's; tiers by the model's thresholds
    p = claims["claim_denial_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    assert (claims["risk_tier"] == denial_model.tier(p)).all()
    single = got[got["lines"] == 1].index
    np.testing.assert_allclose(
        got.loc[single, "claim_denial_probability"],
        by["denial_probability"].first().loc[single],
        atol=5e-5 + 1e-12,  # the CSV worklist rounds a line's probability to 4 decimals
    )
    assert result.claims.top is not None and result.claims.top["claim_rank"].tolist() == [1, 2, 3]


def test_claim_reasons_name_their_lines_and_say_each_finding_once(sample):
    _, lines, claims = sample
    explained = claims[claims["top_reasons"] != ""]
    assert len(explained) > 50
    for text in explained["top_reasons"]:
        items = text.split("; ")
        assert all(item.endswith(")") and " (line" in item for item in items)
        assert len(items) == len(set(items))
    fixes = claims[claims["recommended_actions"].str.contains("→")]
    assert len(fixes) > 10
    # advice is marked as advice, as on the lines (issue 24): every fix without a stated risk, and only those
    items = [i for text in claims["recommended_actions"] if text for i in text.split("; ")]
    advice = [i for i in items if " → " not in i]
    assert advice and all(i.startswith("advice: ") for i in advice)
    assert not any(i.startswith("advice: ") for i in items if " → " in i and "replace " not in i)


def test_claims_scattered_through_the_file_give_the_same_table(denial_model, tmp_path, monkeypatch, sample):
    """The backlog's rows shuffled, read in small chunks, claims in many partitions, written in small windows:
    the same claims, numbers and texts."""
    _, _, want = sample
    raw = pd.read_csv(BACKLOG, dtype=str, keep_default_na=False)
    shuffled = raw.sample(frac=1.0, random_state=3).reset_index(drop=True)
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    monkeypatch.setattr(claims_module, "PARTITION_LINES", 700)
    assert claims_module.partitions_for(len(raw)) >= 4  # claims spread over several partitions
    monkeypatch.setattr(claims_module, "WINDOW", 500)
    out = tmp_path / "worklist.parquet"
    worklist.score_file(path, out, denial_model, progress=False, block_bytes=64 << 10)
    got = pd.read_parquet(schema.claims_path_for(str(out)))
    assert got["claim_rank"].tolist() == list(range(1, len(want) + 1))
    g, w = got.set_index("claim_id"), want.set_index("claim_id").loc[got.claim_id]
    for col in ("claim_denial_probability", "expected_loss", "billed_amount"):
        np.testing.assert_allclose(g[col], w[col], rtol=1e-9)
    for col in ("lines", "risk_tier", "lines_at_risk", "top_reasons", "recommended_actions", "payer_id"):
        assert (g[col].astype(str).to_numpy() == w[col].astype(str).to_numpy()).all(), col
    assert (g["first_service_date"].astype(str).to_numpy() == w["first_service_date"].to_numpy()).all()


def test_rejected_lines_are_said_first_and_an_all_rejected_claim_is_absent(
    denial_model, tmp_path, monkeypatch
):
    monkeypatch.setattr(claims_module, "PARTITION_LINES", 50)  # the rejects found in their claim's partition
    raw = pd.read_csv(BACKLOG, dtype=str, keep_default_na=False).iloc[:400].copy()
    sizes = raw.groupby("claim_id").size()
    multi, other = sizes[sizes >= 2].index[:2]
    first_of_multi = raw.index[raw.claim_id == multi][1]
    raw.loc[first_of_multi, "service_date"] = "not a date"
    raw.loc[raw.claim_id == other, "billed_amount"] = "-1"  # every line of this claim rejected
    raw.loc[raw.index[-1], "claim_id"] = "=HYPERLINK(1)"  # a formula-like id
    path = tmp_path / "backlog.csv"
    raw.to_csv(path, index=False)
    out = tmp_path / "worklist.csv"
    worklist.score_file(path, out, denial_model, progress=False)
    claims = _read(schema.claims_path_for(str(out)))
    assert other not in set(claims.claim_id)
    reasons = claims.set_index("claim_id").loc[multi, "top_reasons"]
    line = raw.loc[first_of_multi, "line_number"]
    assert reasons.startswith(f"line {line} rejected: service_date")
    assert "'=HYPERLINK(1)" in set(claims.claim_id)  # neutralised in CSV, as every table the product writes


def test_an_empty_backlog_still_writes_a_claim_table_with_every_column(denial_model, tmp_path):
    raw = pd.read_csv(BACKLOG, dtype=str, keep_default_na=False).iloc[:0]  # the header alone
    path = tmp_path / "backlog.csv"
    raw.to_csv(path, index=False)
    out = tmp_path / "worklist.csv"
    result = worklist.score_file(path, out, denial_model, progress=False)
    claims = _read(schema.claims_path_for(str(out)))
    assert list(claims.columns) == list(schema.CLAIM_COLUMNS) and len(claims) == 0
    assert result.claims.claims == 0


def test_line_ranges():
    assert line_ranges([2]) == "line 2"
    assert line_ranges([3, 1, 2, 5]) == "lines 1-3, 5"
    assert line_ranges([1, 2]) == "lines 1, 2"


def test_certain_findings_come_before_what_the_model_says():
    text = claim_reasons(
        [1, 2, 3],
        [
            "L0631 is often denied (+12 points); no standard written order on file",
            "no standard written order on file; likely CO-16: claim lacks information",
            "no standard written order on file",
        ],
        [("4", "service_date: unparseable")],
    )
    assert text.split("; ") == [
        "line 4 rejected: service_date: unparseable",
        "no standard written order on file (lines 1-3)",
        "L0631 is often denied (+12 points) (line 1)",
        "likely CO-16: claim lacks information (line 2)",
    ]


def test_a_fix_states_the_claim_risk_it_would_leave():
    p = np.array([0.4, 0.3])
    logs = float(np.log1p(-p).sum())
    text = claim_actions(
        [1, 2],
        [
            "attach the standard written order (SWO) → 5%; check the units",
            "attach the standard written order (SWO) → 4%",
        ],
        p,
        None,
        logs,
        2,
    )
    first, second = text.split("; ")
    assert first == "attach the standard written order (SWO) (lines 1, 2) → 9%"  # 1 - 0.95 * 0.96 = 8.8 %
    assert second == "advice: check the units (line 1)"  # no stated risk: advice, and says so


def test_claims_merged_together_are_said_as_each_claim_alone():
    """A partition's claims merged at once (`merged_reasons`, `merged_actions`) give each claim's own
    answer: one-line and many-line claims, repeats, advice, empty or missing texts, a claim with no
    explained text and more than `MAX_CLAIM_REASONS` items; with and without a claim calibration."""
    reasons = [
        "L0631 is often denied (+12 points); no standard written order on file; likely CO-16: claim lacks"
        " information; no standard written order on file; the units",
        "; ".join(f"finding {k}" for k in range(12)),
        "",
        None,
        "no standard written order on file; finding 3",
        "likely CO-16: claim lacks information; finding 3",
        "the units",
    ]
    actions = [
        "attach the standard written order (SWO) → 5%; check the units; attach the SWO → 12.5%",
        "attach the standard written order (SWO) → 5%; attach the standard written order (SWO) → 7%",
        "",
        None,
        "attach the SWO → 2%; check the units",
        "attach the standard written order (SWO) → 0.4%",
        "check the units; attach the SWO → 30%",
    ]
    claim = np.array([0, 1, 1, 3, 3, 3, 4])  # claim 2: no explained line
    line = np.array([3, 1, 2, 1, 2, 4, 7])
    p = np.array([0.4, 0.31, 0.2, 0.7, 0.05, 0.6, 0.9])
    logs = np.bincount(claim, log_survival(p), 5) - 0.25  # other lines of the claims, not explained
    count = np.bincount(claim, minlength=5) + 1
    texts = pa.array(reasons, pa.string()), pa.array(actions, pa.string())
    for calibration in (None, {"method": "isotonic", "x": [0.0, 1.0], "y": [0.1, 0.9]}):
        said = claim_text.merged_reasons(claim, line, texts[0], 5).to_pylist()
        fixes = claim_text.merged_actions(claim, line, p, texts[1], logs, count, calibration).to_pylist()
        for k in range(5):
            mine = claim == k
            assert said[k] == claim_reasons(line[mine], np.array(reasons, dtype=object)[mine])
            alone = claim_actions(
                line[mine], np.array(actions, dtype=object)[mine], p[mine], calibration, logs[k], count[k]
            )
            assert fixes[k] == alone
        assert said[2] == fixes[2] == "" and said[1].count("; ") == claim_text.MAX_CLAIM_REASONS - 1
        assert "finding 3 (lines 2, 4)" in said[3].split("; ")
        assert fixes[3].startswith("attach the standard written order (SWO) (line 4) → ")
        assert fixes[3].endswith("; advice: check the units (line 2)")


def test_one_numbers_log_survival_clips_as_the_arrays():
    """One number's log-survival clips as `min(max(p, 0), 1 - 1e-12)`, NaN kept."""
    probs = [-1.0, -0.0, 0.0, 0.3, 1.0 - 1e-12, 1.0, 2.0, float("inf"), float("nan")]
    one_by_one = [claim_text._log_survival(p) for p in probs]  # the array version's twin, clip included
    np.testing.assert_allclose(one_by_one, log_survival(np.array(probs)), rtol=1e-12, atol=0, equal_nan=True)


def test_served_claim_probabilities_equal_the_claim_worklists(sample, denial_model):
    """`score_request` (the pyfunc and the server's core) gives each line its claim's probability; with
    the claim's lines in the request it is the claim worklist's, and a rejected line has none."""
    from denial_risk.scoring.score import score_request

    _, _, claims = sample
    raw = pd.read_csv(BACKLOG, dtype=str, keep_default_na=False)
    sizes = raw.groupby("claim_id").size()
    chosen = list(sizes[sizes >= 2].index[:40]) + list(sizes[sizes == 1].index[:10])
    request = raw[raw.claim_id.isin(chosen)].reset_index(drop=True)
    got = score_request(denial_model, request)
    want = claims.set_index("claim_id")["claim_denial_probability"]
    np.testing.assert_allclose(
        got["claim_denial_probability"].astype(float), want.loc[request.claim_id].to_numpy(), rtol=1e-9
    )
    # the same claim's lines in two requests: each answers for the lines it holds
    one = request[request.claim_id == chosen[0]]
    alone = score_request(denial_model, one.iloc[:1])
    assert float(alone["claim_denial_probability"].iloc[0]) == pytest.approx(
        float(alone["denial_probability"].iloc[0]), abs=1e-12
    )
    bad = request.copy()
    bad.loc[0, "billed_amount"] = "-3"
    assert score_request(denial_model, bad)["claim_denial_probability"].iloc[0] is None


def test_rank_buckets_write_every_claim_once_in_rank_order(tmp_path, monkeypatch):
    """Partitions' claims in any order, ties in loss and probability: ranked by loss, probability, then
    the first line's place; moved to rank buckets of several windows (few buckets allowed), each bucket
    written alone, a window never split between two buckets."""
    monkeypatch.setattr(claims_module, "WINDOW", 4)
    monkeypatch.setattr(claims_module, "MAX_PARTITIONS", 2)  # 30 claims, 2 buckets at most: 16 a bucket
    rng = np.random.default_rng(5)
    n = 30
    frame = pd.DataFrame(
        {c: pd.Series([f"{c}{k}" for k in range(n)], dtype=object) for c in schema.CLAIM_COLUMNS}
    ).drop(columns=["claim_rank"])
    frame["first_service_date"] = pd.to_datetime("2025-01-01").date()
    frame["lines"] = 1
    frame["billed_amount"] = 100.0
    frame["expected_loss"] = rng.choice([5.0, 7.0, 9.0], n)  # ties in loss ...
    frame["claim_denial_probability"] = rng.choice([0.2, 0.4], n)  # ... and in probability
    frame[claims_module.FIRST_POS] = rng.permutation(n) * 3
    types = pa.schema([f for f in claims_module.CLAIM_TYPES if f.name != "claim_rank"])
    types = types.append(pa.field(claims_module.FIRST_POS, pa.int64()))
    built, keys = [], ([], [], [])
    for p, rows in enumerate(np.array_split(rng.permutation(n), 3)):
        part = frame.iloc[rows]
        built.append(tmp_path / f"claims{p}.parquet")
        pq.write_table(pa.Table.from_pandas(part, schema=types, preserve_index=False), built[-1])
        for kept, c in zip(keys, ("expected_loss", "claim_denial_probability", claims_module.FIRST_POS)):
            kept.append(part[c].to_numpy())
    rank = claims_module._claim_ranks(*keys)
    assert not any(keys)  # the partitions' keys handed over, not kept twice
    buckets = claims_module._rank_buckets(built, rank)
    assert len(buckets) == 2 and not any(p.exists() for p in built)
    summary = claims_module.ClaimSummary(claims=n)
    out = tmp_path / "claims.parquet"
    claims_module._write_buckets(out, buckets, summary, top=6)
    want = frame.sort_values(
        ["expected_loss", "claim_denial_probability", claims_module.FIRST_POS],
        ascending=[False, False, True],
    )
    got = pd.read_parquet(out)
    assert list(got.columns) == list(schema.CLAIM_COLUMNS)
    assert got["claim_rank"].tolist() == list(range(1, n + 1))
    assert got["claim_id"].tolist() == want["claim_id"].tolist()
    meta = pq.ParquetFile(out).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sizes == [4] * 7 + [2]  # written in whole windows of 4, as one merge of all claims would
    assert summary.top["claim_id"].tolist() == want["claim_id"].tolist()[:6]
    assert not any(p.exists() for p in buckets)
