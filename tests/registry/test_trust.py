"""Only trusted models load (issue 16.1): the three tamper attacks on a model folder are refused,
through `score --model FOLDER --model-sha256` and a registry URI, and nothing of theirs runs.

Each attack is the one that ran code against the loader before the manifest (checked by hand
against that loader): (a) an MLmodel edited to load a pickle whose load runs `os.system`,
(b) a line appended to the model's code file, (c) with MLmodel and code untouched, a skops node
that calls `denial_risk.registry.tracking.load_pyfunc` on a second, pickled folder. Every
attack's payload creates a sentinel file; the tests assert it never appears.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


class _Touch:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def pickle_attack(folder: Path, sentinel: Path) -> None:
    """(a) the MLmodel now loads python_model.pkl, whose unpickling runs `touch sentinel`."""
    lines = []
    for line in (folder / "MLmodel").read_text().splitlines():
        if line.strip().startswith("model_code_path:"):
            continue
        if line.strip().startswith("loader_module:"):
            indent = line.split("loader_module")[0]
            lines += [
                f"{indent}loader_module: mlflow.pyfunc.model",
                f"{indent}python_model: python_model.pkl",
            ]
            continue
        lines.append(line)
    (folder / "MLmodel").write_text("\n".join(lines) + "\n")
    (folder / "python_model.pkl").write_bytes(pickle.dumps(_Touch(sentinel)))


def code_attack(folder: Path, sentinel: Path) -> None:
    """(b) one line appended to the model's code file."""
    with open(folder / "pyfunc.py", "a") as f:
        f.write(f"\nopen({str(sentinel)!r}, 'w').write('ran')\n")


def _str_node(value: str) -> dict:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
    }


def skops_attack(folder: Path, sentinel: Path) -> None:
    """(c) a node in the skops schema calls load_pyfunc(<a pickled folder>); its name is trusted too."""
    evil = folder.parent / f"{folder.name}-evil"
    shutil.copytree(folder, evil)
    pickle_attack(evil, sentinel)
    path = folder / "artifacts" / "bundle" / "denial_model.skops"
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = json.loads(members["schema.json"])
    schema["content"]["content"]["evil"] = {
        "__class__": "load_pyfunc",
        "__module__": "denial_risk.registry.tracking",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [_str_node(str(evil))],
        },
    }
    schema["content"]["key_types"]["content"].append(
        {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    )
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    trusted = folder / "artifacts" / "bundle" / "trusted_types.json"
    trusted.write_text(
        json.dumps([*json.loads(trusted.read_text()), "denial_risk.registry.tracking.load_pyfunc"])
    )


ATTACKS = {"pickle": pickle_attack, "code": code_attack, "skops": skops_attack}


@pytest.fixture()
def exported(register_champion, mlflow_store, tmp_path):
    """The session model registered in a fresh store (version 1, @champion) and exported:
    (folder, digest, the store's own folder of version 1)."""
    from mlflow import MlflowClient

    from denial_risk.registry import tracking

    register_champion("test-trust")
    folder, digest = tracking.export_model("models:/denial-risk@champion", str(tmp_path / "models" / "v1"))
    stored = Path(MlflowClient().get_model_version_download_uri("denial-risk", "1"))
    assert stored.is_dir()
    return folder, digest, stored


@pytest.fixture()
def backlog(simulated_claims, tmp_path):
    path = tmp_path / "backlog.csv"
    simulated_claims.iloc[:200].drop(columns=["denied", "denial_reason", "paid_amount"]).to_csv(
        path, index=False
    )
    return path


def _refused(result, *words) -> None:
    code, _, err = result
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_registration_records_the_digest_in_the_registry_run_and_logged_model(exported):
    from mlflow import MlflowClient

    folder, digest, _ = exported
    client = MlflowClient()
    version = client.get_model_version("denial-risk", "1")
    assert version.tags["model_sha256"] == digest
    assert client.get_run(version.run_id).data.tags["model_sha256"] == digest
    model_id = version.source.removeprefix("models:/")
    assert client.get_logged_model(model_id).tags["model_sha256"] == digest
    # the model carries the package's code (issue 12.5), inside the manifest like every file
    listed = (folder / "MANIFEST.sha256").read_text()
    assert "  code/denial_risk/scoring/score.py\n" in listed
    assert "  code/denial_risk/contract/reference_data/carc.csv\n" in listed
    assert "__pycache__" not in listed
    assert not list(folder.rglob("__pycache__"))  # export loaded the model once; none of its bytecode


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_tampered_folder_is_refused_and_runs_nothing(attack, exported, backlog, tmp_path, capsys, run):
    folder, digest, _ = exported
    victim = tmp_path / "victim" / attack
    shutil.copytree(folder, victim)
    sentinel = tmp_path / f"{attack}.ran"
    ATTACKS[attack](victim, sentinel)
    out = tmp_path / "out" / "w.csv"
    argv = ["score", "--data", str(backlog), "--out", str(out), "--model", str(victim)]
    _refused(run([*argv, "--model-sha256", digest], capsys), "--model", "does not match")
    # without a digest a folder is not loaded at all; the hint says where the digest comes from
    _refused(run(argv, capsys), "--model-sha256", "export")
    # the attacker's own manifest and digest: the loader's own checks still refuse (a) and (c)
    if attack != "code":  # (b) with its own digest is a model the user vouched for: it runs
        from denial_risk.registry import manifest

        own = manifest.write_manifest(victim)
        message = "only mlflow.pyfunc.loaders.code_model" if attack == "pickle" else "cannot be loaded"
        _refused(run([*argv, "--model-sha256", own], capsys), message)
    assert not sentinel.exists(), f"attack {attack} ran"
    assert not out.exists()


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_tampered_registry_model_is_refused_and_runs_nothing(
    attack, exported, backlog, tmp_path, capsys, run
):
    _, _, stored = exported
    pristine = tmp_path / "pristine"
    shutil.copytree(stored, pristine)
    sentinel = tmp_path / f"{attack}.ran"
    ATTACKS[attack](stored, sentinel)
    out = tmp_path / "out" / "w.csv"
    argv = ["score", "--data", str(backlog), "--out", str(out)]
    _refused(run(argv, capsys), "models:/denial-risk@champion", "registry", "does not match")
    _refused(run([*argv, "--model", "models:/denial-risk/1"], capsys), "does not match")
    assert not sentinel.exists(), f"attack {attack} ran"
    # the untouched files score again
    shutil.rmtree(stored)
    shutil.copytree(pristine, stored)
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "200 lines" in stdout


def test_honest_folder_scores_like_the_registry(exported, backlog, tmp_path, capsys, run):
    import pandas as pd

    folder, digest, _ = exported
    a, b = tmp_path / "a" / "w.csv", tmp_path / "b" / "w.csv"
    assert run(["score", "--data", str(backlog), "--out", str(a)], capsys)[0] == 0
    code, _, err = run(
        [
            "score",
            "--data",
            str(backlog),
            "--out",
            str(b),
            "--model",
            str(folder),
            "--model-sha256",
            digest.upper(),
        ],
        capsys,
    )
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(a, dtype=str), pd.read_csv(b, dtype=str))


