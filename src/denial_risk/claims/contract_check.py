"""Checking a claim file against the contract without scoring it."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from denial_risk.claims.reject_counts import RejectCounts
from denial_risk.claims.table import ClaimTable
from denial_risk.contract.normalize import REJECT_REASON
from denial_risk.errors import UserError
from denial_risk.tableio.files import TableWriter, check_output, file_format


@dataclass
class ValidationResult:
    rows: int = 0
    scorable: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


def validate_file(
    data: str | os.PathLike, rejects_out: str | os.PathLike, **reader_options
) -> ValidationResult:
    """Stream `data`, write its rejected rows (original values + reject_reason) to `rejects_out`.

    The rejects file is written atomically: if the data file cannot be read,
    nothing is written. A row with several problems counts once per problem in
    `reasons` (and once in `rejected`).
    """
    file_format(rejects_out, option="--rejects")
    check_output(rejects_out, option="--rejects")
    if (
        Path(data).exists()
        and Path(rejects_out).exists()
        and Path(data).resolve() == Path(rejects_out).resolve()
    ):
        raise UserError(f"--rejects {rejects_out}: is the --data file itself; choose another path")
    table = ClaimTable(data, **reader_options)
    result = ValidationResult()
    with TableWriter(rejects_out, option="--rejects") as writer:
        for chunk in table.chunks():
            result.scorable += len(chunk.clean)
            result.rejected += len(chunk.rejects)
            if len(chunk.rejects):
                writer.write(chunk.rejects)
                tally = RejectCounts()
                tally.add_rejects(chunk.rejects, REJECT_REASON)
                result.reasons.update(tally.counts)
        writer.write_empty(table.reject_columns)
    result.rows = result.scorable + result.rejected
    return result
