"""A served request's params: `{"params": {"as_of": ...}}` in the JSON body judges each line's stage
against that day (MLflow's scoring app, as `serve` runs it, called in-process); a model without them
answers as always, and a bad param is a 400 that says which."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest

BASE = dict(
    line_number=1,
    payer_id="MCRJD",
    payer_type="medicare",
    service_date="2024-09-15",
    submission_date="2024-09-25",
    hcpcs_code="L0637",
    modifiers="NU|KX",
    units="1",
    diagnosis_codes="M5416",
    billed_amount="1500.00",
    has_prescription="true",
    has_progress_notes="true",
    has_proof_of_delivery="true",
    has_prior_auth="false",
    ordering_npi="1033681044",
    order_date="2024-09-01",
    face_to_face_date="2024-08-20",
)
BEFORE = "obtain prior authorization before delivery"  # biller.wording, the stage before delivery
AFTER = "cannot be fixed on this line: prior authorization must come before delivery"


def _post(app, payload: dict) -> tuple[int, dict]:
    body = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "path": "/invocations",
        "method": "POST",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "query_string": b"",
    }
    messages, sent = [{"type": "http.request", "body": body, "more_body": False}], []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.fixture(scope="module")
def model_dir(champion_store, tmp_path_factory):
    """A verified local copy of the session model, registered in a store of this module's own."""
    from denial_risk.registry import loaded, tracking

    folder = tmp_path_factory.mktemp("served")
    with champion_store(folder, "served-params") as uri, tracking.verified_model(uri) as local:
        loaded.skip_input_check(local)
        yield local


@pytest.fixture(scope="module")
def app(model_dir):
    from denial_risk.registry import tracking

    return tracking.scoring_app(str(model_dir))


def _lines() -> pd.DataFrame:
    return pd.DataFrame([dict(BASE, claim_id="PA_0915"), dict(BASE, claim_id="L1833", hcpcs_code="L1833")])


def _answer(app, params: dict | None = None) -> pd.DataFrame:
    lines = _lines()
    payload = {"dataframe_split": {"columns": list(lines.columns), "data": lines.values.tolist()}}
    if params is not None:
        payload["params"] = params
    status, body = _post(app, payload)
    assert status == 200, body
    return pd.DataFrame(body["predictions"])


def test_a_request_with_as_of_judges_the_stage_against_it(app):
    before = _answer(app, {"as_of": "2024-09-01"})  # the line's service date is later: not yet delivered
    delivered = _answer(app, {"as_of": "2024-10-01"})
    today = _answer(app)  # no params: as of today, as every request was answered before
    assert BEFORE in before.loc[0, "recommended_actions"]
    assert AFTER not in before.loc[0, "top_reasons"]
    for answer in (delivered, today):
        assert AFTER in answer.loc[0, "top_reasons"]
        assert "prior authorization" not in answer.loc[0, "recommended_actions"]
    assert "prior authorization" not in before.loc[1, "top_reasons"]  # L1833 is on no list on that day
    assert before["denial_probability"].tolist() == pytest.approx(
        today["denial_probability"].tolist(), abs=1e-12
    )


def test_a_request_may_ask_for_the_rule_layer_only(app):
    """`explain: rules`: no learned reasons, but every line's certain findings and certain rules' fixes."""
    got = _answer(app, {"explain": "rules", "as_of": "2024-09-01"})
    assert "Required Prior Authorization List" in got.loc[0, "top_reasons"]
    assert BEFORE in got.loc[0, "recommended_actions"]


@pytest.mark.parametrize(
    "params, words",
    [({"as_of": "09/01/2024"}, "as_of '09/01/2024' is not a date"), ({"explain": "most"}, "explain 'most'")],
)
def test_a_bad_param_is_a_400_that_names_it(app, params, words):
    lines = _lines()
    payload = {"dataframe_split": {"columns": list(lines.columns), "data": lines.values.tolist()}}
    status, body = _post(app, {**payload, "params": params})
    assert status == 400 and words in body["message"], body


def test_a_model_logged_before_params_still_loads_and_scores(model_dir, tmp_path):
    """Its signature has no params: it scores as it always did (today's stage), MLflow ignores params
    sent to it, and the Spark engine is told not to rely on them (`loaded.accepts_params`)."""
    import shutil

    import yaml

    from denial_risk.registry import loaded, tracking

    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    meta = yaml.safe_load((old / "MLmodel").read_text())
    assert loaded.accepts_params(old)
    meta["signature"].pop("params")
    (old / "MLmodel").write_text(yaml.safe_dump(meta, sort_keys=False))
    assert not loaded.accepts_params(old)
    app = tracking.scoring_app(str(old))
    plain, sent = _answer(app), _answer(app, {"as_of": "2024-09-01"})
    assert AFTER in plain.loc[0, "top_reasons"] and AFTER in sent.loc[0, "top_reasons"]
    assert plain["denial_probability"].notna().all()
