"""`denial-risk promote`: champion/challenger on the same holdout, or rollback."""

from __future__ import annotations

import math

import click


def _finite(ctx, param, value: float) -> float:
    """NaN compares false with everything, so `--margin nan` would let any challenger pass or fail."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of AUC points (e.g. 0.005)")
    return value


@click.command("promote")
@click.option(
    "--margin",
    type=float,
    default=0.005,
    callback=_finite,
    show_default=True,
    help="AUC gain the challenger needs over the champion.",
)
@click.option(
    "--version",
    "version",
    type=str,
    default=None,
    help="Make this registered version @champion without a comparison (an earlier one: a rollback).",
)
@click.option(
    "--data",
    "data",
    type=click.Path(dir_okay=False),
    default=None,
    help="Labelled claims holding the holdout (default: the challenger's training file).",
)
def promote(margin: float, version: str | None, data: str | None) -> None:
    """Make @challenger the @champion when it wins on the same later-dated holdout."""
    from denial_risk.jobs.promote import promote as run_promote

    run_promote(margin=margin, version=version, data=data)
