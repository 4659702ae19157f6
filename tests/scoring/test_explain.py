"""Which lines the worklist explains: the default (medium tier and up), `--explain-top N` (the N lines
ranked first by expected loss, explained in pass 2) and `--explain-all` (every line, as `score_request`
explains them). An explained line gets what explaining every line gives it; every line keeps its
likely denial codes and its certain findings (the rule layer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.scoring import worklist
from denial_risk.scoring.score import score_request

N = 2500
EXPLAINED = ["top_reasons", "recommended_actions"]


@pytest.fixture(scope="module")
def backlog(simulated_claims, tmp_path_factory):
    raw = (
        simulated_claims.iloc[:N]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .reset_index(drop=True)
    )
    folder = tmp_path_factory.mktemp("explain")
    path = folder / "backlog.csv"
    raw.to_csv(path, index=False)
    return path, raw


@pytest.fixture(scope="module")
def every_line(denial_model, backlog):
    """What `score_request` (the served model, which explains every line) gives each scorable line."""
    _, raw = backlog
    direct = score_request(denial_model, raw)
    return direct[direct[REJECT_REASON].isna()].reset_index(drop=True).fillna("")


@pytest.fixture(scope="module")
def rule_layer(denial_model, backlog):
    """(each scorable line's certain findings, whether a certain rule with a fix binds it): what a line
    the worklist does not explain still gets (`scoring.rulelayer`)."""
    from denial_risk.contract.certain import delivered
    from denial_risk.contract.facts import LineFacts
    from denial_risk.contract.normalize import normalize_chunk
    from denial_risk.scoring.rulelayer import certain_reasons

    _, raw = backlog
    clean, _ = normalize_chunk(raw.astype("string"))
    facts = LineFacts.of(clean)
    bound = denial_model.rule_risk(clean, facts=facts).with_fix()
    return certain_reasons(clean, facts, delivered(clean)), bound


def _worklist(model, path, tmp_path, name, **kw) -> pd.DataFrame:
    out = tmp_path / name
    worklist.score_file(path, out, model, progress=False, block_bytes=96 << 10, **kw)
    return pd.read_parquet(out)


def test_explain_all_is_every_line_explained(denial_model, backlog, every_line, tmp_path):
    path, _ = backlog
    got = _worklist(denial_model, path, tmp_path, "all.parquet", explain_all=True)
    assert len(got) == len(every_line)
    for col in [*EXPLAINED, "likely_denial_codes", "risk_tier"]:
        assert got[col].fillna("").tolist() == every_line[col].astype(str).tolist(), col
    assert (got["top_reasons"] != "").mean() > 0.5  # low lines have their findings too


def _unexplained_hold_the_rule_layer(got, every_line, chosen, rule_layer) -> None:
    """A line not chosen gets its certain findings, and its fixes only when a certain rule binds it (then
    it is explained as every line is)."""
    certain, bound = rule_layer
    rest = ~chosen & ~bound
    assert got.loc[rest, "top_reasons"].tolist() == certain[rest].tolist()
    assert (got.loc[rest, "recommended_actions"] == "").all()
    assert (got.loc[rest, "top_reasons"] != "").any()  # low lines say what is certain
    for col in EXPLAINED:
        assert got.loc[bound, col].tolist() == every_line.loc[bound, col].tolist(), col


def test_default_explains_the_lines_at_or_above_the_medium_tier(
    denial_model, backlog, every_line, rule_layer, tmp_path
):
    path, _ = backlog
    got = _worklist(denial_model, path, tmp_path, "default.parquet")
    chosen = got["denial_probability"].to_numpy() >= denial_model.tiers["medium"]
    assert 0 < chosen.sum() < len(got)
    for col in EXPLAINED:
        assert got.loc[chosen, col].tolist() == every_line.loc[chosen, col].tolist(), col
    _unexplained_hold_the_rule_layer(got, every_line, chosen, rule_layer)
    assert (got["recommended_actions"] != "").any()
    assert got["likely_denial_codes"].tolist() == every_line["likely_denial_codes"].tolist()
    assert (got["likely_denial_codes"] != "").all()


@pytest.mark.parametrize("top", [0, 37, 400])
def test_explain_top_explains_exactly_the_lines_ranked_first(
    denial_model, backlog, every_line, rule_layer, tmp_path, top
):
    path, _ = backlog
    got = _worklist(denial_model, path, tmp_path, f"top{top}.parquet", explain_top=top)
    # the N highest expected losses, ties by probability: the worklist's own rank
    order = np.lexsort((-got["denial_probability"].to_numpy(), -got["expected_loss"].to_numpy()))
    first = np.zeros(len(got), dtype=bool)
    first[order[:top]] = True
    assert (first == (got["risk_rank"].to_numpy() <= top)).all()
    for col in EXPLAINED:
        assert got.loc[first, col].tolist() == every_line.loc[first, col].tolist(), col
    _unexplained_hold_the_rule_layer(got, every_line, first, rule_layer)
    if top:
        assert (got.loc[first, "top_reasons"] != "").mean() > 0.5
        assert (got.loc[first, "recommended_actions"] != "").any()
    # every line keeps its likely denial codes, explained or not
    assert got["likely_denial_codes"].tolist() == every_line["likely_denial_codes"].tolist()
    assert (got.loc[~first, "likely_denial_codes"] != "").all()


def test_explain_top_from_a_typed_parquet_file(denial_model, backlog, every_line, tmp_path):
    """Pass 2 reads the lines back from the scored file: typed input columns normalise as in pass 1."""
    _, raw = backlog
    typed = raw.copy()
    typed["billed_amount"] = pd.to_numeric(typed["billed_amount"])
    typed["service_date"] = pd.to_datetime(typed["service_date"])
    typed["units"] = pd.to_numeric(typed["units"]).astype("Int64")
    path = tmp_path / "typed.parquet"
    typed.to_parquet(path, index=False)
    got = _worklist(denial_model, path, tmp_path, "typed_top.parquet", explain_top=300)
    first = got["risk_rank"].to_numpy() <= 300
    for col in EXPLAINED:
        assert got.loc[first, col].tolist() == every_line.loc[first, col].tolist(), col


def test_explain_top_and_all_together_is_a_users_mistake():
    from denial_risk.errors import UserError
    from denial_risk.scoring.explain import ExplainPolicy

    with pytest.raises(UserError, match="--explain-top and --explain-all"):
        ExplainPolicy.choose(explain_top=5, explain_all=True)
