"""What goes into a logged run and model besides the fit: metric names MLflow accepts, the model's
input example, input columns, pinned requirements and the package's own code (no MLflow call
here; tracking.py logs them)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

from denial_risk.contract.schema import OPTIONAL, REQUIRED


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


def input_columns(example: pd.DataFrame | None) -> list[str]:
    """The columns the signature's input schema lists: the contract's, then the example's extra
    (configured feature) columns. MLflow drops a column the schema does not list, so every one
    the model reads is here; all are optional to MLflow, because the model itself answers a
    missing required column (registry/pyfunc.py)."""
    columns = [*REQUIRED, *OPTIONAL]
    extra = [str(c) for c in (example.columns if example is not None else []) if str(c) not in columns]
    return columns + extra


def pip_requirements() -> list[str]:
    from importlib.metadata import version

    pkgs = ["mlflow", "scikit-learn", "pandas", "numpy", "pyarrow", "skops", "simple-icd-10-cm"]
    return [f"{p}=={version(p)}" for p in pkgs]


def package_code(tmp: Path) -> str:
    """A clean copy of the installed `denial_risk` package (no bytecode), logged as the model's code:
    a server started from the model alone (`mlflow models serve`, `build-docker`) imports it from there."""
    import denial_risk

    dst = tmp / "code" / "denial_risk"
    shutil.copytree(
        Path(denial_risk.__file__).parent, dst, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]")
    )
    return str(dst)


def signature(example_output: pd.DataFrame, example_input: pd.DataFrame | None):
    """Inputs: every column the model reads, all optional to MLflow (`input_columns`), typed
    Any (the contract reads strings, numbers or booleans alike); outputs: the added columns;
    params: the explain policy and the as-of day (`scoring.request_params`), each with its default,
    so a request without them is answered as before."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec, ParamSchema, ParamSpec, Schema

    from denial_risk.scoring.request_params import PARAMS

    inputs = Schema([ColSpec(AnyType(), c, required=False) for c in input_columns(example_input)])
    outputs = Schema([ColSpec(AnyType(), c) for c in example_output.columns])
    params = ParamSchema([ParamSpec(name, kind, default) for name, (kind, default) in PARAMS.items()])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def metric_key(key: str) -> str:
    """MLflow allows letters, digits and `_-. :/` in metric names; slice values may hold others."""
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", key)
