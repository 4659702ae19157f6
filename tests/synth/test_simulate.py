"""The claim simulator (`denial_risk.synth.simulate`): a world grounded in domain.md, a learnable truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from denial_risk.biller import remedies
from denial_risk.claims import reader
from denial_risk.contract import normalize, policy, reference, rules, schema, values
from denial_risk.synth import simulate, world
from denial_risk.synth.oracle import History
from denial_risk.tableio import files

ROWS = 30_000


@pytest.fixture(scope="module")
def sim():
    frame, the_world, details = simulate._simulate(ROWS, 7, "2024-01-01", 24)
    return frame, details, the_world


@pytest.fixture(scope="module")
def claims(sim):
    return sim[0]


def test_columns_and_dtypes(claims):
    expected = {*schema.REQUIRED, *schema.OPTIONAL, *schema.LABELS, "remark_codes", "true_denial_probability"}
    assert set(claims.columns) == expected
    for col in claims.columns:
        assert str(claims[col].dtype) == schema.NORMALISED_DTYPES[col], col
    assert len(claims) == ROWS
    for col in schema.REQUIRED:
        assert claims[col].notna().all(), col


@pytest.mark.parametrize("payer_type", sorted(simulate.TARGET_DENIAL_RATES))
def test_denial_rate_by_payer_type_near_published(claims, payer_type):
    rate = claims.loc[claims["payer_type"] == payer_type, "denied"].mean()
    assert abs(rate - simulate.TARGET_DENIAL_RATES[payer_type]) < 0.02


def test_truth_is_a_probability_and_calibrated(claims):
    p = claims["true_denial_probability"].to_numpy()
    y = claims["denied"].to_numpy(dtype=bool)
    assert np.all((p >= 0) & (p <= 1))
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(y.mean() - p.mean()) < 4 * se
    # calibrated within deciles of the truth too
    bins = pd.qcut(p, 10, labels=False, duplicates="drop")
    for b in np.unique(bins):
        m = bins == b
        se_b = np.sqrt((p[m] * (1 - p[m])).sum()) / m.sum()
        assert abs(y[m].mean() - p[m].mean()) < 4 * se_b + 0.005, b


def test_truth_separates(claims):
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(claims["denied"].to_numpy(dtype=bool), claims["true_denial_probability"])
    assert 0.75 < auc < 0.97


def test_deterministic_for_a_seed():
    a = simulate.simulate_claims(3_000, 123)
    b = simulate.simulate_claims(3_000, 123)
    c = simulate.simulate_claims(3_000, 124)
    pd.testing.assert_frame_equal(a, b)
    assert not a["hcpcs_code"].equals(c["hcpcs_code"])
    assert not a["true_denial_probability"].equals(c["true_denial_probability"])


def test_keys_order_and_claim_structure(claims):
    assert not claims.duplicated(["claim_id", "line_number"]).any()
    assert claims["service_date"].is_monotonic_increasing
    per_claim = claims.groupby("claim_id")["line_number"].agg(["min", "max", "size"])
    assert (per_claim["min"] == 1).all() and (per_claim["max"] == per_claim["size"]).all()
    assert (per_claim["size"] > 1).mean() > 0.2  # several lines per claim sometimes
    same = claims.groupby("claim_id")[
        ["patient_id", "provider_id", "payer_id", "service_date", "submission_date"]
    ].nunique()
    assert (same == 1).all().all()
    assert (claims["submission_date"] > claims["service_date"]).all()
    assert claims["service_date"].min() >= pd.Timestamp("2024-01-01")
    assert claims["service_date"].max() < pd.Timestamp("2026-01-01")


def test_world_size(claims):
    assert 40 <= claims["provider_id"].nunique() <= 80
    assert claims["provider_id"].str.fullmatch(r"\d{10}").all()
    # NPI check digit (Luhn over 80840 + the first nine digits)
    for npi in claims["provider_id"].unique()[:20]:
        digits = [int(c) for c in "80840" + npi]
        total = sum(
            d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(reversed(digits))
        )
        assert total % 10 == 0, npi
    payers = claims.groupby("payer_id")["payer_type"].nunique()
    assert 8 <= len(payers) <= 12 and (payers == 1).all()
    assert set(claims["payer_type"]) == set(simulate.TARGET_DENIAL_RATES)
    assert claims["patient_id"].str.fullmatch(r"P\d{7,}").all()
    visits = claims.groupby("patient_id")["claim_id"].nunique()
    assert (visits > 1).mean() > 0.1  # repeat patients
    assert claims["prior_same_code_12m"].gt(0).mean() > 0.01


def test_codes_valid_except_the_intended_invalid_ones(claims):
    status = reference.hcpcs_status(claims["hcpcs_code"])
    invalid_codes = set(claims.loc[status != "valid", "hcpcs_code"])
    assert invalid_codes <= {c for c, _, _ in world.INVALID_HCPCS}
    assert "L0620" in invalid_codes
    groups = policy.policy_for_codes(claims.loc[status == "valid", "hcpcs_code"])["policy_group"]
    assert groups.notna().all()
    assert set(groups) == set(world.GROUP_SHARES)

    dx = values.normalise_diagnoses(claims["diagnosis_codes"])
    exploded = dx.str.split(schema.LIST_SEP).explode()
    info = reference.icd10_info(exploded.astype("string"))
    bad = ~info["billable"].to_numpy()
    assert set(exploded[bad]) <= set(world.INVALID_DIAGNOSES)
    bad_line = pd.Series(bad, index=exploded.index).groupby(level=0).any()
    share_invalid = ((status != "valid") | bad_line).mean()
    assert 0.003 <= share_invalid <= 0.015
    assert claims["diagnosis_codes"].str.contains(".", regex=False).any()  # some dotted forms


def test_supporting_and_non_supporting_diagnoses(sim):
    claims, details, _ = sim
    groups = policy.policy_for_codes(claims["hcpcs_code"])["policy_group"]
    dx = values.normalise_diagnoses(claims["diagnosis_codes"])
    support = policy.diagnosis_support(groups, dx)["any_supports"]
    flagged = details["causes"]["diagnosis_not_supporting"].to_numpy() > 0
    known = support.notna().to_numpy()
    assert (~support[known].to_numpy(dtype=bool) == flagged[known]).all()
    assert 0.02 < flagged.mean() < 0.12


def test_modifiers(claims):
    mods = claims["modifiers"].str.split(schema.LIST_SEP)
    counts = mods.map(lambda m: len([x for x in m if x]))
    assert counts.max() <= 4
    known = reference.known_modifiers()
    assert {m for ms in mods for m in ms if m} <= known
    pol = policy.policy_for_codes(claims["hcpcs_code"])
    sided = pol["sided"].fillna(False).to_numpy(dtype=bool)
    side = claims["modifiers"].str.contains(r"\b(?:RT|LT)\b", regex=True).to_numpy(dtype=bool)
    assert 0.9 < side[sided].mean() < 1.0  # mostly right, sometimes missing
    kx_lines = rules.in_force(
        "kx_required", claims["hcpcs_code"], claims["service_date"], claims["payer_type"]
    )
    kx = claims["modifiers"].str.contains("KX").to_numpy(dtype=bool)
    assert 0.8 < kx[kx_lines].mean() < 1.0


def test_every_denial_has_a_carc_and_payment_follows(claims):
    denied = claims["denied"].to_numpy(dtype=bool)
    reasons = claims.loc[denied, "denial_reason"]
    assert reasons.notna().all()
    assert reasons.str.fullmatch(r"(CO|PR|OA|PI)-\d{1,3}").all()
    carc = reference.carc_descriptions()
    assert {r.split("-")[1] for r in reasons} <= set(carc)
    assert claims.loc[~denied, "denial_reason"].isna().all()
    assert (claims.loc[denied, "paid_amount"] == 0).all()
    paid = claims.loc[~denied]
    assert (paid["paid_amount"] > 0).all() and (paid["paid_amount"] < paid["billed_amount"]).all()
    top = reasons.value_counts(normalize=True)
    assert {"CO-16", "CO-4", "CO-11", "CO-29", "CO-50", "CO-197"} <= set(top.index)


def test_causes_drive_their_reason(sim):
    claims, details, _ = sim
    causes = details["causes"]
    denied = claims["denied"].to_numpy(dtype=bool)
    late = causes["late_filing"].to_numpy() > 0
    assert claims.loc[late, "denied"].mean() > 0.9
    assert (claims.loc[late & denied, "denial_reason"] == "CO-29").mean() > 0.8
    invalid = (claims["hcpcs_code"] == "L0620").to_numpy()
    assert claims.loc[invalid, "denied"].mean() > 0.9
    ga = causes["ga_abn_on_file"].to_numpy() > 0
    ga_reasons = claims.loc[ga & denied, "denial_reason"].value_counts(normalize=True)
    assert ga_reasons.index[0] == "PR-50" and ga_reasons.iloc[0] > 0.4  # GA: PR-50 with M38
    assert (
        claims.loc[ga & denied & (claims["denial_reason"] == "PR-50"), "remark_codes"]
        .str.contains("M38")
        .all()
    )
    assert not claims["denial_reason"].isin(["PR-204", "CO-18"]).any()  # duplicates are OA-18


def test_oracle_is_the_mechanism_and_judges_edited_lines(sim):
    claims, details, the_world = sim
    truth = the_world.true_denial_probability(claims)
    np.testing.assert_allclose(truth, claims["true_denial_probability"].to_numpy(), rtol=0, atol=1e-12)
    # the truth is the expectation over what the table does not show, which drew the denial
    p = claims["true_denial_probability"].to_numpy()
    hidden = (details["latent_e"] > 0).any(axis=1)
    se = np.sqrt((p[hidden] * (1 - p[hidden])).sum()) / hidden.sum()
    assert abs(p[hidden].mean() - details["p_actual"][hidden].mean()) < 4 * se
    assert np.allclose(p[~hidden], details["p_actual"][~hidden])
    # attaching a missing document the payer expects lowers the world's risk; photos never matter
    missing = claims["has_proof_of_delivery"].eq(False).fillna(False).to_numpy()
    fixed = remedies.apply(claims[missing], "attach:has_proof_of_delivery")
    assert (the_world.true_denial_probability(fixed) <= p[missing] + 1e-12).all()
    assert (the_world.true_denial_probability(fixed) < p[missing] - 0.01).mean() > 0.5
    photos = claims.assign(has_photos=~claims["has_photos"].fillna(False))
    np.testing.assert_allclose(the_world.true_denial_probability(photos), p)


@pytest.mark.parametrize(
    ("code", "date", "required"),
    [
        ("L0637", "2024-09-16", True),
        ("L0637", "2024-06-17", False),
        ("L1833", "2024-06-17", True),
        ("L1833", "2024-09-16", False),
        ("L1844", "2026-04-13", True),
        ("L1844", "2026-04-10", False),
    ],
)
def test_medicare_world_follows_the_dated_prior_authorization_list(sim, code, date, required):
    claims, _, the_world = sim
    line = (
        claims[(claims["payer_id"] == "MCRJD")]
        .iloc[[0]]
        .assign(
            hcpcs_code=code,
            service_date=pd.Timestamp(date),
            submission_date=pd.Timestamp(date),
            modifiers="KX|RT|NU",
            has_prior_auth=False,
            diagnosis_codes="M1711|M5450",
        )
    )
    without = the_world.true_denial_probability(line)[0]
    with_pa = the_world.true_denial_probability(line.assign(has_prior_auth=True))[0]
    assert (without - with_pa > 0.02) == required


def test_rtlt_one_line_is_a_defect_for_medicare_from_2019():
    got = rules.in_force(
        "rt_lt_separate_lines",
        pd.Series(["L1833", "L1833", "L0627"]),
        pd.Series(pd.to_datetime(["2019-03-01", "2019-02-28", "2020-01-01"])),
    )
    assert got.tolist() == [True, False, False]


def test_same_or_similar_is_side_aware_over_the_lifetime():
    """An earlier RT knee orthosis: a later RT one is same-or-similar inside five years, an LT one is not."""
    hist = History.of(np.array([0]), np.array([1]), np.array([0]), np.array([100]), 3)
    day = np.array([400.0, 400.0, 100 + 5 * 365 + 10.0])
    rt = np.array([[True, False, True]] * 3)
    lt = np.array([[False, True, True]] * 3)
    window = 5 * 365
    assert hist.earlier(np.zeros(3, int), np.ones(3, int), rt, day, window, 3).tolist() == [True, True, False]
    assert hist.earlier(np.zeros(3, int), np.ones(3, int), lt, day, window, 3).tolist() == [
        False,
        False,
        False,
    ]


def test_policy_change_visible_in_time(sim):
    claims, details, _ = sim
    change = details["change_date"]
    assert change == simulate.policy_change_date("2024-01-01", 24) == pd.Timestamp("2025-01-01")
    groups = policy.policy_for_codes(claims["hcpcs_code"])["policy_group"]
    knee = (claims["payer_id"] == "COM301") & (groups == "knee_orthosis")
    before = knee & (claims["service_date"] < change)
    after = (
        knee
        & (claims["service_date"] >= change)
        & (claims["service_date"] < change + pd.DateOffset(months=6))
    )
    assert before.sum() > 50 and after.sum() > 50
    assert claims.loc[after, "denied"].mean() > claims.loc[before, "denied"].mean() + 0.08
    assert (claims.loc[after & claims["denied"].fillna(False), "denial_reason"] == "CO-197").mean() > 0.4
    # other payers' knee lines do not jump
    other = (
        (claims["payer_type"] == "commercial")
        & (claims["payer_id"] != "COM301")
        & (groups == "knee_orthosis")
    )
    jump = (
        claims.loc[other & (claims["service_date"] >= change), "denied"].mean()
        - claims.loc[other & (claims["service_date"] < change), "denied"].mean()
    )
    assert abs(jump) < 0.06


def test_contract_file_round_trip(claims, tmp_path):
    small = claims.iloc[:3000]
    for name in ("claims.csv", "claims.parquet"):
        path = tmp_path / name
        files.write_table(simulate.contract_frame(small), path)
        norm, rejects = normalize.normalize_chunk(reader.read_table(path))
        assert len(rejects) == 0 and len(norm) == len(small)
        for col in small.columns:
            a, b = small[col].reset_index(drop=True), norm[col].reset_index(drop=True)
            if col == "diagnosis_codes":
                a = a.str.replace(".", "", regex=False)
            if col in ("billed_amount", "paid_amount", "true_denial_probability"):
                np.testing.assert_allclose(a.to_numpy(), b.astype(float).to_numpy(), err_msg=col)
            else:
                assert (
                    a.astype("string")
                    .fillna("<NA>")
                    .equals(b.astype(a.dtype).astype("string").fillna("<NA>"))
                ), col
    text = (tmp_path / "claims.csv").read_text().splitlines()
    assert re.search(r",\d{4}-\d{2}-\d{2},\d{4}-\d{2}-\d{2},", text[1])
    assert ",true," in "\n".join(text[1:50]) and "True" not in "\n".join(text[1:50])


def test_split_labelled_backlog(claims):
    labelled, backlog = simulate.split_labelled_backlog(claims, "2025-07-01")
    assert len(labelled) + len(backlog) == len(claims)
    assert not set(labelled["claim_id"]) & set(backlog["claim_id"])
    assert not set(backlog.columns) & {*schema.LABELS, "true_denial_probability"}


def test_command_writes_and_rejects(tmp_path):
    from denial_risk.cli import cli

    runner = CliRunner()
    out = tmp_path / "sim.parquet"
    res = runner.invoke(cli, ["simulate", "--rows", "500", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "500" in res.output and "denial rate" in res.output and str(out) in res.output
    assert len(reader.read_table(out)) == 500

    res = runner.invoke(cli, ["simulate", "--rows", "5", "--seed", "3", "--out", str(tmp_path / "x.txt")])
    assert res.exit_code != 0 and "--out" in str(res.exception)
    assert not (tmp_path / "x.txt").exists()


def test_command_also_writes_x12_that_ingests_back(tmp_path):
    from denial_risk.cli import cli
    from denial_risk.x12 import ingest

    res = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--rows",
            "200",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "y.csv"),
            "--x12",
            str(tmp_path / "x12"),
        ],
    )
    assert res.exit_code == 0, res.output
    claims = [tmp_path / "x12" / "claims.837"]  # the first pass (the reworks follow in *.rework.*)
    remits = [tmp_path / "x12" / "remits.835"]
    assert claims[0].exists() and remits[0].exists()
    result = ingest(claims, remits)
    labelled = result.labelled
    assert len(labelled) == 200
    truth = reader.read_table(tmp_path / "y.csv")
    assert (
        labelled["denied"].astype(str).str.lower().isin(["true", "1"]).sum()
        == truth["denied"].astype(str).str.lower().eq("true").sum()
    )


def test_zero_and_tiny_rows():
    assert len(simulate.simulate_claims(0, 1)) == 0
    assert len(simulate.simulate_claims(1, 1)) == 1


def test_embedded_sample_is_current():
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "data" / "sample"
    labelled = pd.read_csv(here / "claims.csv", dtype=str, keep_default_na=False)
    backlog = pd.read_csv(here / "backlog.csv", dtype=str, keep_default_na=False)
    assert 18_000 <= len(labelled) <= 22_000 and 4_000 <= len(backlog) <= 6_000
    assert "denied" in labelled and "denied" not in backlog and "true_denial_probability" not in backlog
    assert labelled["service_date"].max() < backlog["service_date"].min()


def test_embedded_sample_regenerates_byte_for_byte(tmp_path):
    """The committed sample is what `make_sample_data` writes today: a changed random stream shows here."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[2] / "data" / "sample"
    simulate.make_sample_data(tmp_path, **simulate.SAMPLE)
    for name in ("claims.csv", "backlog.csv", "backlog_truth.csv"):
        assert (tmp_path / name).read_bytes() == (here / name).read_bytes(), name
