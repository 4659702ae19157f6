"""`denial-risk evaluate`: a model's metrics on labelled data, printed and logged."""

from __future__ import annotations

import click

from denial_risk.commands.options import data_option, experiment_option, model_option, model_sha256_option


@click.command("evaluate")
@data_option
@model_option
@model_sha256_option
@experiment_option
def evaluate(data: str, model_uri: str, model_sha256: str | None, experiment: str | None) -> None:
    """Metrics of a model on labelled claims (all lines are treated as holdout)."""
    from denial_risk.jobs.train import evaluate_model

    evaluate_model(data, model_uri, model_sha256=model_sha256, experiment=experiment)
