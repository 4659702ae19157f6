"""What the Spark engine checks about a validated backlog before it scores, as the local engine does
(`scoring.worklist`): the rejected rows counted by reason (`claims.reject_counts`; every row rejected
is the user's mistake, exit 2, nothing written) and the columns of an earlier score, which the new
score replaces (`schema.scored_columns_in`) instead of clashing with them in Spark's plan."""

from __future__ import annotations

from denial_risk.claims.reject_counts import RejectCounts
from denial_risk.contract import schema
from denial_risk.errors import UserError


def reject_counts(valid, columns: list[str], reason: str) -> RejectCounts:
    """One Spark aggregation over the distinct reasons (`reason`: null when the row is scorable),
    with one example row each."""
    from pyspark.sql import functions as F

    counts = RejectCounts()
    example = F.first(F.struct(*[F.col(f"`{c}`") for c in columns])).alias("_dr_example")
    rows = (
        valid.where(F.col(reason).isNotNull())
        .groupBy(reason)
        .agg(F.count("*").alias("_dr_rows"), example)
        .collect()
    )
    for row in rows:
        counts.add(row[reason], row["_dr_rows"], row["_dr_example"].asDict())
    return counts


def check_backlog(
    valid, columns: list[str], reason: str, rows: int, rejected: int, data_uri: str
) -> tuple[RejectCounts, list[str], list[str]]:
    """(reject counts, the input columns the worklist keeps, the input columns the score replaces)."""
    counts = reject_counts(valid, columns, reason) if rejected else RejectCounts()
    if rejected and rejected == rows:  # nothing to rank
        raise UserError(counts.all_rejected(data_uri, rejected))
    replaced = schema.scored_columns_in(columns)
    return counts, [c for c in columns if c not in replaced], replaced
