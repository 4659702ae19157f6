"""Options shared by several commands, defined once (MLflow CLI style)."""

from __future__ import annotations

import click

DEFAULT_MODEL_URI = "models:/denial-risk@champion"

data_option = click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False),
    help="Claim file, .csv or .parquet (docs/claims.md).",
)
out_option = click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file; the format follows the extension (.csv or .parquet).",
)
model_option = click.option(
    "--model",
    "model_uri",
    default=DEFAULT_MODEL_URI,
    show_default=True,
    help="Registered model URI (models:/denial-risk@champion) or an exported model folder.",
)
report_model_option = click.option(
    "--model",
    "model_uri",
    default=None,
    help="Optional: a registered model URI or an exported model folder; the report then lists the payer "
    "rule changes the model found in its remits.",
)
model_sha256_option = click.option(
    "--model-sha256",
    "model_sha256",
    default=None,
    metavar="HEX",
    help="For a model folder: the digest `denial-risk export` printed; the model loads only if every "
    "file matches it (registry models are checked against the digest recorded at registration).",
)
experiment_option = click.option(
    "--experiment",
    "experiment",
    default=None,
    help="MLflow experiment name (default: MLFLOW_EXPERIMENT_NAME if set, else one for the project: "
    "denial-risk; for backtest, denial-risk/backtest).",
)
config_option = click.option(
    "--config",
    "config",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML file; its [features] table may name extra feature columns.",
)

as_of_option = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="The day the worklist is worked (default: today): a line whose service date is after it is "
    "not yet delivered, so fixes that must precede delivery are still offered.",
)

by_option = click.option(
    "--by",
    "by",
    type=click.Choice(["line", "claim"]),
    default="line",
    show_default=True,
    help="What --top prints: worklist lines, or claims (the claim worklist beside the output).",
)


def engine_options(what: str):
    """`--engine local|spark` and `--master`, for a command whose `what` can run on Spark."""

    def wrap(f):
        f = click.option(
            "--master",
            "master",
            default="local[*]",
            show_default=True,
            help="Spark master for --engine spark: local[*], spark://host:7077, yarn, k8s://...",
        )(f)
        return click.option(
            "--engine",
            type=click.Choice(["local", "spark"]),
            default="local",
            show_default=True,
            help=f"local: {what} on this machine; spark: on a Spark cluster (the 'spark' extra).",
        )(f)

    return wrap


def x12_paths_option(flag: str, help: str):
    """`--claims` (837) or `--remits` (835): files or folders, several after one flag (the command's class
    must be `MultiPathCommand`), or the flag repeated."""
    return click.option(
        flag, flag.lstrip("-"), multiple=True, type=click.Path(), metavar="PATH...", help=help
    )


def require_spark() -> None:
    """`--engine spark` without pyspark installed: one line, exit 2."""
    import importlib.util

    from denial_risk.errors import UserError

    if importlib.util.find_spec("pyspark") is None:
        raise UserError("--engine spark: needs the 'spark' extra (pip install 'denial-risk[spark]')")
