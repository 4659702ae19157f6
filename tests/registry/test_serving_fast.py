"""The server's lean path (registry/serving_fast.py): requests that arrive together are scored in
one call, each answered as `score_request` answers it alone; every other request reaches MLflow's app."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pandas as pd
import pytest

FLOATS = ("denial_probability", "expected_loss", "claim_denial_probability")


def _lines(rows: int, seed: int) -> pd.DataFrame:
    from denial_risk.registry.tracking import input_example
    from denial_risk.synth.simulate import simulate_claims

    raw = simulate_claims(rows=rows, seed=seed)
    raw = raw[[c for c in input_example().columns if c in raw.columns]].astype(str)
    raw = raw.loc[:, ~raw.columns.duplicated()].reset_index(drop=True)
    raw.loc[2, "billed_amount"] = "-5"  # rejected, with its reason
    return raw


class _Mlflow:
    """Stands for MLflow's app: records what reaches it."""

    def __init__(self):
        self.bodies = []

    async def __call__(self, scope, receive, send):
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"mlflow"})


async def _post(app, body: bytes, content_type: bytes = b"application/json") -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "path": "/invocations",
        "method": "POST",
        "headers": [(b"content-type", content_type)],
    }
    queue = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _app(model):
    from denial_risk.contract.schema import REQUIRED
    from denial_risk.registry.serving import RequestLimits
    from denial_risk.registry.serving_fast import FastInvocations
    from denial_risk.scoring.score import score_table

    mlflow = _Mlflow()
    fast = FastInvocations(mlflow, lambda table, sizes: score_table(model, table, sizes), REQUIRED)
    return RequestLimits(fast, max_bytes=10**7, max_lines=1_000), fast, mlflow


def _assert_same(got: list[dict], expected: pd.DataFrame) -> None:
    assert len(got) == len(expected)
    frame = pd.DataFrame(got, columns=list(expected.columns))
    for col in expected.columns:
        want = expected[col].tolist()
        if col in FLOATS:
            ok = [w is not None for w in want]
            assert [g is None for g in frame[col]] == [not o for o in ok], col
            np.testing.assert_allclose(
                frame.loc[ok, col].astype(float),
                np.asarray(want, dtype=object)[ok].astype(float),
                rtol=0,
                atol=1e-12,
            )
        else:
            assert frame[col].tolist() == want, col


def test_lean_path_answers_each_request_as_score_request_alone(denial_model):
    from denial_risk.registry.serving import request_body
    from denial_risk.scoring.score import score_request

    lines = _lines(40, seed=9)
    requests = [lines.iloc[i : i + 1] for i in range(10)] + [lines.iloc[10:25], lines.iloc[25:40]]
    bodies = [request_body(r, orient="split" if i % 2 else "records") for i, r in enumerate(requests)]
    columns = {c: lines.iloc[10:25][c].tolist() for c in lines.columns}
    bodies[-2] = json.dumps({"inputs": columns}).encode()  # the column-oriented form
    numbers = json.loads(request_body(lines.iloc[[5]]))
    at = numbers["dataframe_split"]["columns"].index("billed_amount")
    numbers["dataframe_split"]["data"][0][at] = float(lines.loc[5, "billed_amount"])  # a JSON number
    bodies.append(json.dumps(numbers).encode())
    app, fast, mlflow = _app(denial_model)

    async def burst():
        return await asyncio.gather(*(_post(app, b) for b in bodies))

    answers = asyncio.run(burst())
    assert not mlflow.bodies  # all scored on the lean path
    assert fast.batches < len(bodies)  # requests that arrived together shared a call
    raws = [r.reset_index(drop=True) for r in requests]
    raws.append(
        lines.iloc[[5]].reset_index(drop=True).assign(billed_amount=float(lines.loc[5, "billed_amount"]))
    )
    for raw, (status, body) in zip(raws, answers, strict=True):
        assert status == 200
        _assert_same(json.loads(body)["predictions"], score_request(denial_model, raw))


@pytest.mark.parametrize(
    "body",
    [
        b"claim_id,line_number\nC1,1\n",  # CSV
        b'{"dataframe_split": {"columns": ["claim_id"], "data": [["C1"]]}}',  # required columns missing
        b'{"dataframe_records": [{"claim_id": "C1"}], "params": {"as_of": "2026-01-01"}}',  # params
        b'{"instances": [{"claim_id": "C1"}]}',
        b"not json",
    ],
)
def test_everything_else_reaches_mlflows_app(denial_model, body):
    app, fast, mlflow = _app(denial_model)
    content_type = b"text/csv" if body.startswith(b"claim_id,") else b"application/json"
    assert asyncio.run(_post(app, body, content_type)) == (200, b"mlflow")
    assert mlflow.bodies == [body] and fast.batches == 0


def test_table_of_reads_only_what_pandas_would_type_the_same():
    from denial_risk.registry.serving_fast import table_of

    split = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [["x", 1, 2.5], [None, 2, 3]]}}
    assert table_of(split, ("a",)).kinds == ("text", "int", "float")
    assert table_of({"dataframe_split": {"columns": ["a"], "data": [[1], [None]]}}, ()) is None  # NaN float
    assert table_of({"dataframe_split": {"columns": ["a"], "data": [[True]]}}, ()) is None
    assert table_of({"dataframe_records": [{"a": "x"}, {"b": "y"}]}, ()) is None  # ragged records
    assert table_of({"inputs": {"a": ["x", "y"], "b": ["z"]}}, ()) is None  # ragged columns
    assert table_of({"inputs": {"a": ["x", "y"]}}, ("a",)).lines == 2