def test_broken_content_is_one_line_even_with_its_own_digest(exported, backlog, tmp_path, capsys, run):
    """Issue 16.4: byte-flipped or truncated skops, garbage MLmodel: refused by the manifest, and
    still one line when the user passes the digest of the broken folder."""
    from denial_risk.registry import manifest

    folder, digest, _ = exported
    skops = Path("artifacts") / "bundle" / "denial_model.skops"

    def flip(f):
        data = bytearray((f / skops).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (f / skops).write_bytes(bytes(data))

    damages = {
        "flipped": flip,
        "truncated": lambda f: (f / skops).write_bytes((f / skops).read_bytes()[:1000]),
        "mlmodel": lambda f: (f / "MLmodel").write_bytes(b"\x00\x01 {{{ not: [yaml"),
        "mlmodel-text": lambda f: (f / "MLmodel").write_text("flavors: 42\n"),
    }
    for name, damage in damages.items():
        victim = tmp_path / "broken" / name
        shutil.copytree(folder, victim)
        damage(victim)
        argv = [
            "score",
            "--data",
            str(backlog),
            "--out",
            str(tmp_path / "o" / "w.csv"),
            "--model",
            str(victim),
        ]
        _refused(run([*argv, "--model-sha256", digest], capsys), "does not match")
        _refused(run([*argv, "--model-sha256", manifest.write_manifest(victim)], capsys), "--model")
    assert not (tmp_path / "o").exists()


def test_a_model_without_a_recorded_digest_is_refused(exported, backlog, tmp_path, capsys, run):
    from mlflow import MlflowClient

    MlflowClient().delete_model_version_tag("denial-risk", "1", "model_sha256")
    code, _, err = run(["score", "--data", str(backlog), "--out", str(tmp_path / "w.csv")], capsys)
    _refused((code, "", err), "records no SHA-256")


def test_runs_and_logged_model_uris_are_checked_too(exported):
    from mlflow import MlflowClient

    from denial_risk.errors import UserError
    from denial_risk.registry import tracking

    _, digest, stored = exported
    version = MlflowClient().get_model_version("denial-risk", "1")
    uris = (f"runs:/{version.run_id}/model", version.source)  # source: models:/m-<logged model id>
    for uri in uris:
        assert tracking.load_model(uri).feature_names
    (stored / "pyfunc.py").write_text("raise SystemExit('ran')\n")
    for uri in uris:
        with pytest.raises(UserError, match="pyfunc.py does not match"):
            tracking.load_model(uri)
    with pytest.raises(UserError, match="differs from the digest recorded"):
        tracking.load_model("models:/denial-risk/1", "0" * 64)


def test_serve_and_spark_use_the_same_check(exported, tmp_path):
    """Both refuse a tampered folder before a server process or a Spark job starts."""
    from denial_risk.errors import UserError
    from denial_risk.registry import tracking
    from denial_risk.registry.serving import ScoringServer

    folder, digest, _ = exported
    victim = tmp_path / "victim"
    shutil.copytree(folder, victim)
    sentinel = tmp_path / "ran"
    pickle_attack(victim, sentinel)
    server = ScoringServer(str(victim), sha256=digest)
    with pytest.raises(UserError, match="file MLmodel does not match"):
        server.start()
    assert server.proc is None
    with pytest.raises(UserError, match="file MLmodel does not match"):
        tracking.spark_udf(None, str(victim), "denial_probability double", digest)  # fails before Spark
    with pytest.raises(UserError, match="--model-sha256"):
        tracking.spark_udf(None, str(folder), "denial_probability double")
    assert not sentinel.exists()


def test_denial_risk_serve_refuses_a_tampered_folder_end_to_end(exported, tmp_path):
    """The console command, as a user runs it: exit 2, one line, no server, nothing ran."""
    import subprocess
    import sys

    from denial_risk.registry.serving import free_port

    folder, digest, _ = exported
    victim = tmp_path / "victim"
    shutil.copytree(folder, victim)
    sentinel = tmp_path / "ran"
    code_attack(victim, sentinel)
    port = free_port()
    exe = Path(sys.executable).with_name("denial-risk")
    run = subprocess.run(
        [str(exe), "serve", "--model", str(victim), "--model-sha256", digest, "--port", str(port)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "pyfunc.py does not match" in run.stderr, run.stderr
    assert not sentinel.exists()
