"""Every MLflow call of the product lives here.

Store: the one `MLFLOW_TRACKING_URI` names; unset, MLflow 3's local default
(`sqlite:///mlflow.db`, artifacts under `mlruns/`). Runs log configuration,
a data fingerprint, row counts and date range as params, metrics, plots and
per-slice tables; the model is logged once as a pyfunc (models from code +
skops bundle + the package's own code in `code/`) with signature and a
synthetic input example, and registered as `denial-risk`: the first version
becomes `@champion`, later ones `@challenger`. No patient or claim identifier
is ever sent to MLflow.

Trust: at logging, the SHA-256 of every file of the model goes into its
`MANIFEST.sha256`, and the digest of that manifest is recorded as the tag
`model_sha256` on the model version, the logged model and the run. Every load
(`score`, `evaluate`, `monitor`, `export`, `serve`, Spark) first fetches the
files into a private temporary folder, checks them against the recorded digest
(or `--model-sha256` for a folder; registry/manifest.py), and loads that copy
with MLflow's pickle deserialisation off.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.registry import manifest

MODEL_NAME = "denial-risk"
CHAMPION, CHALLENGER = "champion", "challenger"
DEFAULT_URI = "sqlite:///mlflow.db"
SKOPS_TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
DIGEST_TAG = "model_sha256"


def _mlflow():
    import mlflow

    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(DEFAULT_URI)
    return mlflow


def tracking_uri() -> str:
    return _mlflow().get_tracking_uri()


def _client():
    from mlflow import MlflowClient

    _mlflow()
    return MlflowClient()


def experiment_name_for(data_path: str) -> str:
    """One experiment per data set, named after the file."""
    return f"denial-risk/{Path(data_path).stem}"


@contextlib.contextmanager
def run(experiment: str, run_name: str | None = None, *, nested: bool = False, tags: dict | None = None):
    mlflow = _mlflow()
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, nested=nested, tags=tags or {}) as active:
        yield active


def log_params(params: dict) -> None:
    mlflow = _mlflow()
    mlflow.log_params(
        {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in params.items()}
    )


def metric_key(key: str) -> str:
    """MLflow allows letters, digits and `_-. :/` in metric names; slice values may hold others."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", key)


def log_metrics(metrics: dict, prefix: str = "", step: int | None = None) -> None:
    clean = {
        metric_key(f"{prefix}{k}"): float(v)
        for k, v in metrics.items()
        if v is not None and np.isfinite(float(v))
    }
    _mlflow().log_metrics(clean, step=step)


def log_figure(fig, name: str) -> None:
    import matplotlib.pyplot as plt

    _mlflow().log_figure(fig, f"plots/{name}.png")
    plt.close(fig)


def log_table(frame: pd.DataFrame, name: str) -> None:
    forbidden = {"patient_id", "claim_id"} & set(frame.columns)
    if forbidden:
        raise ValueError(f"refusing to log identifiers {sorted(forbidden)} to MLflow")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        frame.to_csv(path, index=False)
        _mlflow().log_artifact(str(path), artifact_path="tables")


def log_text(text: str, path: str) -> None:
    _mlflow().log_text(text, path)


def input_example() -> pd.DataFrame:
    """A synthetic claim line (no real identifiers) shown with the model."""
    return pd.DataFrame(
        [
            {
                "claim_id": "EXAMPLE-1",
                "line_number": "1",
                "service_date": "2025-01-15",
                "payer_type": "medicare",
                "hcpcs_code": "L1833",
                "modifiers": "KX|RT",
                "diagnosis_codes": "M17.11",
                "billed_amount": "850.00",
                "submission_date": "2025-01-20",
                "units": "1",
                "has_prescription": "true",
                "has_progress_notes": "true",
                "has_proof_of_delivery": "true",
                "has_prior_auth": "false",
            }
        ]
    )


