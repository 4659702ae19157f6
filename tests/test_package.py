"""A package that runs anywhere (issue 12.5): the built wheel, installed in a fresh venv outside
the repo, scores the sample backlog like the repo does, and its exported model serves with
`mlflow models serve` from that venv; every package the code imports is declared.

How the fresh venv gets its dependencies, without downloading anything: `python -m venv
--without-pip` makes an empty venv; pip (from this venv, `pip --python`) installs the wheel
into it with `--no-deps --no-index`, so the package, its package data (reference tables,
report template) and its `denial-risk` script come from the wheel alone; then one `.pth`
file appends this venv's site-packages to its path for the third-party packages. A `.pth`
line adds a directory but runs none of the `.pth` files in it, so the repo's editable
install (a `.pth` naming `src/`) does not come along: the test checks `denial_risk` is
imported from the fresh venv and that no path of the repo is on `sys.path`. The one
console script a dependency would have installed and MLflow calls by name, `uvicorn`, is
written into the venv's `bin` as pip would write it. The wheel is built offline with this
venv's setuptools (`pip wheel --no-build-isolation`, the dev extra pins it), from a copy of
the sources, so the build leaves nothing in the repo.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "denial_risk"
SAMPLE_BACKLOG = ROOT / "data" / "sample" / "backlog.csv"


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["spark"]
    return {_canon(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs}


def _imported_top_level() -> set[str]:
    return _imports_of(PACKAGE.rglob("*.py"))


def _imports_of(paths) -> set[str]:
    """Third-party top-level modules the files import (lazy imports inside functions too)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"denial_risk", "__future__"}


def test_every_imported_package_is_declared():
    """A package the code imports but pyproject.toml does not name arrives only by luck (through
    another package's dependencies): a plain `pip install` may not bring it."""
    dists = metadata.packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level()):
        names = {_canon(d) for d in dists.get(module, [])}
        assert names, f"'{module}' is imported but not installed"
        if not names & _declared():
            missing[module] = sorted(names)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


# --- the wheel, outside the repo ------------------------------------------------------------


def _run(argv, **kw) -> subprocess.CompletedProcess:
    run = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300, **kw)
    assert run.returncode == 0, (
        f"{argv[:4]} exited {run.returncode}\n{run.stdout[-1500:]}\n{run.stderr[-3000:]}"
    )
    return run


