"""The `denial-risk` command: a thin click group over the library.

Each command lives in `denial_risk.commands.<module>`; this file only lists
them (in the order a user meets them, with an example each), sets up logging
(`-v` / `-q`), and turns the user's mistakes into exit codes with one line on
stderr instead of a traceback: `UserError` and bad options exit 2,
`PartialInputError` exits 1, and an OS error is one line naming the file, exit 2
or 1 (`errors.os_error_exit`: the user's path, or the machine) (docs/cli.md). `denial-risk --help` imports no
command module, so it answers at once.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from typing import NamedTuple

import click

from denial_risk.errors import PartialInputError, UserError, os_error_exit


class Entry(NamedTuple):
    module: str  # under denial_risk.commands; the click command is the attribute of the same name
    summary: str
    example: str


# In workflow order: what a user runs first comes first.
COMMANDS: dict[str, Entry] = {
    "simulate": Entry(
        "simulate",
        "write a labelled synthetic claim table (and X12 files)",
        "denial-risk simulate --rows 200000 --seed 1 --out claims.parquet",
    ),
    "validate": Entry(
        "validate",
        "check a claim file against the contract; write the rejected rows",
        "denial-risk validate --data claims.csv --rejects claims.rejects.csv",
    ),
    "train": Entry(
        "train",
        "fit, evaluate on a later holdout, log to MLflow, register the model",
        "denial-risk train --data claims.csv --config features.toml",
    ),
    "evaluate": Entry(
        "evaluate",
        "metrics of a model on labelled claims, printed and logged",
        "denial-risk evaluate --data later.csv --model models:/denial-risk@challenger",
    ),
    "promote": Entry(
        "promote",
        "make @challenger the @champion when it wins; --version rolls back",
        "denial-risk promote --margin 0.005",
    ),
    "score": Entry(
        "score",
        "score a backlog into a ranked worklist with reasons and fixes",
        "denial-risk score --data backlog.csv --out worklist.parquet --top 10",
    ),
    "report": Entry(
        "report",
        "a single-file HTML report of a scored worklist",
        "denial-risk report --scored worklist.parquet --out report.html",
    ),
    "ingest-x12": Entry(
        "ingest_x12",
        "837 claims and 835 remittances into the claim table",
        "denial-risk ingest-x12 --claims x12/837/ --remits x12/835/ --out labelled.parquet",
    ),
    "rework": Entry(
        "rework",
        "rank the denied lines: action, deadline, recovery probability, expected recovery",
        "denial-risk rework --data labelled.parquet --out rework.csv --as-of 2026-03-01",
    ),
    "export": Entry(
        "export",
        "copy a registered model into a folder that scores offline",
        "denial-risk export --model models:/denial-risk@champion --out models/denial-risk-v1",
    ),
    "serve": Entry(
        "serve",
        "real-time scoring over HTTP on 127.0.0.1 (MLflow's scoring server)",
        "denial-risk serve --port 5001",
    ),
    "backtest": Entry(
        "backtest",
        "rolling monthly backtest, each fold a nested MLflow run",
        "denial-risk backtest --data claims.csv --folds 6",
    ),
    "monitor": Entry(
        "monitor",
        "drift of a scored backlog; predicted vs realised once remits return",
        "denial-risk monitor --scored worklist.parquet --remits labelled.parquet",
    ),
}


class _Console(logging.Handler):
    """Library log records as plain lines: information to stdout, warnings and errors to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if record.levelno >= logging.WARNING:
                click.echo(f"{record.levelname.lower()}: {msg}", err=True)
            else:
                click.echo(msg)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure_logging(verbosity: int = 0) -> None:
    """`denial_risk` logs as plain lines; MLflow's own logs only with -v (its warnings always)."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    logger = logging.getLogger("denial_risk")
    logger.handlers = [_Console()]
    logger.setLevel(level)
    logger.propagate = False
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbosity > 0 else "WARNING")
    if not _is_terminal(sys.stderr):  # MLflow's "Downloading artifacts" bars: only for a person watching
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if not getattr(warnings.showwarning, "_denial_risk", False):
        warnings.showwarning = _without_type_hint_nag(warnings.showwarning)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed
        return False


_TYPE_HINT_NAG = "Add type hints to the `predict` method"


def _without_type_hint_nag(show):
    """MLflow 3 warns in three lines on every load of a model whose `predict` has no type hints
    (models trained before registry/pyfunc.py had them), under its own `simplefilter("once")`, so a
    warnings filter cannot reach it; it is dropped where warnings are shown."""

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if _TYPE_HINT_NAG in str(message):
            return
        show(message, category, filename, lineno, file, line)

    showwarning._denial_risk = True
    return showwarning


class LazyGroup(click.Group):
    """Commands in workflow order, imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = COMMANDS[name].module
        return getattr(importlib.import_module(f"denial_risk.commands.{module}"), module)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        width = max(len(n) for n in COMMANDS)
        with formatter.section("Commands, in the order of the work"):
            for name, entry in COMMANDS.items():  # written as is: an example must not wrap
                formatter.write(f"{'':>{formatter.current_indent}}{name.ljust(width)}  {entry.summary}\n")
                formatter.write(f"{'':>{formatter.current_indent}}{'':{width}}  $ {entry.example}\n")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="denial-risk")
@click.option("-v", "--verbose", "verbose", count=True, help="More detail (also MLflow's own messages).")
@click.option("-q", "--quiet", "quiet", count=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: int) -> None:
    """Predict which claim lines a payer will deny, and what to fix first.

    Exit codes: 0 done; 1 done, but some input files could not be read;
    2 your mistake (one line naming the file, column, option or key).
    """
    configure_logging(verbose - quiet)


def _terminated(signum, frame):  # pragma: no cover - exercised by a signal (tests/security)
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: temporary files and copies are removed


@contextlib.contextmanager
def _terminate_like_ctrl_c():
    """SIGTERM and SIGHUP unwind the command from its first line (a model being copied or loaded,
    a `.partial` being written), so what it made is removed; the handlers before are restored."""
    signals = [signal.SIGTERM, signal.SIGHUP]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _terminated) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: exit codes 0 done, 1 some inputs unreadable, 2 user's mistake."""
    try:
        with _terminate_like_ctrl_c():
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
    except OSError as exc:  # an output that cannot be written, an input that cannot be opened
        line, code = os_error_exit(exc)
        click.echo(f"error: {line}", err=True)
        sys.exit(code)


if __name__ == "__main__":  # python -m denial_risk.cli
    main()
