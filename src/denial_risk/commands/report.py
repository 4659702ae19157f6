"""`denial-risk report`: a single-file HTML report of a scored worklist."""

from __future__ import annotations

import click

from denial_risk.commands.options import model_sha256_option, report_model_option


@click.command("report")
@click.option(
    "--scored",
    "scored",
    required=True,
    type=click.Path(dir_okay=False),
    help="Scored worklist from `denial-risk score` (.csv or .parquet).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="HTML file to write (self-contained: charts and styles inline).",
)
@click.option("--title", "title", default=None, help="Report title (default: named after the scored file).")
@click.option(
    "--top",
    "top",
    default=50,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worklist lines shown, in risk_rank order.",
)
@report_model_option
@model_sha256_option
@click.option(
    "--rework",
    "rework",
    default=None,
    type=click.Path(dir_okay=False),
    help="A queue from `denial-risk rework`: adds a section of dollars recoverable by action and "
    "deadline week, and the queue's first lines.",
)
def report(
    scored: str,
    out: str,
    title: str | None,
    top: int,
    model_uri: str | None,
    model_sha256: str | None,
    rework: str | None,
) -> None:
    """Write a single-file HTML worklist report with charts, to open or mail."""
    from denial_risk.report.html import build_report
    from denial_risk.tableio.files import check_output

    check_output(out)
    found = None
    if model_uri is not None:
        from denial_risk.registry import tracking

        model = tracking.load_model(model_uri, model_sha256)
        found = list(getattr(getattr(model, "fix_effects", None), "changes", None) or [])
    path = build_report(scored, out, title=title, top=top, changes=found, rework=rework)
    click.echo(f"report written to {path}")
