"""Every MLflow call of the denial model lives here (the rework queue's own registered model:
rework_tracking.py, through this module's registration); what calls no MLflow lives beside it
(store.py, logged.py, signing.py, loaded.py).

Store: the one `MLFLOW_TRACKING_URI` names; unset, MLflow 3's local default
(`sqlite:///mlflow.db`, artifacts under `mlruns/`), checked before MLflow touches it
(registry/store.py: a reading command creates nothing). Runs log configuration,
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
with MLflow's pickle deserialisation off. The three recorded digests must agree, and with a
signing key set (registry/signing.py) the recorded HMAC must be the key's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.errors import UserError
from denial_risk.registry import loaded, logged, manifest, signing, store
from denial_risk.registry.logged import input_example as input_example  # re-exported (jobs, tests)

MODEL_NAME = "denial-risk"
CHAMPION, CHALLENGER = "champion", "challenger"
DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "denial-risk"
SKOPS_TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
DIGEST_TAG = "model_sha256"
_READY: set[tuple[str, str, bool]] = set()  # (working folder, URI, for writing) checked in this process


def _mlflow():
    import mlflow

    store.http_limits()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        mlflow.set_tracking_uri(DEFAULT_URI)
    return mlflow


def tracking_uri() -> str:
    return _mlflow().get_tracking_uri()


def _ready(write: bool = False):
    """MLflow, once its store was checked (registry/store.py): to read, it must exist and be an
    MLflow store, and nothing is created; to write, MLflow creates or migrates it under a lock."""
    mlflow = _mlflow()
    uri = mlflow.get_tracking_uri()
    key = (os.getcwd(), uri, write)
    if key in _READY:
        return mlflow
    with store.lock(uri) if write else contextlib.nullcontext():
        (store.check_writable if write else store.check_readable)(uri)
        try:  # to write: creates the tables and runs the migrations, one process at a time
            from mlflow import MlflowClient

            client = MlflowClient()
            client.search_experiments(max_results=1)
            if write:
                client.search_registered_models(max_results=1)
        except Exception as exc:  # a store MLflow refuses (an old schema, a file store): one line
            from denial_risk.errors import as_os_error

            failure = as_os_error(exc, f"MLflow store {uri}")
            if failure is not None:
                raise failure from None
            raise UserError(f"MLflow store {uri}: {loaded.one_line(exc, limit=600)}") from None
    _READY.add(key)
    return mlflow


def prepare_store() -> None:
    """Before a fit: the store is checked as MLflow will use it. A new one is not created here
    (a fit that stops on its data leaves nothing) but when the first run is logged, under the lock."""
    uri = tracking_uri()
    db = store.sqlite_path(uri)
    if db is not None and not db.exists():
        store.check_writable(uri)
        return
    _ready(write=True)


def _client():
    from mlflow import MlflowClient

    _ready()
    return MlflowClient()


def experiment_name(given: str | None = None) -> str:
    """`--experiment`, else MLflow's own MLFLOW_EXPERIMENT_NAME, else one for the project."""
    return given or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT


@contextlib.contextmanager
def run(
    experiment: str,
    run_name: str | None = None,
    *,
    nested: bool = False,
    tags: dict | None = None,
    started: float | None = None,
):
    """An MLflow run; `started` (time.time() when the work began, e.g. before a fit) is its
    start time, so the run's duration is the work's."""
    mlflow = _ready(write=True)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    run_id = None
    if started is not None and not nested:
        from mlflow import MlflowClient

        created = MlflowClient().create_run(
            experiment_id, start_time=int(started * 1000), tags=tags or {}, run_name=run_name
        )
        run_id = created.info.run_id
    with mlflow.start_run(
        run_id=run_id,
        run_name=None if run_id else run_name,
        nested=nested,
        tags=None if run_id else tags or {},
    ) as active:
        yield active


def log_params(params: dict) -> None:
    mlflow = _mlflow()
    mlflow.log_params(
        {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in params.items()}
    )


