"""`denial-risk serve`: MLflow's scoring server answers like `score_request`, refuses
malformed requests with a clear 4xx and oversized ones with 413, and the test that starts
it stops it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


def _lines(rows: int, seed: int) -> pd.DataFrame:
    from denial_risk.registry.tracking import input_example
    from denial_risk.synth.simulate import simulate_claims

    raw = simulate_claims(rows=rows, seed=seed)
    raw = raw[[c for c in input_example().columns if c in raw.columns] + ["units"]].astype(str)
    raw = raw.loc[:, ~raw.columns.duplicated()].reset_index(drop=True)
    raw.loc[3, "billed_amount"] = "-5"  # cannot be scored: comes back with its reason
    raw.loc[4, "service_date"] = "not a date"
    return raw


@pytest.mark.slow
def test_service_answers_like_score_request_and_stops(mlflow_store, tmp_path):
    from denial_risk.jobs.train import train_and_register
    from denial_risk.registry import tracking
    from denial_risk.registry.serving import ScoringServer, invoke, post, request_body
    from denial_risk.scoring.score import score_request
    from denial_risk.synth.simulate import simulate_claims

    train = tmp_path / "train.csv"
    simulate_claims(rows=6_000, seed=3).to_csv(train, index=False)
    train_and_register(str(train))
    uri = "models:/denial-risk@champion"
    lines = _lines(100, seed=9)
    expected = score_request(tracking.load_model(uri), lines)

    server = ScoringServer(uri, workers=2, max_lines=150, max_bytes=200_000, log_path=tmp_path / "server.log")
    assert server.host == "127.0.0.1"
    with server:
        got = invoke(server.url, lines)
        got_records = invoke(server.url, lines, orient="records")

        # over the limits: 413 before the model sees it, the server keeps answering
        status, body = post(server.url + "/invocations", request_body(_lines(200, seed=4)))
        assert status == 413 and "150 lines" in json.loads(body)["message"]
        status, body = post(server.url + "/invocations", b'{"dataframe_split": ' + b" " * 250_000 + b"}")
        assert status == 413 and "200000 bytes" in json.loads(body)["message"]
        assert len(invoke(server.url, lines.head(3))) == 3

        # malformed requests: 4xx with a body that says what is wrong, never a 500
        status, body = post(server.url + "/invocations", b"this is not json")
        assert 400 <= status < 500 and "valid JSON" in json.loads(body)["message"]
        status, body = post(server.url + "/invocations", json.dumps({"rows": []}).encode())
        assert 400 <= status < 500 and "dataframe_split" in json.loads(body)["message"]
        no_claim_id = lines.drop(columns=["claim_id"]).head(2)
        status, body = post(
            server.url + "/invocations",
            json.dumps(
                {
                    "dataframe_split": {
                        "columns": list(no_claim_id.columns),
                        "data": no_claim_id.values.tolist(),
                    }
                }
            ).encode(),
        )
        assert 400 <= status < 500 and "claim_id" in json.loads(body)["message"]
        echoed = {v for v in no_claim_id["diagnosis_codes"] if v in body.decode()}
        assert not echoed, echoed  # MLflow quotes the table; the answer quotes no input value
    assert server.proc.poll() is not None  # stopped by this test
    with pytest.raises(OSError):
        import urllib.request

        urllib.request.urlopen(server.url + "/ping", timeout=2)

    assert len(got) == len(lines)
    pd.testing.assert_frame_equal(got, got_records)
    ok = expected["reject_reason"].isna().to_numpy()
    assert ok.sum() == len(lines) - 2
    np.testing.assert_allclose(
        got.loc[ok, "denial_probability"].astype(float),
        expected.loc[ok, "denial_probability"].astype(float),
        rtol=0,
        atol=1e-9,
    )
    np.testing.assert_array_equal(
        got.loc[ok, "risk_rank"].astype(int), expected.loc[ok, "risk_rank"].astype(int)
    )
    for col in ("risk_tier", "top_reasons", "recommended_actions", "likely_denial_codes"):
        assert got.loc[ok, col].tolist() == expected.loc[ok, col].tolist(), col
    assert got.loc[~ok, "reject_reason"].tolist() == expected.loc[~ok, "reject_reason"].tolist()
    assert got.loc[~ok, "denial_probability"].isna().all()
    _served_claims_equal_the_claim_worklist(got, lines, tracking.load_model(uri), tmp_path)


def _served_claims_equal_the_claim_worklist(got: pd.DataFrame, lines: pd.DataFrame, model, tmp_path) -> None:
    """Each served line's `claim_denial_probability` is its claim's in the claim worklist `score` writes
    for the same lines (the rejected lines count in neither)."""
    from denial_risk.contract import schema
    from denial_risk.scoring.worklist import score_file

    path = tmp_path / "request.csv"
    lines.to_csv(path, index=False)
    score_file(path, tmp_path / "w.csv", model, progress=False)
    claims = pd.read_csv(schema.claims_path_for(str(tmp_path / "w.csv")), dtype={"claim_id": str})
    batch = claims.set_index("claim_id")["claim_denial_probability"]
    ok = got["reject_reason"].isna().to_numpy()
    assert lines.loc[ok, "claim_id"].astype(str).duplicated().any()  # multi-line claims were served
    np.testing.assert_allclose(
        got.loc[ok, "claim_denial_probability"].astype(float),
        batch.loc[lines.loc[ok, "claim_id"].astype(str)].to_numpy(),
        rtol=1e-9,
        atol=1e-12,
    )


def test_free_port_is_free():
    import socket

    from denial_risk.registry.serving import free_port

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_serve_refuses_a_missing_model_folder(tmp_path):
    from denial_risk.errors import UserError
    from denial_risk.registry.serving import ScoringServer

    with pytest.raises(UserError, match="no such model folder"):
        ScoringServer(str(tmp_path / "nope")).start()


def test_request_body_round_trips_missing_values():
    from denial_risk.registry.serving import request_body

    frame = pd.DataFrame({"a": ["1", None], "b": [np.nan, 2.5]})
    split = json.loads(request_body(frame))["dataframe_split"]
    assert split == {"columns": ["a", "b"], "data": [["1", None], [None, 2.5]]}
    records = json.loads(request_body(frame, orient="records"))["dataframe_records"]
    assert records == [{"a": "1", "b": None}, {"a": None, "b": 2.5}]


class _App:
    """An inner ASGI app that records the body it was given."""

    def __init__(self):
        self.bodies = []

    async def __call__(self, scope, receive, send):
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _call(
    app, body: bytes, *, chunks: int = 1, length: bool = True, content_type: bytes = b"application/json"
):
    import asyncio

    pieces = [body[len(body) * i // chunks : len(body) * (i + 1) // chunks] for i in range(chunks)]
    headers = [(b"content-type", content_type)] + (
        [(b"content-length", str(len(body)).encode())] if length else []
    )
    scope = {"type": "http", "path": "/invocations", "method": "POST", "headers": headers}
    sent = []
    queue = [
        {"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)
    ]

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


def test_request_limits_answer_413_and_pass_the_rest_whole():
    from denial_risk.registry.serving import RequestLimits, request_body

    inner = _App()
    app = RequestLimits(inner, max_bytes=5_000, max_lines=20)
    frame = pd.DataFrame({"claim_id": [f"C{i}" for i in range(30)], "hcpcs_code": ["L1833"] * 30})
    ok = request_body(frame.head(20))
    assert _call(app, ok, chunks=3) == (200, b"ok") and inner.bodies[-1] == ok  # the body, reassembled
    status, body = _call(app, request_body(frame.head(21)))
    assert status == 413 and "21 lines is over 20" in json.loads(body)["message"]
    status, body = _call(app, request_body(frame.head(21), orient="records"))
    assert status == 413
    csv = ("claim_id,hcpcs_code\n" + "".join(f"C{i},L1833\n" for i in range(21))).encode()
    assert _call(app, csv, content_type=b"text/csv")[0] == 413
    big = b'{"dataframe_split": {"columns": [], "data": []}, "pad": "' + b"x" * 6_000 + b'"}'
    assert _call(app, big)[0] == 413  # declared length
    assert _call(app, big, chunks=4, length=False)[0] == 413  # streamed, no length: counted as it comes
    assert len(inner.bodies) == 1  # nothing over a limit reached the app
    assert _call(app, b"not json at all, but small")[0] == 200  # not a table: MLflow answers it


def test_count_lines():
    from denial_risk.registry.serving import count_lines

    assert (
        count_lines(b'{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}', "application/json") == 2
    )
    assert count_lines(b'{"dataframe_records": [{"a": 1}]}', "application/json") == 1
    assert count_lines(b'{"instances": [1, 2, 3]}', "application/json") == 3
    assert count_lines(b"a,b\n1,2\n3,4\n", "text/csv") == 2
    assert count_lines(b"{broken", "application/json") is None


class _FailingApp:
    """MLflow's scoring app failing a request as it does: the table in the message, a stack trace."""

    def __init__(self, message: str):
        self.message = message

    async def __call__(self, scope, receive, send):
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        table = json.loads(body)["dataframe_split"]
        answer = json.dumps(
            {
                "error_code": "BAD_REQUEST",
                "message": self.message.format(data=pd.DataFrame(table["data"], columns=table["columns"])),
                "stack_trace": f"Traceback ...\n  data = {table['data']}",
            }
        ).encode()
        await send({"type": "http.response.start", "status": 400, "headers": [(b"content-length", b"1")]})
        await send({"type": "http.response.body", "body": answer[:10], "more_body": True})
        await send({"type": "http.response.body", "body": answer[10:]})


