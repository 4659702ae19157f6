"""Reject counts a person reads: per reason, the commonest first, one example value where it helps and
never an identifier."""

from __future__ import annotations

import pandas as pd

from denial_risk.claims.reject_counts import RejectCounts


def test_counts_per_reason_with_an_example_but_never_an_identifier():
    rejects = pd.DataFrame(
        {
            "claim_id": ["", "C2", "C3", "C4"],
            "patient_id": ["PHI-1", "PHI-2", "PHI-3", "PHI-4"],
            "service_date": ["2025-01-01", "03/15/2025", "03/16/2025", "2025-01-02"],
            "billed_amount": ["10", "10", "1.234,50", "10"],
            "reject_reason": [
                "claim_id: missing",
                "service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD)",
                "service_date: unparseable date (use YYYY-MM-DD or YYYYMMDD); "
                "billed_amount: unparseable amount",
                "claim_id+line_number: duplicate of an earlier row",
            ],
        }
    )
    counts = RejectCounts()
    counts.add_rejects(rejects)
    assert counts.lines() == [
        "service_date: 2 rows unparseable, e.g. '03/15/2025'; dates must be YYYY-MM-DD or YYYYMMDD",
        "billed_amount: 1 row unparseable, e.g. '1.234,50'; amounts are plain numbers such as 1234.50 or "
        "$1,234.50",
        "claim_id+line_number: 1 row duplicate of an earlier row",
        "claim_id: 1 row missing",
    ]
    counts.add("billed_amount: implausible amount (over 1,000,000,000)", 1, {"billed_amount": "1e308"})
    assert counts.describe("billed_amount: implausible amount (over 1,000,000,000)") == (
        "billed_amount: 1 row implausible amount (over 1,000,000,000), e.g. '1e308'"
    )
    assert "PHI-" not in " ".join(counts.lines()) and "C2" not in " ".join(counts.lines())
    line = counts.all_rejected("backlog.csv", 5)
    assert line.startswith("--data backlog.csv: all 5 rows rejected, nothing written: service_date: 2 rows")
    assert line.endswith("(and 4 more reason(s); `denial-risk validate` lists them)") and "\n" not in line
