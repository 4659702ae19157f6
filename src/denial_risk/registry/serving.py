"""Real-time scoring: MLflow's scoring server for the model, and a small client.

`denial-risk serve` checks the model's files (registry/manifest.py), then runs
MLflow's scoring app (`/ping`, `/version`, `/invocations`, the app `mlflow
models serve` runs) under uvicorn with `--workers N` processes (default: the
core count), in this venv, bound to 127.0.0.1 unless told otherwise. In front
of the app, `RequestLimits` answers 413 to a body over `--max-request-bytes`
or a table over `--max-request-lines`, before the model sees it, and gives each
worker enough request threads for the model to score concurrent requests
together. The model's `predict` is `scoring.score_request` (batched), so a
POSTed batch of claim lines (the contract's columns, any accepted form) gets
back, per line and in order, the contract's added columns and
`likely_denial_codes` (top-3 CARCs) — or, for a line that cannot be scored, its
`reject_reason` with HTTP 200: one bad line never fails the batch. A request
that is not a claim table at all (not JSON, no `dataframe_split` /
`dataframe_records`, a required column missing) gets a 4xx with MLflow's
`{"error_code": ..., "message": ...}` body, quoting none of the request's values
(`registry/serving_errors.py`).

`ScoringServer` starts the server on a free loopback port, waits for `/ping`
and stops the whole process group it started (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.registry.serving_fast import PARSED_KEY

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
JSON = "application/json"
DEFAULT_MAX_LINES = 10_000
DEFAULT_MAX_BYTES = 16 * 2**20
REQUEST_THREADS = 256  # per worker: concurrent requests wait in predict's batcher, not for a thread
MODEL_ENV, MAX_LINES_ENV, MAX_BYTES_ENV = (
    "DENIAL_RISK_SERVE_MODEL",
    "DENIAL_RISK_SERVE_MAX_LINES",
    "DENIAL_RISK_SERVE_MAX_BYTES",
)


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# --- request / response bodies ----------------------------------------------------------------


def _jsonable(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (pd.Timestamp,)):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def request_body(lines: pd.DataFrame, orient: str = "split") -> bytes:
    """Claim lines as an /invocations body (`dataframe_split` or `dataframe_records`)."""
    frame = pd.DataFrame(lines)
    rows = [[_jsonable(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    if orient == "split":
        payload = {"dataframe_split": {"columns": [str(c) for c in frame.columns], "data": rows}}
    elif orient == "records":
        payload = {"dataframe_records": [dict(zip(map(str, frame.columns), r)) for r in rows]}
    else:
        raise ValueError(f"orient must be 'split' or 'records', not {orient!r}")
    return json.dumps(payload).encode("utf-8")


def predictions_frame(body: bytes | str) -> pd.DataFrame:
    """The server's `{"predictions": [...]}` answer as a frame, one row per posted line."""
    data = json.loads(body)
    return pd.DataFrame(data["predictions"])


def post(url: str, body: bytes, *, content_type: str = JSON, timeout: float = 60.0) -> tuple[int, bytes]:
    """POST and return (status, body) — 4xx/5xx included, never raised."""
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def invoke(
    base_url: str, lines: pd.DataFrame, *, orient: str = "split", timeout: float = 60.0
) -> pd.DataFrame:
    """Score claim lines on a running server; raises RuntimeError with the server's message on 4xx/5xx."""
    status, body = post(base_url.rstrip("/") + "/invocations", request_body(lines, orient), timeout=timeout)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:500].decode('utf-8', 'replace')}")
    return predictions_frame(body)


# --- the request limits and the app uvicorn runs ----------------------------------------------


class NotATable(ValueError):
    """A body the limits refuse to pass on: it would crash MLflow's parser (a 500), not just fail."""


def _csv_lines(body: bytes) -> int:
    """Data lines of a CSV body, whatever its line ends (`\n`, `\r\n` or a lone `\r`)."""
    body = body.rstrip(b"\r\n")
    breaks = body.count(b"\n") + body.count(b"\r") - body.count(b"\r\n")
    return max(0, breaks)  # the header line is not a claim line


