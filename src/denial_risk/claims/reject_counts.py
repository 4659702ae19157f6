"""Rejected rows counted by reason, each with one example value, for a person to read.

`score` and `validate` print these counts; a file whose every row is rejected is
the user's mistake (exit 2), said in one line that names the commonest reason and
shows what the column held (`service_date: 5,148 rows unparseable, e.g.
'03/15/2025'; dates must be YYYY-MM-DD or YYYYMMDD`), so a date written
`MM/DD/YYYY` is recognised at once. Examples are shown only for dates, amounts and
counts: an identifier (claim, patient) is never echoed.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from denial_risk.contract import schema

REASON_SEP = "; "  # contract.normalize joins a row's problems with it
_EXAMPLE_COLUMNS = frozenset((*schema.DATE_COLUMNS, *schema.DECIMAL_COLUMNS, *schema.INTEGER_COLUMNS))
_HINTS = {  # what a person needs next to the count (the forms contract.normalize accepts)
    "unparseable date": "dates must be YYYY-MM-DD or YYYYMMDD",
    "unparseable amount": "amounts are plain numbers such as 1234.50 or $1,234.50",
}


class RejectCounts:
    """Rows rejected per reason (a row with two problems counts under both), one example value each."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.examples: dict[str, str] = {}

    def add(self, reason: str, rows: int, example: dict | None = None) -> None:
        """`reason`: a row's `reject_reason` (problems `; `-joined); `example`: one such row's values."""
        for problem in str(reason).split(REASON_SEP):
            if not problem:
                continue
            self.counts[problem] += int(rows)
            column = problem.split(":", 1)[0]
            if problem not in self.examples and example and column in _EXAMPLE_COLUMNS:
                value = example.get(column)
                if value is not None and not pd.isna(value) and str(value).strip():
                    self.examples[problem] = str(value)

    def add_rejects(self, rejects: pd.DataFrame, reason_column: str = "reject_reason") -> None:
        """A chunk's rejects (original values + `reason_column`)."""
        if rejects.empty:
            return
        reasons = rejects[reason_column].astype("string").fillna("")
        first = ~reasons.duplicated()
        sizes = reasons.value_counts(sort=False)
        for position in first.to_numpy().nonzero()[0]:
            reason = reasons.iloc[position]
            self.add(reason, int(sizes[reason]), rejects.iloc[position].to_dict())

    def describe(self, problem: str) -> str:
        """`service_date: 5,148 rows unparseable, e.g. '03/15/2025'; dates must be YYYY-MM-DD or YYYYMMDD`."""
        column, _, what = problem.partition(": ")
        hint = _HINTS.get(what.split(" (", 1)[0])
        if hint:  # "unparseable date (use YYYY-MM-DD or YYYYMMDD)": the hint follows the example instead
            what = "unparseable"
        rows = self.counts[problem]
        text = f"{column}: {rows:,} row{'' if rows == 1 else 's'} {what}"
        if problem in self.examples:
            text += f", e.g. {self.examples[problem]!r}"
        return text + (f"; {hint}" if hint else "")

    def lines(self) -> list[str]:
        """One line per reason, the commonest first."""
        return [self.describe(p) for p, _ in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    def all_rejected(self, data, rows: int) -> str:
        """The one line for a file none of whose rows can be scored (exit 2, nothing written)."""
        reasons = self.lines()
        more = f" (and {len(reasons) - 1} more reason(s); `denial-risk validate` lists them)"
        return (
            f"--data {data}: all {rows:,} rows rejected, nothing written: {reasons[0] if reasons else '?'}"
            + (more if len(reasons) > 1 else "")
        )
