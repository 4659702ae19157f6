"""Shared fixtures: simulated claims, one fitted model per session, a temporary MLflow store.

Fitting is the slow part of the suite, so the model is fitted once per test
session (per xdist worker) and shared; tests that change it fit their own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# ingest-x12 makes a per-installation patient salt in the config folder on first use: the tests'
# goes to a temporary one (inherited by the commands they run), never the user's own
_CONFIG_HOME = tempfile.mkdtemp(prefix="denial-risk-tests-config.")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME
atexit.register(shutil.rmtree, _CONFIG_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def simulated_claims():
    """~12k labelled lines over 24 months as the contract's raw table (strings as in a file)."""
    from denial_risk.synth.simulate import simulate_claims

    return simulate_claims(rows=12_000, seed=11)


@pytest.fixture(scope="session")
def claims_frame(simulated_claims, tmp_path_factory):
    """The simulated claims written to CSV and read back through the contract's reader."""
    from denial_risk.claims.table import load_claims

    path = tmp_path_factory.mktemp("claims") / "claims.csv"
    simulated_claims.to_csv(path, index=False)
    clean, rejects = load_claims(path)
    assert len(clean) + len(rejects) == len(simulated_claims)
    return clean


@pytest.fixture(scope="session")
def claims_csv(simulated_claims, tmp_path_factory):
    path = tmp_path_factory.mktemp("claims_csv") / "claims.csv"
    simulated_claims.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def fitted(claims_frame):
    """A TrainResult on the simulated claims (no MLflow)."""
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model

    return fit_model(claims_frame, TrainConfig())


@pytest.fixture(scope="session")
def denial_model(fitted):
    return fitted.model


@pytest.fixture(scope="session")
def register_champion(denial_model):
    """`register_champion(run_name) -> (version, alias)`: the session model logged and registered in
    the store the tracking URI names (a test's own temporary store)."""
    from denial_risk.registry import tracking
    from denial_risk.scoring.score import score_request

    def _register(run_name: str = "tests"):
        with tracking.run(run_name):
            return tracking.log_and_register(
                denial_model, score_request(denial_model, tracking.input_example())
            )

    return _register


@pytest.fixture(scope="session")
def champion_store(register_champion):
    """`with champion_store(folder, run_name) as uri`: a store of a module's own in `folder`, the
    session model registered as @champion in it; the working folder is `folder` meanwhile, so the
    store's artifacts land there and never in the checkout's own `mlruns/`."""

    @contextlib.contextmanager
    def _store(folder, run_name: str):
        import mlflow

        uri = f"sqlite:///{folder / 'mlflow.db'}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MLFLOW_TRACKING_URI", uri)
            mp.chdir(folder)
            mlflow.set_tracking_uri(uri)
            try:
                register_champion(run_name)
                yield "models:/denial-risk@champion"
            finally:
                mlflow.set_tracking_uri(None)

    return _store


@pytest.fixture()
def mlflow_store(tmp_path, monkeypatch):
    """A real, empty MLflow tracking store and registry (sqlite) in a temporary folder."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    import mlflow

    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture()
def run():
    """`run(argv, capsys) -> (exit code, stdout, stderr)`: the console command, in this process."""

    def _run(argv, capsys) -> tuple[int, str, str]:
        from denial_risk.cli import main

        code = 0
        try:
            main([str(a) for a in argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
        cap = capsys.readouterr()
        return code, cap.out, cap.err

    return _run


# --- the checkout's own MLflow store is never written by the tests ---------------------------------
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_STORE = ("mlflow.db", "mlruns", "models")


def _own_store_listing() -> set[str]:
    seen = set()
    for name in _OWN_STORE:
        path = os.path.join(_ROOT, name)
        if os.path.isfile(path):
            seen.add(name)
        for folder, _, files in os.walk(path):
            seen.update(os.path.relpath(os.path.join(folder, f), _ROOT) for f in files)
    return seen


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        session.config._own_store_before = _own_store_listing()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_own_store_before", None)
    if before is None:
        return
    added = sorted(_own_store_listing() - before)
    if added:
        session.config.get_terminal_writer().line(
            f"FAILED: the tests wrote {len(added)} file(s) into the checkout's own store, e.g. {added[0]}:"
            " every test must use a temporary store (the mlflow_store or champion_store fixtures)",
            red=True,
        )
        session.exitstatus = 1
