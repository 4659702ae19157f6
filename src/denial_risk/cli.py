"""The `denial-risk` command: a thin click group over the library.

Each command lives in `denial_risk.commands.<module>`; this file only
assembles them and turns the user's mistakes into exit codes with one line on
stderr instead of a traceback: `UserError` and bad options exit 2,
`PartialInputError` exits 1 (interface.md).
"""

from __future__ import annotations

import importlib
import sys

import click

from denial_risk.errors import PartialInputError, UserError

# command name -> (module under denial_risk.commands, attribute holding the click command).
# Loaded lazily, so `denial-risk validate` does not pay for importing MLflow.
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("simulate", "simulate"),
    "validate": ("validate", "validate"),
    "ingest-x12": ("ingest_x12", "ingest_x12"),
    "train": ("train", "train"),
    "evaluate": ("evaluate", "evaluate"),
    "export": ("export", "export"),
    "promote": ("promote", "promote"),
    "report": ("report", "report"),
    "score": ("score", "score"),
    "serve": ("serve", "serve"),
    "backtest": ("backtest", "backtest"),
    "monitor": ("monitor", "monitor"),
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"denial_risk.commands.{module}"), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="denial-risk")
def cli() -> None:
    """Predict which claim lines a payer will deny, and what to fix first."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exit codes 0 done, 1 some inputs unreadable, 2 user's mistake."""
    try:
        cli.main(args=argv, prog_name="denial-risk", standalone_mode=False)
    except click.UsageError as exc:
        where = f" (denial-risk {exc.ctx.info_name})" if exc.ctx and exc.ctx.parent else ""
        click.echo(f"error: {exc.format_message()}{where}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(UserError.exit_code)
    except PartialInputError as exc:
        click.echo(f"warning: {exc}", err=True)
        sys.exit(PartialInputError.exit_code)
