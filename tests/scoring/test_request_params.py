"""A scoring request's params (the explain policy and the as-of day): `score_request` with them gives
each line what `score` gives it with the same options, on every line, so the Spark engine (whose
model UDF is `score_request`) and a served request can be told what `score` is told."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.scoring import worklist
from denial_risk.scoring.explain import ExplainPolicy
from denial_risk.scoring.request_params import ParamError, params_of, policy_of
from denial_risk.scoring.score import score_request

N = 2500
TEXTS = ["top_reasons", "recommended_actions", "likely_denial_codes", "risk_tier"]


def test_default_params_ask_for_the_answer_requests_always_had():
    assert policy_of(None) is None
    assert policy_of({}) is None
    assert policy_of({"explain": "all", "as_of": None, "min_probability": None}) is None
    assert policy_of({"as_of": ""}) is None


@pytest.mark.parametrize(
    "policy",
    [
        ExplainPolicy("all", as_of=datetime.date(2025, 3, 1)),
        ExplainPolicy("threshold"),
        ExplainPolicy("threshold", min_probability=0.35, as_of=datetime.date(2024, 1, 31)),
        ExplainPolicy("none", as_of=datetime.date(2025, 3, 1)),
    ],
)
def test_params_round_trip_a_policy(policy):
    assert policy_of(params_of(policy)) == policy


def test_explain_top_asks_for_the_rule_layer_first():
    """The N lines are known only once the file is ranked: the first pass is the rule layer's."""
    day = datetime.date(2025, 3, 1)
    params = params_of(ExplainPolicy("top", top=50, as_of=day), "rules")
    assert params == {"explain": "rules", "as_of": "2025-03-01"}
    assert policy_of(params) == ExplainPolicy("top", top=0, as_of=day)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"as_of": "2025-13-01"}, "as_of '2025-13-01' is not a date"),
        ({"as_of": "yesterday"}, "YYYY-MM-DD"),
        ({"explain": "some"}, "explain 'some' is not one of all, threshold, rules, none"),
        ({"min_probability": 1.5}, "min_probability 1.5 is not between 0 and 1"),
    ],
)
def test_a_bad_param_is_one_clear_error(params, words):
    with pytest.raises(ParamError, match=words.replace("(", r"\(")):
        policy_of(params)


@pytest.fixture(scope="module")
def backlog(simulated_claims, tmp_path_factory):
    raw = (
        simulated_claims.iloc[:N]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .reset_index(drop=True)
    )
    path = tmp_path_factory.mktemp("params") / "backlog.csv"
    raw.to_csv(path, index=False)
    day = pd.to_datetime(raw["service_date"]).quantile(0.5).date()  # half the lines not yet delivered
    return path, raw, day


@pytest.mark.parametrize(
    "params, options",
    [
        ({"explain": "threshold"}, {}),
        ({"explain": "rules"}, {"explain_top": 0}),
        ({"explain": "all"}, {"explain_all": True}),
        ({"explain": "none"}, {"explain": False}),
    ],
)
def test_a_request_with_params_answers_as_score_with_the_same_options(
    denial_model, backlog, tmp_path, params, options
):
    path, raw, day = backlog
    out = tmp_path / "w.parquet"
    worklist.score_file(path, out, denial_model, progress=False, as_of=day, **options)
    want = pd.read_parquet(out).fillna("")
    got = score_request(denial_model, raw, policy_of({**params, "as_of": day.isoformat()}))
    got = got[got[REJECT_REASON].isna()].reset_index(drop=True).fillna("")
    assert len(got) == len(want) > N - 50
    for col in TEXTS:  # every line, whatever its tier
        assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    if params["explain"] != "none":
        below = (want["risk_tier"] == "low") & (want["top_reasons"] != "")
        assert below.any()  # low lines' certain findings were compared too


def test_the_as_of_day_decides_the_stage_of_a_request(denial_model, backlog):
    """Judged against an early day, lines later than it are before delivery: their texts change."""
    _, raw, day = backlog
    today = score_request(denial_model, raw)
    early = score_request(denial_model, raw, policy_of({"as_of": day.isoformat()}))
    later = pd.to_datetime(raw["service_date"], errors="coerce").dt.date > day
    ok = today[REJECT_REASON].isna()
    changed = (today["recommended_actions"] != early["recommended_actions"]) | (
        today["top_reasons"] != early["top_reasons"]
    )
    assert changed[ok & later].any()
    assert not changed[ok & ~later].any()  # delivered on both days: the same answer
    p_today = today.loc[ok, "denial_probability"].astype(float).to_numpy()
    p_early = early.loc[ok, "denial_probability"].astype(float).to_numpy()
    np.testing.assert_allclose(p_early, p_today, rtol=0, atol=1e-12)  # the day changes words, not risk
