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
    help="Also write the claims as 837P and 835 files into this folder.",
)
def simulate(rows: int, seed: int, out: str, start: str, months: int, world: str, x12: str | None) -> None:
    """Write labelled synthetic claim lines plus `true_denial_probability`."""
    import pandas as pd

    from denial_risk.claims import files
    from denial_risk.errors import UserError
    from denial_risk.synth.simulate import contract_frame, simulate_claims

    files.file_format(out, option="--out")
    files.check_output(out)
    if x12 is not None:
        files.check_output(x12, option="--x12", folder=True)
    try:
        pd.Timestamp(start)
    except ValueError:
        raise UserError(f"--start {start}: not a date (use YYYY-MM-DD)") from None
    frame = simulate_claims(rows, seed, start=start, months=months, world=world)
    files.write_table(contract_frame(frame), out, option="--out")
    rate = float(frame["denied"].mean()) if len(frame) else 0.0
    click.echo(f"wrote {len(frame):,} claim lines to {out} (denial rate {rate:.1%})")
    if x12 is not None:
        from pathlib import Path

        from denial_risk.x12.write import write_835, write_837p

        folder = Path(x12)
        folder.mkdir(parents=True, exist_ok=True)
        claims = write_837p(frame, folder / "claims.837")
        remits = write_835(frame, folder / "remits.835")
        click.echo(f"wrote {len(claims)} 837P and {len(remits)} 835 files to {folder}")
