"""`denial-risk ingest-x12`: 837 claims and 835 remittances into the contract's table."""

from __future__ import annotations

import time

import click

from denial_risk.claims.files import file_format
from denial_risk.errors import PartialInputError, UserError


@click.command("ingest-x12")
@click.option(
    "--claims", "claims", multiple=True, type=click.Path(), help="837 claim file or folder (repeatable)."
)
@click.option(
    "--remits", "remits", multiple=True, type=click.Path(), help="835 remittance file or folder (repeatable)."
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Labelled table (.csv or .parquet); claims without a remit go to <out>.unlabelled.<ext>.",
)
@click.option(
    "--validate",
    "validate",
    is_flag=True,
    default=False,
    help="Also run pyx12's implementation-guide validation on every file and report its findings "
    "as warnings (slow; never stops ingestion).",
)
def ingest_x12(claims: tuple[str, ...], remits: tuple[str, ...], out: str, validate: bool) -> None:
    """Read 837 claims and 835 remittances (files or folders) into the claim table."""
    from denial_risk.x12.ingest import collect_files, ingest, write_outputs

    if not claims and not remits:
        raise UserError("give at least one --claims or --remits file or folder")
    file_format(out, option="--out")
    start = time.perf_counter()
    result = ingest(claims, remits)
    written = write_outputs(result, out)
    c = result.counts
    click.echo(
        f"read {c.get('files', 0)} files ({c.get('bad_files', 0)} bad) "
        f"in {time.perf_counter() - start:.1f}s: "
        f"{c.get('claims', 0)} claims / {c.get('claim_lines', 0)} claim lines, "
        f"{c.get('remit_claims', 0)} remitted claims / {c.get('remit_lines', 0)} remit lines"
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
    dups = result.duplicates
    if dups:
        click.echo(
            f"duplicated claim ids: {c.get('duplicate_claim_ids_in_claims', 0)} in claims, "
            f"{c.get('duplicate_claim_ids_in_remits', 0)} in remits; kept apart as <id>#2, <id>#3 "
            f"(listed in {written['summary']})"
        )
    for name in ("labelled", "unlabelled"):
        if name in written:
            rows = len(result.labelled if name == "labelled" else result.unlabelled)
            click.echo(f"{name}: {rows} rows -> {written[name]}")
    click.echo(f"summary -> {written['summary']}; errors -> {written['errors']}")
    for w in result.warnings[:20]:
        click.echo(f"note: {w}", err=True)
    if len(result.warnings) > 20:
        click.echo(f"note: ... {len(result.warnings) - 20} more notes in {written['summary']}", err=True)
    if validate:
        from denial_risk.x12.validate import validate_file

        for f in collect_files(claims, "--claims") + collect_files(remits, "--remits"):
            ok, messages = validate_file(f)
            if not ok:
                click.echo(
                    f"guide: {f}: {len(messages)} findings, first: {messages[0] if messages else '?'}",
                    err=True,
                )
    for p in result.problems:
        click.echo(f"bad file: {p.file}: {p.reason}", err=True)
    if result.problems:
        raise PartialInputError(
            f"{len(result.problems)} input file(s) could not be read "
            f"(listed in {written['errors']}); the others were written"
        )