def _signature(example_output: pd.DataFrame):
    """Outputs only. An input schema would make MLflow drop every column it does not list (the
    extra feature columns a --config names, which the contract passes through) and rebuild each
    request column by column, which cost more than scoring the line; the model checks the
    contract's required columns itself (pyfunc.py), answering 400 as MLflow would."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    return ModelSignature(
        inputs=None, outputs=Schema([ColSpec(AnyType(), c) for c in example_output.columns])
    )


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["mlflow", "scikit-learn", "pandas", "numpy", "pyarrow", "skops", "simple-icd-10-cm"]
    return [f"{p}=={version(p)}" for p in pkgs]


def _package_code(tmp: Path) -> str:
    """A clean copy of the installed `denial_risk` package (no bytecode), logged as the model's code:
    a server started from the model alone (`mlflow models serve`, `build-docker`) imports it from there."""
    import denial_risk

    dst = tmp / "code" / "denial_risk"
    shutil.copytree(
        Path(denial_risk.__file__).parent, dst, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
    )
    return str(dst)


def log_and_register(
    model, example_output: pd.DataFrame, example_input: pd.DataFrame | None = None
) -> tuple[str, str]:
    """Log the pyfunc in the active run, register it and record its files' digest;
    returns (version, alias given). `example_input`: the input example shown with the model
    (default `input_example()`; a model with configured extra columns shows them)."""
    from denial_risk.modeling.bundle import save_bundle
    from denial_risk.registry import pyfunc

    mlflow = _mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = save_bundle(model, Path(tmp) / "bundle")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc.__file__,
            artifacts={"bundle": str(bundle)},
            code_paths=[_package_code(Path(tmp))],
            signature=_signature(example_output),
            input_example=input_example() if example_input is None else example_input,
            pip_requirements=pip_requirements(),
            registered_model_name=MODEL_NAME,
        )
    return _register(info, MODEL_NAME)


def _register(info, name: str) -> tuple[str, str]:
    """Record its digest; the first version of `name` is @champion, later ones @challenger."""
    version = str(info.registered_model_version)
    _record_manifest(info.model_id, version, name)
    client = _client()
    alias = CHAMPION if not _alias_version(client, CHAMPION, name) else CHALLENGER
    client.set_registered_model_alias(name, alias, version)
    return version, alias


def _record_manifest(model_id: str, version: str, name: str = MODEL_NAME) -> str:
    """MANIFEST.sha256 into the logged model's files; its digest as a tag on the version,
    the logged model and the active run (so it lives in the registry, not only in the folder)."""
    client = _client()
    with tempfile.TemporaryDirectory() as tmp:
        local = _download(client.get_logged_model(model_id).artifact_location, Path(tmp) / "model")
        digest = manifest.write_manifest(local)
        client.log_model_artifact(model_id, str(local / manifest.MANIFEST_FILE))
    client.set_logged_model_tags(model_id, {DIGEST_TAG: digest})
    client.set_model_version_tag(name, version, DIGEST_TAG, digest)
    _mlflow().set_tag(DIGEST_TAG if name == MODEL_NAME else f"{name}.{DIGEST_TAG}", digest)
    return digest


def _alias_version(client, alias: str, name: str = MODEL_NAME) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def alias_version(alias: str) -> str | None:
    return _alias_version(_client(), alias)


def set_alias(alias: str, version: str) -> None:
    _client().set_registered_model_alias(MODEL_NAME, alias, str(version))


def model_versions() -> list[str]:
    return sorted((str(v.version) for v in _client().search_model_versions(f"name='{MODEL_NAME}'")), key=int)


@contextlib.contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _no_pickle():
    """MLflow 3.17 still allows pickled models by default; never for a load of ours."""
    return _env(MLFLOW_ALLOW_PICKLE_DESERIALIZATION="false")


def _download(artifact_uri: str, dst: Path) -> Path:
    dst.mkdir(parents=True)
    with _env(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"):
        return Path(_mlflow().artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(dst)))


def _one_line(exc: BaseException, limit: int = 200) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:limit]


def _version_of(client, ref: str):
    name, at, alias = ref.partition("@")
    if at:
        return client.get_model_version_by_alias(name, alias)
    name, _, ver = ref.partition("/")
    if ver == "latest":
        ver = max((int(v.version) for v in client.search_model_versions(f"name='{name}'")), default=0)
    return client.get_model_version(name, str(ver))


def _recorded(uri: str) -> tuple[str, str | None, str]:
    """(artifact location, recorded digest or None, where it is recorded) of a models:/ or runs:/ URI."""
    client = _client()
    if uri.startswith("models:/m-"):
        logged = client.get_logged_model(uri[len("models:/") :])
        return logged.artifact_location, logged.tags.get(DIGEST_TAG), f"logged model {logged.model_id}"
    if uri.startswith("models:/"):
        mv = _version_of(client, uri[len("models:/") :])
        where = f"the registry ({mv.name} version {mv.version})"
        return client.get_model_version_download_uri(mv.name, mv.version), mv.tags.get(DIGEST_TAG), where
    run_id, _, name = uri[len("runs:/") :].partition("/")
    run = client.get_run(run_id)
    logged = [
        m
        for m in _mlflow().search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'", output_format="list"
        )
        if m.source_run_id == run_id
    ]
    if not logged:
        raise UserError(f"--model {uri}: run {run_id} logged no model named '{name}'")
    return logged[0].artifact_location, logged[0].tags.get(DIGEST_TAG), f"run {run_id}"


def _fetch_verified(uri: str, sha256: str | None, tmp: Path) -> Path:
    """The model's files in `tmp`, checked against the recorded digest or `--model-sha256`."""
    from mlflow.exceptions import MlflowException

    given = manifest.normalize_digest(sha256) if sha256 else None
    if uri.startswith(("models:/", "runs:/")):
        try:
            location, recorded, where = _recorded(uri)
            if recorded is None:
                raise UserError(
                    f"--model {uri}: {where} records no SHA-256 for its files (logged before file "
                    "digests were kept, so it cannot be checked); train it again"
                )
            if given is not None and given != recorded:
                raise UserError(f"--model-sha256 {given}: differs from the digest recorded in {where}")
            local = _download(location, tmp / "model")
        except MlflowException as exc:
            from denial_risk.errors import as_os_error

            failure = as_os_error(exc, str(tmp))  # a full disk while copying the model is not "not found"
            if failure is not None:
                raise failure from None
            raise UserError(
                f"--model {uri}: not found in {tracking_uri()} ({_one_line(exc)}); "
                "train a model first with `denial-risk train`"
            ) from None
        _drop_registry_meta(local)
        manifest.verify(local, recorded, f"the manifest recorded in {where}")
        return local
    is_folder = "://" not in uri
    if is_folder and not (Path(uri) / "MLmodel").exists():
        raise UserError(f"--model {uri}: no such model folder (or use models:/denial-risk@champion)")
    if given is None:
        raise UserError(
            f"--model {uri}: a model folder is loaded only with --model-sha256 HEX, the digest "
            "`denial-risk export` printed for it (the version's tag model_sha256 in the registry)"
        )
    local = tmp / "model"
    if is_folder:
        manifest.verify(uri, given, "the manifest --model-sha256 names", copy_to=local)
        return local
    fetched = _download(uri, tmp / "download")
    manifest.verify(fetched, given, "the manifest --model-sha256 names")
    return fetched


