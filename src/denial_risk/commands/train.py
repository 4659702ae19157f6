"""`denial-risk train`: fit, evaluate on a later-dated holdout, log and register."""

from __future__ import annotations

import click

from denial_risk.commands.options import (
    config_option,
    data_option,
    engine_options,
    experiment_option,
    require_spark,
)


@click.command("train")
@data_option
@config_option
@experiment_option
@click.option(
    "--memory-budget",
    "memory_budget",
    default=None,
    metavar="SIZE",
    help="Memory the fit may use, e.g. 6GB (default: half the machine's RAM); a larger training "
    "period is sampled by time (the recent months, older denials up to half the budget, weighted "
    "older lines).",
)
@engine_options("read and validate the file")
def train(
    data: str,
    config: str | None,
    experiment: str | None,
    memory_budget: str | None,
    engine: str,
    master: str,
) -> None:
    """Fit features and a calibrated classifier on labelled claims; register the model."""
    if engine == "spark":
        require_spark()
    from denial_risk.jobs.train import train_and_register

    train_and_register(
        data,
        config_path=config,
        experiment=experiment,
        memory_budget=memory_budget,
        spark_master=master if engine == "spark" else None,
    )
