"""Real-time scoring: MLflow's scoring server for the registered model, and a small client.

`denial-risk serve` runs `mlflow models serve` (`/ping`, `/version`,
`/invocations`) for the model, in this venv (`--env-manager local`), bound to
127.0.0.1 unless told otherwise. The model's `predict` is
`scoring.score_request`, so a POSTed batch of claim lines (the contract's
columns, any accepted form) gets back, per line and in order, the contract's
added columns and `likely_denial_codes` (top-3 CARCs) — or, for a line that cannot
be scored, its `reject_reason` with HTTP 200: one bad line never fails the
batch. A request that is not a claim table at all (not JSON, no
`dataframe_split` / `dataframe_records`, a required column missing) gets a 4xx
with MLflow's `{"error_code": ..., "message": ...}` body.

`ScoringServer` starts the server on a free loopback port, waits for `/ping`
and stops the whole process group it started (tests, benchmarks).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
JSON = "application/json"


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


# --- the server process -----------------------------------------------------------------------


class ScoringServer:
    """`mlflow models serve` for a model, as a managed child process group.

        with ScoringServer("models:/denial-risk@champion") as server:
            invoke(server.url, lines)

    The port defaults to a free one; `stop()` (also on leaving the `with`)
    terminates the process group it started — the MLflow launcher and its uvicorn.
    """

    def __init__(
        self,
        model_uri: str,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        workers: int = 1,
        log_path: str | os.PathLike | None = None,
        startup_timeout: float = 180.0,
    ):
        self.model_uri = model_uri
        self.host = host
        self.port = int(port) if port else free_port(host)
        self.workers = workers
        self.log_path = Path(log_path) if log_path else None
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ScoringServer:
        from denial_risk.registry import tracking

        argv, env = tracking.serve_command(
            self.model_uri, host=self.host, port=self.port, workers=self.workers
        )
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

    def __enter__(self) -> ScoringServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(model_uri: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, workers: int = 1) -> int:
    """`denial-risk serve`: run the scoring server in the foreground until Ctrl-C; returns its exit code."""
    from denial_risk.registry import tracking

    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(f"binding to {host}: the service has no authentication; expose it only behind one")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UserError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    argv, env = tracking.serve_command(model_uri, host=host, port=port, workers=workers)
    log.info(f"serving {model_uri} on http://{host}:{port} (POST /invocations, GET /ping); Ctrl-C stops")
    # same process group as this command: Ctrl-C in a terminal reaches the server and its uvicorn too;
    # SIGTERM to this command is passed on
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