def _drop_registry_meta(local: Path) -> None:
    """MLflow writes `registered_model_meta` into a local store's model folder whenever it is
    downloaded by a models:/ name (and never reads it): not a file of the model, unless listed."""
    meta = local / "registered_model_meta"
    listed = local / manifest.MANIFEST_FILE
    if meta.is_file() and not (listed.is_file() and "  registered_model_meta\n" in listed.read_text()):
        meta.unlink()


@contextlib.contextmanager
def verified_model(uri: str, sha256: str | None = None):
    """A private local copy of the model whose every file matched its recorded digest; removed on exit.

    Refused (UserError, one line) on a mismatch, an extra, missing or special file, or an
    MLmodel that names any loader but a denial-risk pyfunc logged from code.
    """
    tmp = Path(tempfile.mkdtemp(prefix="denial-risk-model."))
    try:
        try:
            local = _fetch_verified(uri, sha256, tmp)
            manifest.check_mlmodel(local)
        except manifest.TrustError as exc:
            raise UserError(f"--model {uri}: {exc}") from None
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_local(local: Path, uri: str):
    """Load a verified copy in this process: pickle off, sys.path as it was (MLflow prepends `code/`)."""
    path = list(sys.path)
    try:
        with _no_pickle():
            return _mlflow().pyfunc.load_model(str(local))
    except Exception as exc:  # the files are the recorded ones, but their content does not load
        raise UserError(
            f"--model {uri}: its files match their digest but it cannot be loaded ({_one_line(exc)})"
        ) from None
    finally:
        sys.path[:] = path


