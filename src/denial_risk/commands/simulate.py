"""`denial-risk simulate`: a labelled synthetic claim table (the mechanism: `denial_risk.synth.simulate`)."""

from __future__ import annotations

import click


@click.command("simulate")
@click.option(
    "--rows", "rows", required=True, type=click.IntRange(min=0), help="Number of claim lines to write."
)
@click.option("--seed", "seed", required=True, type=int, help="Random seed (same seed, same file).")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file; the format follows the extension (.csv or .parquet).",
)
@click.option(
    "--start",
    "start",
    default="2024-01-01",
    show_default=True,
    help="First service date of the simulated period (YYYY-MM-DD).",
)
@click.option(
    "--months",
    "months",
    default=24,
    show_default=True,
    type=click.IntRange(min=1),
    help="Length of the simulated period in months.",
)
@click.option(
    "--world",
    "world",
    default="plain",
    show_default=True,
    type=click.Choice(["plain", "harder"]),
    help="The simulated world: plain, or harder (late rule changes, amount- and code-specific rules).",
)
@click.option(
    "--x12",
    "x12",
    default=None,
    type=click.Path(file_okay=False),
    help="Also write the claims as 837P and 835 files into this folder, with a team's reworks of the "
    "denials (replacement claims, reversals and re-adjudications: docs/rework.md).",
)
def simulate(rows: int, seed: int, out: str, start: str, months: int, world: str, x12: str | None) -> None:
    """Write labelled synthetic claim lines plus `true_denial_probability`."""
    import pandas as pd

    from denial_risk.errors import UserError
    from denial_risk.synth.simulate import contract_frame, simulate_claims
    from denial_risk.tableio import files

    files.file_format(out, option="--out")
    files.check_output(out)
    if x12 is not None:
        files.check_output(x12, option="--x12", folder=True)
    try:
        pd.Timestamp(start)
    except ValueError:
        raise UserError(f"--start {start}: not a date (use YYYY-MM-DD)") from None
    rework_world = None
    if x12 is None:
        frame = simulate_claims(rows, seed, start=start, months=months, world=world)
    else:  # the same claims, their denials worked by a team (synth/rework.py), for the X12 files
        from denial_risk.synth.rework_team import simulate_rework

        rework_world = simulate_rework(rows, seed, start=start, months=months, world=world)
        frame = rework_world.frame.drop(columns="adjudication_date")
    files.write_table(contract_frame(frame), out, option="--out")
    rate = float(frame["denied"].mean()) if len(frame) else 0.0
    click.echo(f"wrote {len(frame):,} claim lines to {out} (denial rate {rate:.1%})")
    if x12 is not None:
        from pathlib import Path

        from denial_risk.synth.rework_x12 import write_rework_x12

        folder = Path(x12)
        written = write_rework_x12(rework_world, folder)
        claims = written["claims"] + written.get("rework_claims", [])
        remits = written["remits"] + written.get("rework_remits", [])
        click.echo(
            f"wrote {len(claims)} 837P and {len(remits)} 835 files to {folder} "
            "(the first claims and remits, then the reworks: replacement claims, reversals)"
        )
