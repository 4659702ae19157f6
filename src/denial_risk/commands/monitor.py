"""`denial-risk monitor`: drift of a scored backlog and, with remits, predicted vs realised."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_option, model_sha256_option


@click.command("monitor")
@click.option(
    "--scored",
    "scored",
    required=True,
    type=click.Path(dir_okay=False),
    help="A worklist written by `denial-risk score`.",
)
@click.option(
    "--remits",
    "remits",
    default=None,
    type=click.Path(dir_okay=False),
    help="Labelled lines from `ingest-x12` (the payer's 835s) for the same claims.",
)
@model_option
@model_sha256_option
def monitor(scored: str, remits: str | None, model_uri: str, model_sha256: str | None) -> None:
    """Population stability per feature; predicted versus realised denial rate once remits return."""
    from denial_risk.jobs.monitor import monitor as run_monitor

    result = run_monitor(scored, model_uri, remits, model_sha256=model_sha256)
    lines = result.change_lines()
    click.echo(f"payer rule changes detected in the remits: {len(lines)}" + (":" if lines else ""))
    for line in lines:
        click.echo(f"  {line}")
