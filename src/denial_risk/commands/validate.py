"""`denial-risk validate`: counts per reject reason, rejected rows to a file."""

from __future__ import annotations

import click

from denial_risk.claims.contract_check import validate_file
from denial_risk.commands.options import data_option
from denial_risk.tableio.files import file_format


@click.command("validate")
@data_option
@click.option(
    "--rejects",
    "rejects",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the rejected rows with their reject_reason (.csv or .parquet).",
)
def validate(data: str, rejects: str) -> None:
    """Check a claim file against the contract; write the rows that cannot be scored."""
    file_format(rejects, option="--rejects")
    result = validate_file(data, rejects)
    click.echo(f"{result.rows} rows: {result.scorable} scorable, {result.rejected} rejected")
    for reason, count in result.reasons.most_common():
        click.echo(f"  {count:>8}  {reason}")
    click.echo(f"rejects written to {rejects}")