def _build_wheel(tmp: Path) -> Path:
    version = metadata.version("setuptools")
    assert int(version.split(".")[0]) >= 77, (
        f"setuptools {version}: the wheel is built offline with setuptools>=77 from the dev extra "
        "(run `make install`)"
    )
    copy = tmp / "source"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(
        PACKAGE, copy / "src" / "denial_risk", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    dist = tmp / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation"]
        + ["--check-build-dependencies", "--quiet", "-w", dist, copy]
    )
    (wheel,) = dist.glob("denial_risk-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            wheel,
        ]
    )
    purelib = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    (purelib / "_dependencies_from_the_project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    uvicorn = venv / "bin" / "uvicorn"
    uvicorn.write_text(f"#!{python}\nimport sys\nfrom uvicorn.main import main\nsys.exit(main())\n")
    uvicorn.chmod(0o755)
    return venv


def _outside_env(venv: Path, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DENIAL_RISK_", "MLFLOW_"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'unused.db'}"  # a folder model needs no store
    env["OMP_NUM_THREADS"] = "1"
    return env


def _serve(venv: Path, folder: Path, env: dict, cwd: Path, log: Path):
    from denial_risk.registry.serving import free_port

    port = free_port()
    argv = [
        venv / "bin" / "python",
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        folder,
        "--env-manager",
        "local",
    ]
    argv += ["--host", "127.0.0.1", "--port", port, "--workers", "1"]
    out = open(log, "wb")  # noqa: SIM115 - closed by the caller's stop
    env = {**env, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    proc = subprocess.Popen(
        [str(a) for a in argv], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/ping", timeout=2) as resp:
            if resp.status == 200:
                return proc, out, url
        time.sleep(0.5)
    raise AssertionError(
        "mlflow models serve did not answer /ping\n" + log.read_text(errors="replace")[-3000:]
    )


def _stop(proc, out) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    out.close()


def _requirements_closure(requirements: list[str]) -> set[str]:
    """The distributions a `pip install -r requirements.txt` would bring (installed metadata)."""
    todo, seen = (
        [_canon(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in requirements if r.strip()],
        set(),
    )
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        with contextlib.suppress(metadata.PackageNotFoundError):
            for req in metadata.requires(name) or []:
                if "extra ==" not in req:
                    todo.append(_canon(re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]))
    return seen


@pytest.mark.slow
def test_the_wheel_scores_and_serves_outside_the_repo(register_champion, mlflow_store, tmp_path, capsys):
    from denial_risk.cli import main
    from denial_risk.registry import tracking
    from denial_risk.registry.serving import invoke
    from denial_risk.scoring.score import score_request

    register_champion("test-package")
    folder, digest = tracking.export_model("models:/denial-risk@champion", str(tmp_path / "model"))

    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path))
    outside = tmp_path / "outside"
    outside.mkdir()
    backlog = shutil.copy(SAMPLE_BACKLOG, outside / "backlog.csv")
    env = _outside_env(venv, tmp_path)

    where = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import denial_risk, sys, json; print(json.dumps([denial_risk.__file__, sys.path]))",
        ],
        cwd=outside,
        env=env,
    )
    module_file, path = json.loads(where.stdout)
    assert Path(module_file).is_relative_to(venv), module_file
    # the project venv lends the dependencies (one .pth line) and may live in the repo (.venv); nothing
    # else of the repo may be importable: not src/, not the checkout itself
    deps = Path(sys.prefix).resolve()
    repo = [
        p
        for p in path
        if p and Path(p).resolve().is_relative_to(ROOT) and not Path(p).resolve().is_relative_to(deps)
    ]
    assert not repo, path

    # 1. score the sample backlog from the fresh venv, and in the repo: the same worklist
    _run(
        [venv / "bin" / "denial-risk", "score", "--data", backlog, "--out", "worklist.csv"]
        + ["--model", folder, "--model-sha256", digest],
        cwd=outside,
        env=env,
    )
    in_repo = tmp_path / "in_repo" / "worklist.csv"
    try:
        main(
            [
                "score",
                "--data",
                str(SAMPLE_BACKLOG),
                "--out",
                str(in_repo),
                "--model",
                str(folder),
                "--model-sha256",
                digest,
            ]
        )
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    for name in ("worklist.csv", "worklist.rejects.csv"):
        a = pd.read_csv(outside / name, dtype=str, keep_default_na=False)
        b = pd.read_csv(in_repo.parent / name, dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(a, b)
    assert len(pd.read_csv(outside / "worklist.csv")) > 5000

    # 2. the model alone, served by MLflow from the fresh venv, answers like the repo
    lines = pd.read_csv(SAMPLE_BACKLOG, dtype=str, keep_default_na=False).iloc[:7]
    expected = score_request(tracking.load_model(str(folder), digest), lines)
    proc, out, url = _serve(venv, folder, env, outside, tmp_path / "serve.log")
    try:
        got = invoke(url, lines)
    finally:
        _stop(proc, out)
    assert len(got) == len(lines)
    pd.testing.assert_series_equal(
        got["denial_probability"].astype(float), expected["denial_probability"].astype(float), atol=1e-12
    )
    for col in ("risk_rank", "risk_tier", "top_reasons", "recommended_actions", "likely_denial_codes"):
        assert got[col].tolist() == expected[col].tolist(), col

    # 3. what the package's code imports to load and score is what the model's requirements.txt
    # installs (`mlflow models build-docker`); MLflow's own optional imports are MLflow's business
    probe = (
        "import sys, json, pandas as pd\n"
        "from denial_risk.registry import tracking\n"
        f"m = tracking.load_pyfunc({str(folder)!r}, {digest!r})\n"
        f"m.predict(pd.read_csv({str(backlog)!r}, dtype=str, keep_default_na=False).head(20))\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('denial_risk.'))))\n"
    )
    loaded = json.loads(
        _run([venv / "bin" / "python", "-c", probe], cwd=outside, env=env).stdout.splitlines()[-1]
    )
    files = [PACKAGE.joinpath(*m.split(".")[1:]).with_suffix(".py") for m in loaded]
    files += [PACKAGE.joinpath(*m.split(".")[1:], "__init__.py") for m in loaded]
    dists = metadata.packages_distributions()
    needed = {_canon(d) for m in _imports_of([f for f in files if f.is_file()]) for d in dists.get(m, [])}
    installed = _requirements_closure((folder / "requirements.txt").read_text().splitlines())
    assert needed <= installed, (
        f"imported to score, not installed by the model's requirements.txt: {needed - installed}"
    )
