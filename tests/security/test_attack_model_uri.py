"""Issue 25 F1, F2, F3, F8, F9: model URIs and folders that once gave tracebacks, a server that
exited 0 on a model it could not load, and request bodies that passed the line limit or got a 500."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(denial_model, tmp_path_factory):
    """The session model registered in a store of this module's own, and exported: (folder, digest)."""
    from denial_risk.registry import tracking
    from denial_risk.scoring.score import score_request

    store = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
        mp.chdir(store)
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
        with tracking.run("test-security"):
            tracking.log_and_register(denial_model, score_request(denial_model, tracking.input_example()))
        folder, digest = tracking.export_model("models:/denial-risk@champion", str(store / "exported"))
        yield folder, digest
        mlflow.set_tracking_uri(None)


@pytest.fixture()
def backlog(simulated_claims, tmp_path):
    path = tmp_path / "backlog.csv"
    simulated_claims.iloc[:20].drop(columns=["denied", "denial_reason", "paid_amount"]).to_csv(
        path, index=False
    )
    return path


def _one_line(result, code=2, *words):
    got, _, err = result
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert got == code and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _score_argv(backlog, out, model, digest) -> list:
    return ["score", "--data", backlog, "--out", out, "--model", model, "--model-sha256", digest]


def test_f1_a_file_name_that_is_not_utf8_is_one_line(exported, backlog, tmp_path, capsys, run):
    folder, digest = exported
    victim = tmp_path / "victim"
    shutil.copytree(folder, victim)
    with open(os.fsencode(victim) + b"/code/evil\xff.py", "wb") as f:
        f.write(b"raise SystemExit('ran')\n")
    argv = _score_argv(backlog, tmp_path / "w.csv", victim, digest)
    _one_line(run(argv, capsys), 2, "--model", "not UTF-8")
    assert not (tmp_path / "w.csv").exists()


@pytest.mark.parametrize(
    "uri, words",
    [
        ("file:///no/such/model", "no such model folder"),
        ("s3://no-such-bucket/model", "--model s3://no-such-bucket/model"),
        ("http://127.0.0.1:9/model", "--model http://127.0.0.1:9/model"),
        ("gs://bucket/model", "--model gs://bucket/model"),
        ("nosuchscheme://x/y", "--model nosuchscheme://x/y"),
    ],
)
def test_f2_non_registry_uris_are_one_line(uri, words, backlog, tmp_path, capsys, run):
    argv = _score_argv(backlog, tmp_path / "w.csv", uri, "0" * 64)
    line = _one_line(run(argv, capsys), 2, words)
    assert "denial-risk-model." not in line  # the temporary folder is not the error
    assert not line.endswith((",", "(", " of", " the"))  # not cut mid-sentence


def test_f2_a_file_uri_to_a_real_folder_loads_it(exported, backlog, tmp_path, capsys, run):
    folder, digest = exported
    argv = ["score", "--data", backlog, "--out", tmp_path / "w.csv"]
    code, out, err = run([*argv, "--model", f"file://{folder}", "--model-sha256", digest], capsys)
    assert code == 0, err


def test_f3_serve_exits_2_when_its_model_cannot_load(exported, tmp_path, capsys, run):
    """The digest matches (the user vouched for it), but its skops type list is refused."""
    from denial_risk.registry import manifest

    folder, _ = exported
    victim = tmp_path / "victim"
    shutil.copytree(folder, victim)
    trusted = victim / "artifacts" / "bundle" / "trusted_types.json"
    trusted.write_text(json.dumps([*json.loads(trusted.read_text()), "os.system"]))
    digest = manifest.write_manifest(victim)
    argv = ["serve", "--port", "0", "--model", victim, "--model-sha256", digest, "--workers", "1"]
    from denial_risk.registry.serving import free_port

    argv[2] = str(free_port())
    _one_line(run(argv, capsys), 2, "--model", "cannot be loaded")
    assert not [
        p
        for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("denial-risk-model.*")
        if p.stat().st_uid == os.getuid() and str(victim) in str(p)
    ]


def _post(app, body: bytes, content_type: bytes = b"application/json") -> tuple[int, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/invocations",
        "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "raw_path": b"/invocations",
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.fixture(scope="module")
def app(exported, tmp_path_factory):
    """MLflow's scoring app for the verified model behind the limits, called in this process."""
    from denial_risk.registry import tracking
    from denial_risk.registry.serving import RequestLimits

    folder, digest = exported
    with tracking.verified_model(str(folder), digest) as local:
        yield RequestLimits(tracking.scoring_app(str(local)), max_bytes=16 * 2**20, max_lines=100)


def _columns(n: int) -> dict:
    return {"claim_id": [f"C{i}" for i in range(n)], "hcpcs_code": ["L1833"] * n}


@pytest.mark.parametrize(
    "body, content_type",
    [
        (json.dumps({"inputs": _columns(101)}).encode(), b"application/json"),
        (json.dumps({"instances": _columns(101)}).encode(), b"application/json"),
        (json.dumps({"instances": [{"claim_id": "C"}] * 101}).encode(), b"application/json"),
        (
            json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1]] * 101}}).encode(),
            b"application/json",
        ),
        (("claim_id,hcpcs_code\r" + "C1,L1833\r" * 101).encode(), b"text/csv"),
        (("claim_id,hcpcs_code\r\n" + "C1,L1833\r\n" * 101).encode(), b"text/csv; charset=utf-8"),
    ],
)
def test_f8_the_line_limit_counts_every_payload_form(app, body, content_type):
    status, answer = _post(app, body, content_type)
    assert status == 413 and "101 lines is over 100" in json.loads(answer)["message"], answer[:300]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"inputs": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"dataframe_records": ' + b'{"a":' * 3_000 + b"1" + b"}" * 3_000 + b"}",
        b'{"dataframe_split": {"columns": 5, "data": "x"}}',
        b'{"dataframe_split": {"columns": ["claim_id"], "data": [[{"x": [1, {"y": 2}]}]]}}',
        b'{"dataframe_records": [1, 2, 3]}',
        b'{"inputs": "text"}',
        b'{"instances": {"claim_id": 5}}',
        b"\xff\xfe\x00garbage",
        b"",
        b"null",
    ],
)
def test_f9_no_body_gets_a_500(app, body):
    status, answer = _post(app, body)
    assert 200 <= status < 500, (status, answer[:300])


def _wait_for(predicate, timeout: float = 120.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_f6_sigterm_while_the_model_loads_leaves_no_copy(exported, backlog, tmp_path):
    """The verified copy goes to TMPDIR; SIGTERM as soon as it appears removes it."""
    import signal
    import subprocess
    import sys

    folder, digest = exported
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    argv = [sys.executable, "-m", "denial_risk.cli", "score", "--data", str(backlog)]
    argv += ["--out", str(tmp_path / "w.csv"), "--model", str(folder), "--model-sha256", digest]
    proc = subprocess.Popen(argv, env={**os.environ, "TMPDIR": str(tmp)}, stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: any(tmp.glob("denial-risk-model.*")) or proc.poll() is not None)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr.read().decode()[-2000:]
    assert list(tmp.iterdir()) == []
    assert not (tmp_path / "w.csv").exists()
