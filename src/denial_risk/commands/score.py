"""`denial-risk score`: the worklist, the input plus the contract's added columns, ranked file-wide."""

from __future__ import annotations

import click

from denial_risk.commands.options import (
    as_of_option,
    by_option,
    data_option,
    engine_options,
    model_option,
    model_sha256_option,
    out_option,
    require_spark,
)


@click.command("score")
@data_option
@out_option
@model_option
@model_sha256_option
@engine_options("stream the file in chunks")
@click.option(
    "--top",
    "top",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also print the first N worklist lines (or claims, with --by claim) as a table.",
)
@by_option
@click.option(
    "--explain-top",
    "explain_top",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Reasons and fixes for the N lines ranked first by expected loss "
    "(default: for the lines at or above the medium risk tier).",
)
@click.option(
    "--explain-all",
    "explain_all",
    is_flag=True,
    default=False,
    help="Reasons and fixes for every line (slower: each line is explained).",
)
@as_of_option
@click.option(
    "--progress/--no-progress",
    "progress",
    default=None,
    help="Progress bar on stderr (default: only when stderr is a terminal).",
)
def score(
    data: str,
    out: str,
    model_uri: str,
    model_sha256: str | None,
    engine: str,
    master: str,
    top: int,
    by: str,
    explain_top: int | None,
    explain_all: bool,
    as_of,
    progress: bool | None,
) -> None:
    """Score a claim backlog into a ranked worklist (rejects beside the output)."""
    from denial_risk.scoring.explain import ExplainPolicy

    as_of = None if as_of is None else as_of.date()
    policy = ExplainPolicy.choose(
        explain_top=explain_top, explain_all=explain_all, as_of=as_of
    )  # both: exit 2

    if engine == "spark":
        require_spark()
        from denial_risk.jobs.spark_claims import score_spark_with_claims

        done = score_spark_with_claims(
            data, out, model_uri, master=master, model_sha256=model_sha256, explain=policy
        )
        _echo_replaced(data, done["replaced_columns"])
        for line in done["reject_counts"].lines():
            click.echo(f"  rejected: {line}")
        return
    from denial_risk.scoring.worklist import open_checked

    opened = open_checked(data, out)  # a bad file, column or output name stops here, before the model loads
    from denial_risk.registry.tracking import load_model
    from denial_risk.scoring.printout import format_summary, format_top
    from denial_risk.scoring.worklist import score_file

    model = load_model(model_uri, model_sha256)  # SIGTERM unwinds from the first line (cli.main)
    result = score_file(
        data,
        out,
        model,
        top=top,
        progress=progress,
        policy=policy,  # built once, above: both engines take the same one
        opened=opened,
    )
    _echo_replaced(data, result.replaced_columns)
    if result.drift_warning:
        click.echo(f"warning: {result.drift_warning}", err=True)
    for line in format_summary(result):
        click.echo(line)
    if top and by == "claim" and result.claims is not None:
        from denial_risk.scoring.printout import format_claim_top

        click.echo("")
        click.echo(f"first {min(top, result.claims.claims)} claims:")
        for line in format_claim_top(result.claims.top):
            click.echo(line)
    elif top:
        click.echo("")
        click.echo(f"first {min(top, result.scored)} worklist lines:")
        for line in format_top(result.top):
            click.echo(line)


def _echo_replaced(data: str, replaced: list[str]) -> None:
    """A scored file scored again: one line, the same on both engines."""
    if replaced:
        click.echo(
            f"warning: --data {data} is already scored: its columns {', '.join(replaced)} are replaced "
            "by the new score",
            err=True,
        )
