"""`denial-risk serve`: real-time scoring over HTTP (MLflow's scoring server)."""

from __future__ import annotations

import os

import click

from denial_risk.commands.options import model_option, model_sha256_option

DEFAULT_MAX_LINES = 10_000  # = registry.serving.DEFAULT_MAX_LINES (not imported: --help stays light)
DEFAULT_MAX_BYTES = 16 * 2**20


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
    default=_cores,
    show_default="the core count",
    type=click.IntRange(1, 64),
    help="Scoring server worker processes (each loads the model).",
)
@click.option(
    "--max-request-lines",
    "max_lines",
    default=DEFAULT_MAX_LINES,
    show_default=True,
    type=click.IntRange(1),
    help="Claim lines a request may hold; more is answered 413.",
)
@click.option(
    "--max-request-bytes",
    "max_bytes",
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    type=click.IntRange(1),
    help="Bytes a request body may hold; more is answered 413 before it is read whole.",
)
@model_option
@model_sha256_option
def serve(
    port: int,
    host: str,
    workers: int,
    max_lines: int,
    max_bytes: int,
    model_uri: str,
    model_sha256: str | None,
) -> None:
    """Score claim lines over HTTP: POST /invocations (dataframe_split or dataframe_records
    of the contract's columns) returns each line's added columns, top-3 predicted CARCs,
    or its reject_reason; GET /ping answers when ready."""
    from denial_risk.registry.serving import serve as run

    raise SystemExit(
        run(
            model_uri,
            sha256=model_sha256,
            host=host,
            port=port,
            workers=workers,
            max_lines=max_lines,
            max_bytes=max_bytes,
        )
    )
