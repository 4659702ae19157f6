"""`denial-risk ingest-x12`: 837 claims and 835 remittances into the contract's table."""

from __future__ import annotations

import time

import click

from denial_risk.commands.options import x12_paths_option
from denial_risk.errors import PartialInputError, UserError
from denial_risk.tableio.files import file_format

MULTI_PATH_OPTIONS = ("--claims", "--remits")


class MultiPathCommand(click.Command):
    """A command whose multi-path options take every path that follows them.

    `--remits a.835 b.835 --claims c.837` reads as `--remits a.835 --remits b.835
    --claims c.837`, so a shell glob after one flag works and the flag stays
    repeatable. A path that begins with `-` can be given as `--remits=-odd.835`.
    Rewriting the argument list before click parses it keeps to click's public
    API (`Command.parse_args`).
    """

    multi_path_options: tuple[str, ...] = MULTI_PATH_OPTIONS

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_paths(args, self.multi_path_options))


def expand_multi_paths(args: list[str], options: tuple[str, ...]) -> list[str]:
    """Repeat the flag before each extra value that follows one of `options` (up to the next option)."""
    out: list[str] = []
    current: str | None = None  # the multi-path option whose values are being read
    taken = 0
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        if arg.startswith("-") and arg != "-":
            name = arg.split("=", 1)[0]
            current = name if name in options and "=" not in arg else None
            taken = 0
            out.append(arg)
        elif current is not None:
            out.extend([arg] if taken == 0 else [current, arg])
            taken += 1
        else:
            out.append(arg)
    return out


@click.command("ingest-x12", cls=MultiPathCommand)
@x12_paths_option(
    "--claims", "837 claim files or folders; several after one flag (shell globs work), or the flag repeated."
)
@x12_paths_option(
    "--remits", "835 remittance files or folders; several after one flag, or the flag repeated."
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Labelled table (.csv or .parquet); claims without a remit go to <out>.unlabelled.<ext>.",
)
@click.option(
    "--strict",
    "strict",
    is_flag=True,
    default=False,
    help="Reject a whole file for any envelope or count defect (SE01, GE01, IEA01, control numbers, "
    "a missing ISA/GS or trailer) instead of reading its complete claims with a warning.",
)
@click.option(
    "--validate",
    "validate",
    is_flag=True,
    default=False,
    help="Also run pyx12's implementation-guide validation on every file and report its findings "
    "as warnings (slow; never stops ingestion).",
)
def ingest_x12(
    claims: tuple[str, ...], remits: tuple[str, ...], out: str, strict: bool, validate: bool
) -> None:
    """Read 837 claims and 835 remittances (files or folders) into the claim table."""
    from denial_risk.x12.ingest import ingest, write_outputs

    if not claims and not remits:
        raise UserError("give at least one --claims or --remits file or folder")
    file_format(out, option="--out")
    start = time.perf_counter()
    result = ingest(claims, remits, strict=strict)
    written = write_outputs(result, out)
    _echo_counts(result, written, time.perf_counter() - start)
    if validate:
        _guide_validation(claims, remits)
    _echo_issues(result, written)
    bad, dropped, lines = result.bad_files, result.dropped_claims, result.dropped_lines
    if bad or dropped or lines:
        raise PartialInputError(
            f"{len(bad)} input file(s) could not be read, {len(dropped)} claim(s) and "
            f"{len(lines)} remit line(s) were dropped "
            f"(listed in {written['errors']}); everything else was written"
        )


def _echo_counts(result, written: dict, seconds: float) -> None:
    c = result.counts
    click.echo(
        f"read {c.get('files', 0)} files ({c.get('bad_files', 0)} unreadable, "
        f"{c.get('files_with_warnings', 0)} with warnings) in {seconds:.1f}s: "
        f"{c.get('claims', 0)} claims / {c.get('claim_lines', 0)} claim lines, "
        f"{c.get('remit_claims', 0)} remitted claims / {c.get('remit_lines', 0)} remit lines"
        + (f"; {c['claims_dropped']} claims dropped" if c.get("claims_dropped") else "")
        + (f"; {c['remit_lines_dropped']} remit lines dropped" if c.get("remit_lines_dropped") else "")
    )
    matched = {k[len("matched_lines_by_") :]: v for k, v in c.items() if k.startswith("matched_lines_by_")}
    click.echo(
        f"matched lines: {sum(matched.values())} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(matched.items())) or 'none'}); "
        f"unmatched claim lines: {c.get('unmatched_claim_lines', 0)}; "
        f"unmatched remit lines: {c.get('unmatched_remit_lines', 0)}"
    )
    if c.get("reversals_applied") or c.get("reversals_without_original"):
        click.echo(
            f"reversals: {c.get('reversals_applied', 0)} cancelled their original, "
            f"{c.get('reversals_without_original', 0)} without an original in these files (dropped)"
        )
    if c.get("claims_with_icd9_diagnoses"):
        click.echo(
            f"ICD-9-CM diagnoses (BK/BF) on {c['claims_with_icd9_diagnoses']} claims: "
            "kept in icd9_diagnosis_codes, not in diagnosis_codes"
        )
    if result.duplicates:
        click.echo(
            f"duplicated claim ids: {c.get('duplicate_claim_ids_in_claims', 0)} in claims, "
            f"{c.get('duplicate_claim_ids_in_remits', 0)} in remits; kept apart as <id>#2, <id>#3 "
            f"(listed in {written['summary']})"
        )
    for name in ("labelled", "unlabelled"):
        if name in written:
            rows = len(result.labelled if name == "labelled" else result.unlabelled)
            click.echo(f"{name}: {rows} rows -> {written[name]}")
    click.echo(f"summary -> {written['summary']}; warnings and errors -> {written['errors']}")


def _where(issue) -> str:
    at = f" segment {issue.segment}" if issue.segment is not None else ""
    return f"{issue.file}{at}"


def _echo_issues(result, written: dict, limit: int = 20) -> None:
    warnings = result.warnings
    for w in warnings[:limit]:
        click.echo(f"warning: {_where(w)}: {w.message}", err=True)
    if len(warnings) > limit:
        click.echo(f"warning: ... {len(warnings) - limit} more in {written['errors']}", err=True)
    for e in result.errors:
        label = "bad file" if e.segment is None and e.claim_id is None else "dropped"
        click.echo(f"{label}: {_where(e)}: {e.message}", err=True)


def _guide_validation(claims: tuple[str, ...], remits: tuple[str, ...]) -> None:
    from denial_risk.x12.guide_check import validate_file
    from denial_risk.x12.ingest import collect_files

    for f in collect_files(claims, "--claims") + collect_files(remits, "--remits"):
        ok, messages = validate_file(f)
        if not ok:
            click.echo(
                f"guide: {f}: {len(messages)} findings, first: {messages[0] if messages else '?'}",
                err=True,
            )
