"""`denial-risk export`: a registered model as a plain MLflow model folder."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_option, model_sha256_option


@click.command("export")
@model_option
@model_sha256_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to create, e.g. models/denial-risk-v1.",
)
def export(model_uri: str, model_sha256: str | None, out: str) -> None:
    """Copy a registered model into a folder that `--model FOLDER --model-sha256 HEX` scores with,
    offline; prints the folder's digest (the SHA-256 of its MANIFEST.sha256)."""
    import shutil
    from pathlib import Path

    from denial_risk.errors import as_os_error
    from denial_risk.registry.tracking import export_model
    from denial_risk.tableio.files import check_output

    check_output(out, folder=True)
    existed = Path(out).exists()
    try:
        path, digest = export_model(model_uri, out, model_sha256)
    except Exception as exc:  # MLflow words a full or unwritable folder in its own exception
        failure = as_os_error(exc, out)
        if failure is None:
            raise
        if not existed:  # a half-copied model must not pass for one
            shutil.rmtree(out, ignore_errors=True)
        raise failure from exc
    click.echo(f"exported {model_uri} to {path}")
    click.echo(f"model sha256: {digest}")
    click.echo(f"score with: --model {path} --model-sha256 {digest}")
