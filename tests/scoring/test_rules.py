"""The rule layer: certain findings on every line, risk that knows the rules the remits do not show,
certain rules' fixes without a learned effect, and no fix that cannot be done at the line's stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from denial_risk.scoring import worklist

ROOT = Path(__file__).resolve().parents[2]

BASE = dict(
    line_number=1,
    patient_id="P1",
    provider_id="1614859001",
    payer_id="MCRJD",
    payer_type="medicare",
    service_date="2024-09-15",
    submission_date="2024-09-25",
    place_of_service="12",
    hcpcs_code="L0637",
    modifiers="NU|KX",
    units=1,
    diagnosis_codes="M5416",
    billed_amount=1500.0,
    has_prescription=True,
    has_medical_necessity_letter=True,
    has_progress_notes=True,
    has_measurements=True,
    has_photos=True,
    has_proof_of_delivery=True,
    has_prior_auth=False,
    prior_same_code_12m=0,
    eligibility_verified=True,
    ordering_npi="1033681044",
    order_date="2024-09-01",
    face_to_face_date="2024-08-20",
)
PROBES = [
    dict(BASE, claim_id="PA_0915"),
    dict(
        BASE,
        claim_id="PA_0615",
        service_date="2024-06-15",
        submission_date="2024-06-25",
        order_date="2024-06-01",
        face_to_face_date="2024-05-20",
    ),
    dict(BASE, claim_id="L1833_0915", hcpcs_code="L1833", modifiers="NU|RT|KX", diagnosis_codes="M1711"),
    dict(
        BASE,
        claim_id="RTLT",
        hcpcs_code="L1851",
        modifiers="NU|RT|LT|KX",
        units=2,
        has_prior_auth=True,
        diagnosis_codes="M170",
    ),
    dict(BASE, claim_id="PA_LATER", service_date="2027-03-15", submission_date="", order_date=""),
]
PRE_DELIVERY = ("obtain prior authorization", "get the written order before delivery")


@pytest.fixture(scope="module")
def sample_model():
    """A model trained on data/sample as `make demo` trains it."""
    from denial_risk.claims.table import load_claims
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model

    frame, _ = load_claims(ROOT / "data" / "sample" / "claims.csv")
    return fit_model(frame, TrainConfig()).model


def _score(model, rows, tmp_path, name="probe", **kw) -> pd.DataFrame:
    src = tmp_path / f"{name}.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / f"{name}.out.csv"
    worklist.score_file(src, out, model, progress=False, **kw)
    return pd.read_csv(out, dtype=str, keep_default_na=False).set_index("claim_id")


@pytest.mark.slow
def test_certain_rules_speak_on_every_line_with_default_options(sample_model, tmp_path):
    got = _score(sample_model, PROBES, tmp_path, as_of="2026-12-04")
    assert "prior authorization" in got.loc["PA_0915", "top_reasons"]
    assert "Required Prior Authorization List" in got.loc["PA_0915", "top_reasons"]
    # delivered, and the record shows no authorization: nothing to list for it, and the reasons say why
    assert "cannot be fixed" in got.loc["PA_0915", "top_reasons"]
    assert "prior authorization" not in got.loc["PA_0915", "recommended_actions"]
    # before L0637 joined the list (2024-08-12), and L1833 after it left: no prior-authorization reason
    assert "prior authorization" not in got.loc["PA_0615", "top_reasons"]
    assert "prior authorization" not in got.loc["L1833_0915", "top_reasons"]
    assert "RT and LT on one line" in got.loc["RTLT", "top_reasons"]
    assert "bill the two sides on two lines" in got.loc["RTLT", "recommended_actions"]
    # not delivered yet on the as-of date: prior authorization can still be obtained
    assert "obtain prior authorization before delivery" in got.loc["PA_LATER", "recommended_actions"]
    for action in got["recommended_actions"]:
        for item in filter(None, action.split("; ")):
            assert " → " in item or item.startswith(("check", "if this", "replace")), item


@pytest.mark.slow
def test_a_line_below_the_medium_tier_keeps_its_certain_findings(sample_model, tmp_path):
    got = _score(sample_model, PROBES, tmp_path, as_of="2026-12-04", explain_top=0)
    assert "prior authorization" in got.loc["PA_0915", "top_reasons"]
    assert "RT and LT on one line" in got.loc["RTLT", "top_reasons"]


def _stage_words_hold(frame: pd.DataFrame, service: pd.Series, as_of: str) -> int:
    """No fix that must precede delivery on a delivered line; no conditional 'if ... before delivery'
    on a line not yet delivered. Returns how many lines were checked with a fix."""
    delivered = pd.to_datetime(service).to_numpy() <= np.datetime64(as_of)
    actions = frame["recommended_actions"].to_numpy(dtype=object)
    for done, text in zip(delivered, actions):
        if done:
            assert not any(w in text for w in PRE_DELIVERY), text
        else:
            assert "if one was obtained before delivery" not in text, text
            assert "if it was written before delivery" not in text, text
    return int((actions != "").sum())


@pytest.mark.slow
def test_no_fix_on_the_sample_backlog_asks_for_what_must_precede_delivery(sample_model, tmp_path):
    backlog = pd.read_csv(ROOT / "data" / "sample" / "backlog.csv", dtype=str, keep_default_na=False)
    for as_of in ("2026-12-04", "2026-03-31", "2025-12-31"):
        out = tmp_path / f"backlog-{as_of}.csv"
        worklist.score_file(
            ROOT / "data" / "sample" / "backlog.csv", out, sample_model, progress=False, as_of=as_of
        )
        got = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert _stage_words_hold(got, backlog["service_date"], as_of) > 50
    # before delivery (every line after the as-of date) prior authorization is asked for as such
    assert "obtain prior authorization before delivery" in " ".join(got["recommended_actions"])


def test_no_fix_in_the_simulator_asks_for_what_must_precede_delivery(
    denial_model, simulated_claims, tmp_path
):
    raw = simulated_claims.drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
    raw = raw.iloc[-3000:].reset_index(drop=True)
    src = tmp_path / "sim.csv"
    raw.to_csv(src, index=False)
    as_of = str(pd.to_datetime(raw["service_date"]).quantile(0.5).date())
    out = tmp_path / "sim.out.csv"
    worklist.score_file(src, out, denial_model, progress=False, as_of=as_of, explain_all=True)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert _stage_words_hold(got, raw["service_date"], as_of) > 100
    text = " ".join(got["recommended_actions"])
    assert "if one was obtained before delivery" in text or "obtain prior authorization before" in text


@pytest.mark.slow
def test_a_rule_the_training_remits_never_show_lifts_its_lines_to_the_high_tier(claims_frame, tmp_path):
    from denial_risk.contract.certain import certain_rules
    from denial_risk.contract.facts import LineFacts
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model

    rules = certain_rules(claims_frame, LineFacts.of(claims_frame))
    never = claims_frame[~rules["prior_auth_missing"]]
    model = fit_model(never, TrainConfig()).model
    assert model.info["rule_counts"]["prior_auth_missing"]["n"] == 0
    line = dict(BASE, claim_id="NEW", hcpcs_code="L1851", modifiers="NU|RT|KX", diagnosis_codes="M1711")
    got = _score(
        model, [line, dict(line, claim_id="WITH", has_prior_auth=True)], tmp_path, as_of="2024-01-01"
    )
    assert got.loc["NEW", "risk_tier"] == "high"
    assert float(got.loc["NEW", "denial_probability"]) >= model.tiers["high"]
    assert got.loc["WITH", "risk_tier"] != "high"  # the same line with its authorization is not lifted
    # the fix states the risk left once the rule is met: the model's own risk of the line
    assert "obtain prior authorization before delivery" in got.loc["NEW", "recommended_actions"]


def test_a_rule_the_model_learned_moves_nothing(denial_model, claims_frame):
    """Where the training remits held enough of a rule's lines, the rule layer leaves the risk as it is."""
    from denial_risk.modeling.rule_risk import K_MIN

    counts = denial_model.info["rule_counts"]
    learned = [n for n, e in counts.items() if e["n"] >= K_MIN and "codes" not in e]
    assert learned
    lines = claims_frame.iloc[:4000]
    rr = denial_model.rule_risk(lines)
    for name in learned:
        assert not rr.lifted[name].any(), name
    moved = np.flatnonzero(np.abs(rr.p - rr.p_model) > 1e-12)
    assert all(any(rr.lifted[n][i] for n in rr.lifted) for i in moved)
    assert (rr.p >= rr.p_model - 1e-12).all()


