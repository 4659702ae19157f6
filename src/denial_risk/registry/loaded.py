"""Helpers of a verified load that call no MLflow: environment switches, one-line errors, and
what MLflow adds to a downloaded model folder (tracking.py makes the calls)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from denial_risk.errors import UserError
from denial_risk.registry import manifest, store


@contextlib.contextmanager
def env(**values: str):
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


def no_pickle():
    """MLflow 3.17 still allows pickled models by default; never for a load of ours."""
    return env(MLFLOW_ALLOW_PICKLE_DESERIALIZATION="false")


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The exception as one line; a long one ends at a sentence's end, never mid-word."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    if len(text) <= limit:
        return text
    cut = max(text.rfind(". ", 0, limit), text.rfind("; ", 0, limit))
    return text[: cut + 1] if cut > 40 else text[: text.rfind(" ", 0, limit)] + " …"


@contextlib.contextmanager
def fetch_errors(uri: str, tmp: Path, what: str, hint: str, tracking_uri: str):
    """A model that cannot be found or fetched is one line naming `--model` (exit 2); a full disk
    while copying it names the copy (exit 1); a server that cannot be reached names its URI."""
    try:
        yield
    except (UserError, manifest.TrustError):
        raise
    except Exception as exc:  # MlflowException, a missing optional client (boto3), a bad URI
        from denial_risk.errors import as_os_error

        failure = as_os_error(exc, str(tmp))
        if failure is not None and failure.errno in store.DISK_ERRNOS:
            raise failure from None
        if failure is not None and tracking_uri.startswith(("http://", "https://")):
            raise OSError(failure.errno, failure.strerror, f"MLflow tracking server {tracking_uri}") from None
        raise UserError(f"--model {uri}: {what} ({one_line(exc)}); {hint}") from None


def drop_registry_meta(local: Path) -> None:
    """MLflow writes `registered_model_meta` into a local store's model folder whenever it is
    downloaded by a models:/ name (and never reads it): not a file of the model, unless listed."""
    meta = local / "registered_model_meta"
    listed = local / manifest.MANIFEST_FILE
    if meta.is_file() and not (listed.is_file() and "  registered_model_meta\n" in listed.read_text()):
        meta.unlink()


def fetch_folder(uri: str, given: str | None, tmp: Path, download, tracking_uri: str) -> Path:
    """A model that is not in the registry (a folder, `file://`, or a URI `download` fetches, such
    as `s3://`), in `tmp`, checked against `given` (`--model-sha256`, required)."""
    folder = uri[len("file://") :] if uri.startswith("file://") else uri if "://" not in uri else None
    if folder is not None and not (Path(folder) / "MLmodel").is_file():
        raise UserError(f"--model {uri}: no such model folder (or use models:/denial-risk@champion)")
    if given is None:
        raise UserError(
            f"--model {uri}: a model folder is loaded only with --model-sha256 HEX, the digest "
            "`denial-risk export` printed for it (the version's tag model_sha256 in the registry)"
        )
    if folder is not None:
        manifest.verify(folder, given, "the manifest --model-sha256 names", copy_to=tmp / "model")
        return tmp / "model"
    hint = "export the model to a local folder and pass that"
    with fetch_errors(uri, tmp, "cannot be fetched", hint, tracking_uri):
        fetched = download(uri, tmp / "download")
    manifest.verify(fetched, given, "the manifest --model-sha256 names")
    return fetched


def skip_input_check(folder: Path) -> None:
    """A verified private copy that scores without MLflow's per-value input check.

    The logged model's signature lists its input columns (shown in MLflow, used by a plain
    `mlflow models serve`), all optional and of any type; MLflow checks such a schema value by
    value, which cost 2 s per 10,000 lines (measured: median of 5, load average 8). Our loads
    (score, serve, Spark) drop it from their copy; the model checks its required columns itself
    (registry/pyfunc.py). `export` keeps it.
    """
    import yaml

    path = Path(folder) / "MLmodel"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    signature = meta.get("signature") if isinstance(meta, dict) else None
    if isinstance(signature, dict) and signature.get("inputs"):
        signature["inputs"] = None
        path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def accepts_params(folder: Path) -> bool:
    """Whether the model's signature declares params (`scoring.request_params`): a model logged
    before them scores without (MLflow would ignore them), so the caller applies its policy itself."""
    import yaml

    meta = yaml.safe_load((Path(folder) / "MLmodel").read_text(encoding="utf-8"))
    signature = meta.get("signature") if isinstance(meta, dict) else None
    return isinstance(signature, dict) and bool(signature.get("params"))
