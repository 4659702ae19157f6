"""Every MLflow call of the product lives here.

Store: the one `MLFLOW_TRACKING_URI` names; unset, MLflow 3's local default
(`sqlite:///mlflow.db`, artifacts under `mlruns/`). Runs log configuration,
a data fingerprint, row counts and date range as params, metrics, plots and
per-slice tables; the model is logged once as a pyfunc (models from code +
skops bundle) with signature and a synthetic input example, and registered
as `denial-risk`: the first version becomes `@champion`, later ones
`@challenger`. No patient or claim identifier is ever sent to MLflow.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.errors import UserError

MODEL_NAME = "denial-risk"
CHAMPION, CHALLENGER = "champion", "challenger"
DEFAULT_URI = "sqlite:///mlflow.db"
SKOPS_TREE = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


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


def _signature(example_output: pd.DataFrame, extra_columns: tuple[str, ...] = ()):
    """The contract's columns, plus the model's --config extra columns (else pyfunc would drop them)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    columns = (*schema.REQUIRED, *schema.OPTIONAL, *extra_columns)
    inputs = Schema([ColSpec(AnyType(), c, required=c in schema.REQUIRED) for c in columns])
    outputs = Schema([ColSpec(AnyType(), c) for c in example_output.columns])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["mlflow", "scikit-learn", "pandas", "numpy", "pyarrow", "skops", "simple-icd-10-cm"]
    return [f"{p}=={version(p)}" for p in pkgs]


def log_and_register(
    model, example_output: pd.DataFrame, example_input: pd.DataFrame | None = None
) -> tuple[str, str]:
    """Log the pyfunc in the active run and register it; returns (version, alias given).

    `example_input` is the input example shown with the model (default `input_example()`); a
    model with configured extra columns needs them in it, or MLflow's check of the example fails.
    """
    from denial_risk.modeling.bundle import save_bundle
    from denial_risk.modeling.config import config_of_model
    from denial_risk.registry import pyfunc

    mlflow = _mlflow()
    extras = config_of_model(model).extra_columns
    with tempfile.TemporaryDirectory() as tmp:
        bundle = save_bundle(model, Path(tmp) / "bundle")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=pyfunc.__file__,
            artifacts={"bundle": str(bundle)},
            signature=_signature(example_output, extras),
            input_example=(
                input_example().assign(**{c: "" for c in extras}) if example_input is None else example_input
            ),
            pip_requirements=pip_requirements(),
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    client = _client()
    alias = CHAMPION if not _alias_version(client, CHAMPION) else CHALLENGER
    client.set_registered_model_alias(MODEL_NAME, alias, version)
    return version, alias


def _alias_version(client, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def alias_version(alias: str) -> str | None:
    return _alias_version(_client(), alias)


def set_alias(alias: str, version: str) -> None:
    _client().set_registered_model_alias(MODEL_NAME, alias, str(version))


def model_versions() -> list[str]:
    return sorted((str(v.version) for v in _client().search_model_versions(f"name='{MODEL_NAME}'")), key=int)


def load_pyfunc(uri: str):
    """Load by registry URI (`models:/denial-risk@champion`) or an exported folder."""
    from mlflow.exceptions import MlflowException

    mlflow = _mlflow()
    if not uri.startswith(("models:/", "runs:/")) and not Path(uri).exists():
        raise UserError(f"--model {uri}: no such model folder (or use models:/denial-risk@champion)")
    try:
        return mlflow.pyfunc.load_model(uri)
    except MlflowException as exc:
        msg = " ".join(str(exc).split())[:200]
        raise UserError(
            f"--model {uri}: cannot be loaded from {tracking_uri()} ({msg}); "
            "train a model first with `denial-risk train`"
        ) from None


def load_model(uri: str):
    """The DenialModel inside a logged pyfunc."""
    return load_pyfunc(uri).unwrap_python_model().model


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


def export_model(uri: str, out: str) -> Path:
    """Copy a registered model into a plain MLflow model folder (no tracking store needed)."""
    mlflow = _mlflow()
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise UserError(f"--out {out}: folder exists and is not empty")
    load_pyfunc(uri)  # clear error if the URI is wrong
    target.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target))
    return target


def run_params(run_id: str) -> dict:
    return dict(_client().get_run(run_id).data.params)


def log_dict(d: dict, path: str) -> None:
    _mlflow().log_text(json.dumps(d, indent=1, default=str), path)


# --- Spark and the scoring server (spark_engine.py, serving.py) -------------------------------
#
# Both take the model by URI, exactly as the local engine does: a registry URI
# (`models:/denial-risk@champion`) resolved against MLFLOW_TRACKING_URI, or an
# exported model folder. Nothing here sends data to MLflow.


def _check_model_uri(uri: str) -> None:
    """A clear UserError for a model that is not there, before Spark or a server starts."""
    from mlflow.exceptions import MlflowException

    if not uri.startswith(("models:/", "runs:/")) and "://" not in uri:
        if not (Path(uri) / "MLmodel").exists():
            raise UserError(f"--model {uri}: no such model folder (or use models:/denial-risk@champion)")
        return
    if uri.startswith("models:/"):
        try:
            model_run_id(uri)
        except MlflowException as exc:
            msg = " ".join(str(exc).split())[:200]
            raise UserError(
                f"--model {uri}: not found in {tracking_uri()} ({msg}); "
                "train a model first with `denial-risk train`"
            ) from None


def spark_udf(spark, model_uri: str, result_type: str):
    """The registered pyfunc as a Spark UDF, run in the current Python environment.

    `env_manager="local"`: executors use the project's venv (PYSPARK_PYTHON), so
    the UDF runs the same code and library versions as the local engine.
    """
    mlflow = _mlflow()
    _check_model_uri(model_uri)
    return mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, env_manager="local")


def serve_command(
    model_uri: str, *, host: str = "127.0.0.1", port: int = 5000, workers: int = 1, timeout: int | None = None
) -> tuple[list[str], dict[str, str]]:
    """argv and environment for `mlflow models serve` (MLflow's scoring server) for the model.

    The server runs from the current venv (`--env-manager local`), so its `bin`
    (uvicorn) goes first on PATH, and it resolves `models:/` URIs against the same
    tracking store as this process.
    """
    import sys

    _check_model_uri(model_uri)
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["MLFLOW_TRACKING_URI"] = tracking_uri()
    if timeout is not None:
        env["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = str(int(timeout))
    argv = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model_uri,
        "--host",
        host,
        "--port",
        str(int(port)),
        "--env-manager",
        "local",
        "--workers",
        str(int(workers)),
    ]
    return argv, env
