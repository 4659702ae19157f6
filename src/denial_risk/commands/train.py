"""`denial-risk train`: fit, evaluate on a later-dated holdout, log and register."""

from __future__ import annotations

import click

from denial_risk.commands.options import config_option, data_option, experiment_option


@click.command("train")
@data_option
@config_option
@experiment_option
def train(data: str, config: str | None, experiment: str | None) -> None:
    """Fit features and a calibrated classifier on labelled claims; register the model."""
    from denial_risk.jobs.train import train_and_register

    train_and_register(data, config_path=config, experiment=experiment)
