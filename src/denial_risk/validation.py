"""Checking a claim file against the contract without scoring it."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from denial_risk.claims import ClaimTable
from denial_risk.io import TableWriter
from denial_risk.normalize import REJECT_REASON


@dataclass
class ValidationResult:
    rows: int = 0
    scorable: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)


def validate_file(data: str | os.PathLike, rejects_out: str | os.PathLike) -> ValidationResult:
    """Stream `data`, write its rejected rows (original values + reject_reason) to `rejects_out`."""
    table = ClaimTable(data)
    result = ValidationResult()
    with TableWriter(rejects_out, option="--rejects") as writer:
        for chunk in table.chunks():
            result.scorable += len(chunk.clean)
            result.rejected += len(chunk.rejects)
            if len(chunk.rejects):
                writer.write(chunk.rejects)
                for reason in chunk.rejects[REJECT_REASON]:
                    for part in str(reason).split("; "):
                        result.reasons[part] += 1
        writer.write_empty([*table.columns, REJECT_REASON])
    result.rows = result.scorable + result.rejected
    return result