def _rows(value) -> int | None:
    """Lines in one payload form: a list of rows, or a dict of columns (its longest column)."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        lengths = [len(v) for v in value.values() if isinstance(v, list)]
        return max(lengths, default=1 if value else 0)
    return None


def count_lines(body: bytes, content_type: str) -> int | None:
    """Claim lines in an /invocations body, in any form MLflow accepts (`dataframe_split`,
    `dataframe_records`, `instances` or `inputs` as rows or as columns, CSV with any line
    end); None when it is not a table MLflow would read. A JSON body nested too deeply for
    Python's parser raises NotATable (MLflow's own parse would fail with a 500)."""
    return _count(body, content_type)[0]


def _count(body: bytes, content_type: str) -> tuple[int | None, object]:
    """(`count_lines`, the parsed JSON body or None): the body is parsed once, here."""
    if content_type.startswith("text/csv"):
        return _csv_lines(body), None
    try:
        data = json.loads(body)
    except RecursionError:
        raise NotATable("the JSON body is nested too deeply to be a claim table") from None
    except ValueError:
        return None, None
    return _table_lines(data), data


def _table_lines(data) -> int | None:
    if not isinstance(data, dict):
        return None
    split = data.get("dataframe_split")
    if isinstance(split, dict):
        return _rows(split.get("data"))
    for key in ("dataframe_records", "instances", "inputs"):
        if key in data:
            return _rows(data[key])
    return None


class RequestLimits:
    """ASGI middleware before MLflow's app: 413 for a POST /invocations over the limits.

    The body is refused as soon as its declared or received size passes `max_bytes`
    (it is never held whole); the lines of every body are counted (`count_lines`, in every
    form MLflow accepts) before MLflow builds a table of it, and a JSON body too deeply
    nested for Python's parser is a 400 here rather than a 500 there. It also gives the
    worker's event loop `threads` request threads (MLflow runs each `predict` in one).
    """

    def __init__(self, app, *, max_bytes: int, max_lines: int, threads: int = REQUEST_THREADS):
        self.app, self.max_bytes, self.max_lines, self.threads = app, max_bytes, max_lines, threads
        self._loops: set[int] = set()

    def _threads(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        loop = asyncio.get_running_loop()
        if id(loop) not in self._loops:
            self._loops.add(id(loop))
            loop.set_default_executor(ThreadPoolExecutor(self.threads, thread_name_prefix="predict"))

    async def __call__(self, scope, receive, send):
        self._threads()
        if scope["type"] != "http" or scope["path"] != "/invocations" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(
                send, f"the body ({int(declared)} bytes) is over {self.max_bytes} bytes"
            )
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self._refuse(send, f"the body is over {self.max_bytes} bytes")
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        try:  # every body: a small one parses in microseconds, and a deep one must not reach MLflow
            lines, parsed = _count(bytes(body), content_type)
        except NotATable as exc:
            return await self._refuse(send, str(exc), status=400, code="BAD_REQUEST")
        if lines is not None and lines > self.max_lines:
            return await self._refuse(send, f"{lines} lines is over {self.max_lines} lines a request")
        if parsed is not None:  # parsed once: the lean path (registry/serving_fast.py) reads it here
            scope = {**scope, PARSED_KEY: parsed}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, why: str, status: int = 413, code: str = "REQUEST_LIMIT_EXCEEDED") -> None:
        hint = "; split the lines over several requests" if status == 413 else ""
        body = json.dumps({"error_code": code, "message": f"{why}{hint}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app():
    """What each uvicorn worker runs (`--factory`): MLflow's scoring app for the verified copy
    named in the environment, behind `RequestLimits`."""
    from denial_risk.contract.schema import REQUIRED
    from denial_risk.registry import tracking
    from denial_risk.registry.serving_errors import QuietErrors
    from denial_risk.registry.serving_fast import FastInvocations

    app, python_model = tracking.scoring_app(os.environ[MODEL_ENV], with_python_model=True)
    if callable(getattr(python_model, "score_table", None)):  # a model logged before it: MLflow's path
        app = FastInvocations(app, python_model.score_table, REQUIRED)
    return RequestLimits(
        QuietErrors(app),  # error bodies echo no input value
        max_bytes=int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)),
        max_lines=int(os.environ.get(MAX_LINES_ENV, DEFAULT_MAX_LINES)),
    )


def serve_command(
    model_dir: str | os.PathLike,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    max_lines: int = DEFAULT_MAX_LINES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: int | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the server for a verified local model folder.

    The workers import this same `denial_risk` (its folder goes first on PYTHONPATH) and
    load the folder with pickle deserialisation off.
    """
    import denial_risk

    env = dict(os.environ)
    package_root = str(Path(denial_risk.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            MODEL_ENV: str(model_dir),
            MAX_LINES_ENV: str(int(max_lines)),
            MAX_BYTES_ENV: str(int(max_bytes)),
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        }
    )
    if timeout is not None:
        env["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = str(int(timeout))
    argv = [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:create_app"]
    argv += ["--host", host, "--port", str(int(port)), "--workers", str(int(workers))]
    return argv, env


# --- the server process -----------------------------------------------------------------------


class ScoringServer:
    """`denial-risk serve` for a model, as a managed child process group.

        with ScoringServer("models:/denial-risk@champion") as server:
            invoke(server.url, lines)

    The port defaults to a free one; `stop()` (also on leaving the `with`)
    terminates the process group it started (uvicorn and its workers) and removes
    the verified copy of the model.
    """

    def __init__(
        self,
        model_uri: str,
        *,
        sha256: str | None = None,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        workers: int = 1,
        max_lines: int = DEFAULT_MAX_LINES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        log_path: str | os.PathLike | None = None,
        startup_timeout: float = 180.0,
    ):
        self.model_uri = model_uri
        self.sha256 = sha256
        self.host = host
        self.port = int(port) if port else free_port(host)
        self.workers = workers
        self.limits = {"max_lines": max_lines, "max_bytes": max_bytes}
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._model = contextlib.ExitStack()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ScoringServer:
        from denial_risk.registry import loaded, tracking

        local = self._model.enter_context(tracking.verified_model(self.model_uri, self.sha256))
        loaded.skip_input_check(local)
        argv, env = serve_command(local, host=self.host, port=self.port, workers=self.workers, **self.limits)
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        out = self._log or subprocess.DEVNULL
        # own process group: stop() ends the launcher *and* the uvicorn it spawns, nothing else
        self.proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-1500:] if self.log_path else ""
                self.stop()
                raise RuntimeError(
                    f"scoring server exited with code {self.proc.returncode} before it was ready\n{tail}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url + "/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"scoring server not ready on {self.url} after {self.startup_timeout:.0f}s")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self.proc is not None:
            # uvicorn workers may outlive the launcher for a moment: end the rest of our group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None
        self._model.close()

    def __enter__(self) -> ScoringServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    model_uri: str,
    *,
    sha256: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    max_lines: int = DEFAULT_MAX_LINES,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """`denial-risk serve`: run the scoring server in the foreground until Ctrl-C; returns its exit code."""
    from denial_risk.registry import loaded, tracking

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(f"binding to {host}: the service has no authentication; expose it only behind one")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UserError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    with tracking.verified_model(model_uri, sha256) as local:
        # loaded once here: a model that cannot load is one line and exit 2, as for `score`, not a
        # worker's traceback and a server that exits 0
        loaded.skip_input_check(local)
        tracking.load_local(local, model_uri)
        argv, env = serve_command(
            local, host=host, port=port, workers=workers, max_lines=max_lines, max_bytes=max_bytes
        )
        log.info(
            f"serving {model_uri} on http://{host}:{port} with {workers} worker(s) "
            "(POST /invocations, GET /ping); Ctrl-C stops"
        )
        return _run_foreground(argv, env)


def _run_foreground(argv: list[str], env: dict[str, str]) -> int:
    # same process group as this command: Ctrl-C in a terminal reaches the server and its workers
    # too; SIGTERM to this command is passed on
    proc = subprocess.Popen(argv, env=env)

    def _forward(signum, frame):
        proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, _forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
                try:
                    return proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