@pytest.mark.parametrize(
    "mlflow_message",
    [
        "Failed to predict data '{data}'. \nError: Model is missing inputs ['claim_id'].",
        "Invalid input for patient {data}: Model is missing inputs ['claim_id'].",
        "Failed to parse input. Model is missing inputs ['claim_id']. Input: {data}",
    ],
)
def test_error_answers_echo_no_input_value(mlflow_message):
    from denial_risk.registry.serving import RequestLimits, request_body
    from denial_risk.registry.serving_errors import QuietErrors

    lines = pd.DataFrame(
        {"patient_id": ["M00012345", "M00067890"], "hcpcs_code": ["L1833", "E0260"], "units": ["1", "2"]}
    )
    app = RequestLimits(QuietErrors(_FailingApp(mlflow_message)), max_bytes=50_000, max_lines=100)
    status, body = _call(app, request_body(lines))
    answer = json.loads(body)
    assert status == 400 and set(answer) == {"error_code", "message"}  # no stack trace
    assert answer["error_code"] == "BAD_REQUEST" and "missing inputs ['claim_id']" in answer["message"]
    for value in ("M00012345", "M00067890", "L1833", "E0260"):
        assert value not in body.decode(), answer


def test_successful_answers_pass_untouched():
    from denial_risk.registry.serving_errors import QuietErrors

    assert _call(QuietErrors(_App()), b'{"dataframe_split": {"columns": ["a"], "data": [["M1234"]]}}') == (
        200,
        b"ok",
    )