def log_metrics(metrics: dict, prefix: str = "", step: int | None = None) -> None:
    clean = {
        logged.metric_key(f"{prefix}{k}"): float(v)
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


def log_and_register(
    model, example_output: pd.DataFrame, example_input: pd.DataFrame | None = None
) -> tuple[str, str | None]:
    """Log the pyfunc in the active run, register it and record its files' digest (signed when a
    signing key is set: registry/signing.py); returns (version, alias given or None). `example_input`: the
    input example shown with the model (default `input_example()`; a model with configured extra
    columns shows them)."""
    from denial_risk.modeling.bundle import save_bundle
    from denial_risk.registry import pyfunc

    key = signing.signing_key()  # a bad key file stops here, before anything is logged
    mlflow = _ready(write=True)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = save_bundle(model, Path(tmp) / "bundle")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc.__file__,
            artifacts={"bundle": str(bundle)},
            code_paths=[logged.package_code(Path(tmp))],
            signature=logged.signature(example_output, example_input),
            input_example=input_example() if example_input is None else example_input,
            pip_requirements=logged.pip_requirements(),
            registered_model_name=MODEL_NAME,
        )
    return _register(info, MODEL_NAME, key)


def _register(info, name: str, key: bytes | None = None) -> tuple[str, str | None]:
    """Record its digest (signed with `key`); the first version of `name` is @champion, later ones
    @challenger."""
    version = str(info.registered_model_version)
    _record_manifest(info.model_id, version, name, key)
    return version, _give_alias(version, name)


def _give_alias(version: str, name: str = MODEL_NAME) -> str | None:
    """@champion for the first version of `name`, else @challenger; one process at a time (a local
    store), and read back, so two trains at once do not both claim the alias."""
    client = _client()
    with store.lock(tracking_uri()):
        alias = CHAMPION if not _alias_version(client, CHAMPION, name) else CHALLENGER
        held = _alias_version(client, alias, name)
        if alias == CHALLENGER and held is not None and int(held) > int(version):
            return None  # a later version, registered at the same time, took it first
        client.set_registered_model_alias(name, alias, version)
    return alias


def _record_manifest(model_id: str, version: str, name: str = MODEL_NAME, key: bytes | None = None) -> str:
    """MANIFEST.sha256 into the logged model's files; its digest (and, with a key, its signature)
    as tags on the version, the logged model and the active run (in the registry, not only in
    the folder)."""
    client = _client()
    with tempfile.TemporaryDirectory() as tmp:
        local = _download(client.get_logged_model(model_id).artifact_location, Path(tmp) / "model")
        digest = manifest.write_manifest(local)
        client.log_model_artifact(model_id, str(local / manifest.MANIFEST_FILE))
    tags = {DIGEST_TAG: digest}
    if key is not None:
        tags[signing.SIGNATURE_TAG] = signing.sign(digest, key)
    client.set_logged_model_tags(model_id, tags)
    logged_name = client.get_logged_model(model_id).name
    for tag, value in tags.items():
        client.set_model_version_tag(name, version, tag, value)
        _mlflow().set_tag(signing.run_tag(logged_name, tag), value)
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


def _download(artifact_uri: str, dst: Path) -> Path:
    dst.mkdir(parents=True)
    with loaded.env(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"):
        return Path(_mlflow().artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(dst)))


def _version_of(client, ref: str):
    name, at, alias = ref.partition("@")
    if at:
        return client.get_model_version_by_alias(name, alias)
    name, _, ver = ref.partition("/")
    if ver == "latest":
        ver = max((int(v.version) for v in client.search_model_versions(f"name='{name}'")), default=0)
    return client.get_model_version(name, str(ver))


def _recorded(uri: str) -> tuple[str, str | None, str]:
    """(artifact location, recorded digest or None, where it is recorded) of a models:/ or runs:/ URI.

    The digest is recorded three times (the version, the logged model, the run); they must agree,
    and with a signing key set, the version's or logged model's signature must be the key's."""
    client = _client()
    if uri.startswith("models:/m-"):
        logged_model = client.get_logged_model(uri[len("models:/") :])
        where = f"logged model {logged_model.model_id}"
        location, tags, run_id = logged_model.artifact_location, logged_model.tags, logged_model.source_run_id
    elif uri.startswith("models:/"):
        mv = _version_of(client, uri[len("models:/") :])
        where = f"the registry ({mv.name} version {mv.version})"
        location, tags, run_id = (
            client.get_model_version_download_uri(mv.name, mv.version),
            mv.tags,
            mv.run_id,
        )
        model_id = getattr(mv, "model_id", None) or str(mv.source or "").removeprefix("models:/")
        logged_model = client.get_logged_model(model_id) if model_id.startswith("m-") else None
    else:
        run_id, _, name = uri[len("runs:/") :].partition("/")
        logged_model = _logged_in_run(client, run_id, name, uri)
        location, tags, where = logged_model.artifact_location, logged_model.tags, f"run {run_id}"
    digest = tags.get(DIGEST_TAG)
    if digest is not None:
        records = {where: digest}
        if logged_model is not None:
            records[f"logged model {logged_model.model_id}"] = logged_model.tags.get(DIGEST_TAG)
        if run_id:
            name = logged_model.name if logged_model is not None else None
            records[f"run {run_id}"] = client.get_run(run_id).data.tags.get(signing.run_tag(name, DIGEST_TAG))
        signing.check_records(uri, where, records, tags.get(signing.SIGNATURE_TAG))
    return location, digest, where


