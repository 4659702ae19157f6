"""`denial-risk serve`: real-time scoring over HTTP (MLflow's scoring server)."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_option


@click.command("serve")
@click.option(
    "--port",
    "port",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--host",
    "host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default answers only this machine (the service has no authentication).",
)
@click.option(
    "--workers",
    "workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Scoring server worker processes.",
)
@model_option
def serve(port: int, host: str, workers: int, model_uri: str) -> None:
    """Score claim lines over HTTP: POST /invocations (dataframe_split or dataframe_records
    of the contract's columns) returns each line's added columns, top-3 predicted CARCs,
    or its reject_reason; GET /ping answers when ready."""
    from denial_risk.registry.serving import serve as run

    raise SystemExit(run(model_uri, host=host, port=port, workers=workers))