def test_a_certain_rules_fix_states_the_risk_left_once_the_rule_is_met(denial_model, claims_frame):
    """Rule-based fixes (no learned effect, or one that does not clear the listing rule) state the risk
    `RuleRisk.risk_without` gives, lower than the line's, and are listed only when a point lower."""
    from denial_risk.contract import schema
    from denial_risk.scoring import fixes

    lines = claims_frame.iloc[:6000].drop(columns=list(schema.OUTCOME_COLUMNS), errors="ignore")
    rr = denial_model.rule_risk(lines)
    table = fixes.fix_table(denial_model, lines, rr.p, rule=rr, as_of="2000-01-01")  # before delivery
    rule_rows = table[table["basis"] == "rule"]
    assert len(rule_rows) > 10
    by_remedy = {
        "split_rtlt": "rt_lt_one_line",
        "obtain_prior_auth": "prior_auth_missing",
        "add_kx": "kx_missing",
    }
    for remedy, part in rule_rows.groupby("remedy"):
        pos = part["pos"].to_numpy(dtype=np.int64)
        want = rr.risk_without(by_remedy[remedy])[pos]
        np.testing.assert_allclose(part["new_probability"].to_numpy(dtype=float), want, rtol=0, atol=1e-12)
        assert (part["new_probability"].to_numpy(dtype=float) <= rr.p[pos] + 1e-12).all()
        listed = part["listed"].to_numpy(dtype=bool)
        assert (rr.p[pos][listed] - want[listed] >= fixes.MIN_DROP - 1e-12).all()


def test_as_of_is_a_date_or_a_users_mistake(tmp_path, capsys, run):
    src = tmp_path / "in.csv"
    pd.DataFrame([dict(BASE, claim_id="A")]).to_csv(src, index=False)
    code, _, err = run(
        ["score", "--data", str(src), "--out", str(tmp_path / "o.csv"), "--as-of", "2026-13-45"], capsys
    )
    assert code == 2 and "--as-of" in err
    assert not (tmp_path / "o.csv").exists()
