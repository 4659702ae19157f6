"""`denial-risk monitor`: drift of a scored backlog and, with remits, predicted vs realised."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_option, model_sha256_option


@click.command("monitor")
@click.option(
    "--scored",
    "scored",
    default=None,
    type=click.Path(dir_okay=False),
    help="A worklist written by `denial-risk score` (or give --rework).",
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
@click.option(
    "--rework",
    "rework",
    default=None,
    type=click.Path(dir_okay=False),
    help="A queue from `denial-risk rework`: with --remits (the later labelled table), predicted "
    "versus realised recovery (docs/rework.md).",
)
def monitor(
    scored: str | None, remits: str | None, model_uri: str, model_sha256: str | None, rework: str | None
) -> None:
    """Population stability per feature; predicted versus realised denial rate once remits return."""
    from denial_risk.errors import UserError

    if scored is None and rework is None:
        raise UserError("give --scored (a worklist) or --rework (a rework queue)")
    if rework is not None and remits is None:
        raise UserError("--rework needs --remits: the later labelled table (ingest-x12) to compare with")
    if scored is not None:
        from denial_risk.jobs.monitor import monitor as run_monitor

        result = run_monitor(scored, model_uri, remits, model_sha256=model_sha256)
        lines = result.change_lines()
        click.echo(f"payer rule changes detected in the remits: {len(lines)}" + (":" if lines else ""))
        for line in lines:
            click.echo(f"  {line}")
    if rework is not None:
        from denial_risk.jobs.rework_monitor import monitor_rework

        monitor_rework(rework, remits)
