"""`denial-risk backtest`: rolling monthly backtest, each fold a nested MLflow run."""

from __future__ import annotations

import click

from denial_risk.commands.options import config_option, data_option, experiment_option


@click.command("backtest")
@data_option
@click.option(
    "--folds",
    "folds",
    type=click.IntRange(1, 60),
    default=6,
    show_default=True,
    help="How many of the latest months to test, one fold each.",
)
@config_option
@experiment_option
def backtest(data: str, folds: int, config: str | None, experiment: str | None) -> None:
    """Train on months up to t, test on month t+1, for the last K months."""
    from denial_risk.claims.table import ClaimTable, load_claims
    from denial_risk.jobs.backtest import run_backtest
    from denial_risk.modeling.config import load_config

    cfg = load_config(config)
    cfg.check_columns(ClaimTable(data).columns, data)
    frame, _ = load_claims(data)
    if "denied" not in frame.columns or frame["denied"].notna().sum() == 0:
        from denial_risk.errors import UserError

        raise UserError(f"--data {data}: no labels (column 'denied' is missing or empty)")
    table = run_backtest(frame, folds, cfg, experiment=experiment or "denial-risk/backtest")
    cols = [
        "test_month",
        "train_lines",
        "test_lines",
        "retrained_roc_auc",
        "frozen_roc_auc",
        "retrained_ece",
        "retrained_dollars_caught_top10",
    ]
    click.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
