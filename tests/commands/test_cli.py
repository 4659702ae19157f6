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


def test_help_imports_no_command_and_no_data_library():
    """`denial-risk --help` answers from the command table: no pandas, pyarrow, MLflow or command module."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from denial_risk.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'mlflow', 'sklearn') if m in sys.modules]\n"
        "mods = [m for m in sys.modules if m.startswith('denial_risk.commands.')]\n"
        "print('HEAVY', heavy, mods)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "HEAVY [] []" in out, out[-500:]
    # in the order of the work, each with an example
    listing = out.split("Commands, in the order of the work:", 1)[1].splitlines()
    names = [
        line.split()[0] for line in listing if line.startswith("  ") and not line.strip().startswith("$")
    ]
    assert names[:4] == ["simulate", "validate", "train", "evaluate"]
    assert out.count("  $ denial-risk ") == len(names) == 13  # the 13 of the CLI contract


def test_mlflows_type_hint_nag_is_dropped_and_other_warnings_are_not():
    """MLflow warns in three lines on loading a model trained before `predict` had type hints, under
    its own simplefilter("once"); the CLI drops that one warning where warnings are shown."""
    import warnings

    from denial_risk.cli import _without_type_hint_nag

    shown = []
    show = _without_type_hint_nag(lambda message, *a, **k: shown.append(str(message)))
    show(
        UserWarning("\x1b[33mAdd type hints to the `predict` method to enable data validation"),
        UserWarning,
        "f",
        1,
    )
    show(UserWarning("something else"), UserWarning, "f", 1)
    assert shown == ["something else"]
    from denial_risk.cli import configure_logging

    configure_logging(0)
    configure_logging(0)  # once, however many times the group runs in a process
    assert getattr(warnings.showwarning, "_denial_risk", False)
    inner = [c.cell_contents for c in warnings.showwarning.__closure__ if callable(c.cell_contents)]
    assert inner and not any(getattr(f, "_denial_risk", False) for f in inner)  # not wrapped twice


def test_no_artifact_progress_bars_off_a_terminal(monkeypatch, capsys):
    """MLflow draws "Downloading artifacts" bars on every model load; off a terminal (a log, a pipe,
    cron) they are noise, so the CLI turns them off unless the user set the variable."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    from denial_risk.cli import configure_logging

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    configure_logging(0)  # stderr is pytest's capture: not a terminal
    assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")  # the user's own choice stands
    configure_logging(0)
    assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is True
