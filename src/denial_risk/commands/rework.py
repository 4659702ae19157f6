"""`denial-risk rework`: the denial rework queue (library: `denial_risk.rework`, job: `jobs.rework`)."""

from __future__ import annotations

import click

from denial_risk.commands.ingest_x12 import MultiPathCommand
from denial_risk.commands.options import model_sha256_option, out_option, x12_paths_option


@click.command("rework", cls=MultiPathCommand)
@click.option(
    "--data",
    "data",
    default=None,
    type=click.Path(dir_okay=False),
    help="Labelled claim table (.csv or .parquet) with `denied`, `denial_reason` and, when known, "
    "`remark_codes` and `adjudication_date` (ingest-x12 writes them).",
)
@x12_paths_option("--remits", "835 files or folders, read as ingest-x12 reads them (instead of --data).")
@x12_paths_option("--claims", "837 files or folders that go with --remits (the lines' full facts).")
@out_option
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="DATE",
    help="The day deadlines and days_left count from (YYYY-MM-DD; default today).",
)
@click.option(
    "--model",
    "model_uri",
    default=None,
    metavar="URI",
    help="A registered rework model (models:/denial-risk-rework@champion); default: the rules' prior.",
)
@model_sha256_option
@click.option(
    "--history",
    "history",
    default=None,
    type=click.Path(dir_okay=False),
    help="A labelled table with linked reworks (ingest-x12): fit the recovery model on it, register "
    "it as denial-risk-rework and use it.",
)
def rework(
    data: str | None,
    remits: tuple[str, ...],
    claims: tuple[str, ...],
    out: str,
    as_of: str | None,
    model_uri: str | None,
    model_sha256: str | None,
    history: str | None,
) -> None:
    """Rank the denied lines: action, deadline, recovery probability, expected recovery."""
    from denial_risk.errors import PartialInputError
    from denial_risk.jobs.rework import run_rework, summary_lines

    result = run_rework(
        out,
        data=data,
        remits=remits,
        claims=claims,
        as_of=as_of,
        model_uri=model_uri,
        model_sha256=model_sha256,
        history=history,
    )
    for line in summary_lines(result):
        click.echo(line)
    click.echo(f"queue -> {out}")
    if result.lost_files:
        raise PartialInputError(
            f"{result.lost_files} X12 file(s) or claim(s) could not be read (named above); "
            f"the queue of the rest is in {out}"
        )
