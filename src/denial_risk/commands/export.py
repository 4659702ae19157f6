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
    from denial_risk.registry.tracking import export_model

    path, digest = export_model(model_uri, out, model_sha256)
    click.echo(f"exported {model_uri} to {path}")
    click.echo(f"model sha256: {digest}")
    click.echo(f"score with: --model {path} --model-sha256 {digest}")