def _logged_in_run(client, run_id: str, name: str, uri: str):
    run = client.get_run(run_id)
    found = [
        m
        for m in _mlflow().search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'", output_format="list"
        )
        if m.source_run_id == run_id
    ]
    if not found:
        raise UserError(f"--model {uri}: run {run_id} logged no model named '{name}'")
    return found[0]


def _fetch_verified(uri: str, sha256: str | None, tmp: Path) -> Path:
    """The model's files in `tmp`, checked against the recorded digest or `--model-sha256`."""
    given = manifest.normalize_digest(sha256) if sha256 else None
    if uri.startswith(("models:/", "runs:/")):
        hint = "train a model first with `denial-risk train`"
        with loaded.fetch_errors(uri, tmp, f"not found in {tracking_uri()}", hint, tracking_uri()):
            location, recorded, where = _recorded(uri)
            if recorded is None:
                raise UserError(
                    f"--model {uri}: {where} records no SHA-256 for its files (logged before file "
                    "digests were kept, so it cannot be checked); train it again"
                )
            if given is not None and given != recorded:
                raise UserError(f"--model-sha256 {given}: differs from the digest recorded in {where}")
            local = _download(location, tmp / "model")
        loaded.drop_registry_meta(local)
        manifest.verify(local, recorded, f"the manifest recorded in {where}")
        return local
    return loaded.fetch_folder(uri, given, tmp, _download, tracking_uri())


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


def load_local(local: Path, uri: str):
    """Load a verified copy in this process: pickle off, sys.path as it was (MLflow prepends `code/`)."""
    path = list(sys.path)
    try:
        with loaded.no_pickle():
            return _mlflow().pyfunc.load_model(str(local))
    except Exception as exc:  # the files are the recorded ones, but their content does not load
        raise UserError(
            f"--model {uri}: its files match their digest but it cannot be loaded ({loaded.one_line(exc)})"
        ) from None
    finally:
        sys.path[:] = path


def load_pyfunc(uri: str, sha256: str | None = None):
    """Load by registry URI (`models:/denial-risk@champion`), `runs:/` URI or an exported folder
    (with its `--model-sha256`), after every file matched."""
    with verified_model(uri, sha256) as local:
        loaded.skip_input_check(local)
        return load_local(local, uri)


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
        load_local(local, uri)
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


def spark_udf(spark, model_uri: str, result_type: str, sha256: str | None = None, params=None):
    """(the model as a Spark UDF run in the current Python environment, whether `params` reach it).

    `env_manager="local"`: executors use the project's venv (PYSPARK_PYTHON), so the UDF
    runs the same code and library versions as the local engine. MLflow copies the
    verified folder and ships that copy to the executors, so ours is removed on return.
    `params`: the pyfunc's (scoring.request_params), given only to a model whose signature has them.
    """
    with verified_model(model_uri, sha256) as local, loaded.no_pickle():
        loaded.skip_input_check(local)
        params = params if params is not None and loaded.accepts_params(local) else None
        udf = _mlflow().pyfunc.spark_udf(spark, str(local), result_type, env_manager="local", params=params)
        return udf, params is not None


def scoring_app(model_dir: str, *, with_python_model: bool = False):
    """MLflow's scoring server app (`/ping`, `/version`, `/invocations`) for a verified local copy
    (and, if asked, the loaded pyfunc's own model: the server's lean path scores through it)."""
    from mlflow.pyfunc import scoring_server

    with loaded.no_pickle():
        model = _mlflow().pyfunc.load_model(model_dir)
    app = scoring_server.init(model)
    return (app, model.unwrap_python_model()) if with_python_model else app
