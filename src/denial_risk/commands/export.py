"""`denial-risk export`: a registered model as a plain MLflow model folder."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_option


@click.command("export")
@model_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to create, e.g. models/denial-risk-v1.",
)
def export(model_uri: str, out: str) -> None:
    """Copy a registered model into a folder that `--model FOLDER` scores with, offline."""
    import shutil
    from pathlib import Path

    from denial_risk.claims.files import check_output
    from denial_risk.errors import as_os_error
    from denial_risk.registry.tracking import export_model

    check_output(out, folder=True)
    existed = Path(out).exists()
    try:
        path = export_model(model_uri, out)
    except Exception as exc:  # MLflow words a full or unwritable folder in its own exception
        failure = as_os_error(exc, out)
        if failure is None:
            raise
        if not existed:  # a half-copied model must not pass for one
            shutil.rmtree(out, ignore_errors=True)
        raise failure from exc
    click.echo(f"exported {model_uri} to {path} (score with --model {path})")
