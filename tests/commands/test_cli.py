"""The command table: every command of interface.md is there and loads."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from denial_risk.cli import COMMANDS, cli

INTERFACE = (
    "simulate",
    "validate",
    "train",
    "evaluate",
    "export",
    "promote",
    "backtest",
    "score",
    "report",
    "ingest-x12",
    "serve",
)


def test_every_interface_command_is_registered():
    assert set(INTERFACE) <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_and_has_help(name):
    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_unknown_command_exits_2_with_one_line(capsys):
    from denial_risk.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frobnicate" in err[0]