def load_pyfunc(uri: str, sha256: str | None = None):
    """Load by registry URI (`models:/denial-risk@champion`), `runs:/` URI or an exported folder
    (with its `--model-sha256`), after every file matched."""
    with verified_model(uri, sha256) as local:
        return _load_local(local, uri)


def load_model(uri: str, sha256: str | None = None):
    """The DenialModel inside a logged pyfunc."""
    return load_pyfunc(uri, sha256).unwrap_python_model().model


def model_run_id(uri: str) -> str | None:
    """The training run of a registered model URI (None for an exported folder)."""
    if not uri.startswith("models:/"):
        return None
    client = _client()
    ref = uri[len("models:/") :]
    name, _, rest = ref.partition("@")
    if rest:
        return client.get_model_version_by_alias(name, rest).run_id
    name, _, ver = ref.partition("/")
    return client.get_model_version(name, ver).run_id


def export_model(uri: str, out: str, sha256: str | None = None) -> tuple[Path, str]:
    """Copy a model (checked, and loaded once) into a plain MLflow model folder that needs no
    tracking store; returns (folder, digest to pass as --model-sha256)."""
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"--out {out}: folder exists and is not empty")
    with verified_model(uri, sha256) as local:
        _load_local(local, uri)
        # the load wrote bytecode beside the copy's code: not a file of the model
        shutil.copytree(local, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(manifest.PYCACHE))
    return target, manifest.write_manifest(target)


def run_params(run_id: str) -> dict:
    return dict(_client().get_run(run_id).data.params)


def log_dict(d: dict, path: str) -> None:
    _mlflow().log_text(json.dumps(d, indent=1, default=str), path)


# --- Spark and the scoring server (jobs/spark.py, serving.py) -------------------------------
#
# Both take the model by URI, exactly as the local engine does (a registry URI resolved
# against MLFLOW_TRACKING_URI, or an exported folder with its --model-sha256), and get a
# verified private copy. Nothing here sends data to MLflow.


def spark_udf(spark, model_uri: str, result_type: str, sha256: str | None = None):
    """The model as a Spark UDF, run in the current Python environment.

    `env_manager="local"`: executors use the project's venv (PYSPARK_PYTHON), so the UDF
    runs the same code and library versions as the local engine. MLflow copies the
    verified folder and ships that copy to the executors, so ours is removed on return.
    """
    with verified_model(model_uri, sha256) as local, _no_pickle():
        return _mlflow().pyfunc.spark_udf(spark, str(local), result_type=result_type, env_manager="local")


def scoring_app(model_dir: str):
    """MLflow's scoring server app (`/ping`, `/version`, `/invocations`) for a verified local copy."""
    from mlflow.pyfunc import scoring_server

    with _no_pickle():
        return scoring_server.init(_mlflow().pyfunc.load_model(model_dir))


# --- the rework queue's recovery model: its own registered model, logged from code like the
# denial model (registry/rework_pyfunc.py), its state a JSON file, verified on load (docs/rework.md)
REWORK_MODEL_NAME = "denial-risk-rework"
REWORK_MODEL_FILE = "rework_model.json"


def log_and_register_rework(state: dict) -> tuple[str, str]:
    """Log the recovery model (its JSON state) in the active run and register it (`_register`)."""
    from denial_risk.registry import rework_pyfunc

    mlflow = _mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / REWORK_MODEL_FILE
        path.write_text(json.dumps(state), encoding="utf-8")
        info = mlflow.pyfunc.log_model(
            name="rework_model",
            python_model=rework_pyfunc.__file__,
            artifacts={"model": str(path)},
            code_paths=[_package_code(Path(tmp))],
            pip_requirements=pip_requirements(),
            registered_model_name=REWORK_MODEL_NAME,
        )
    return _register(info, REWORK_MODEL_NAME)


def load_rework_model(uri: str, sha256: str | None = None):
    """The RecoveryModel inside a logged rework pyfunc, after every file matched its digest."""
    model = load_pyfunc(uri, sha256).unwrap_python_model()
    if not hasattr(model, "recovery"):
        raise UserError(
            f"--model {uri}: not a rework model (register one with `denial-risk rework --history`)"
        )
    return model.recovery
