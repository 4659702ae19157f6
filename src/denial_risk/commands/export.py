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
    from denial_risk.registry.tracking import export_model

    path = export_model(model_uri, out)
    click.echo(f"exported {model_uri} to {path} (score with --model {path})")
