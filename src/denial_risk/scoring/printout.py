"""What `score` prints: the summary of a worklist, its first lines or claims (`--top`, `--by claim`),
for a person at a terminal (the files hold the figures; this only words them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.values import parse_amounts


def _money(x: float) -> str:
    return f"${x:,.0f}" if np.isfinite(x) else "(not a finite sum)"  # amounts are capped: never seen


def format_summary(result) -> list[str]:
    """`result`: a `scoring.worklist.WorklistResult`."""
    lines = [f"{result.rows:,} lines: {result.scored:,} scored, {result.rejected:,} rejected"]
    lines += [f"  rejected: {line}" for line in result.reject_counts.lines()]
    total_risk = sum(result.at_risk_by_tier.values())
    lines.append(f"dollars at risk: {_money(total_risk)} of {_money(result.billed)} billed")
    for t in schema.RISK_TIERS:
        lines.append(
            f"  {t:<6} {result.lines_by_tier.get(t, 0):>10,} lines  "
            f"{_money(result.at_risk_by_tier.get(t, 0.0)):>14}"
        )
    lines.append(f"worklist written to {result.out}")
    lines.append(f"rejects written to {result.rejects}")
    if result.claims is not None:
        c = result.claims
        tiers = ", ".join(f"{c.claims_by_tier.get(t, 0):,} {t}" for t in schema.RISK_TIERS)
        lines.append(f"{c.claims:,} claims ({tiers}): claim worklist written to {c.path}")
    return lines


def _amount(value) -> str:
    """An input amount as the contract reads it (`12.5`, `$1,234.00`), to the cent."""
    parsed, bad = parse_amounts(pd.Series([str(value)], dtype="string"))
    return str(value) if bad.iloc[0] or pd.isna(parsed.iloc[0]) else f"${parsed.iloc[0]:,.2f}"


def format_top(top: pd.DataFrame) -> list[str]:
    """The first worklist lines as a table, each followed by its reasons and fixes."""
    if top is None or top.empty:
        return ["(no scored lines)"]
    cols = [
        ("rank", "risk_rank", lambda v: f"{int(v)}"),
        ("claim", "claim_id", str),
        ("line", "line_number", str),
        ("code", "hcpcs_code", str),
        ("payer", "payer_type", str),
        ("billed", "billed_amount", _amount),
        ("risk", "denial_probability", lambda v: f"{100 * float(v):.0f}%"),
        ("at risk", "expected_loss", lambda v: f"${float(v):,.2f}"),
        ("tier", "risk_tier", str),
    ]
    cols = [c for c in cols if c[1] in top.columns]
    cells = [
        [fmt(v) if not pd.isna(v) else "" for _, name, fmt in cols for v in [row[name]]]
        for _, row in top.iterrows()
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, (h, _, _) in enumerate(cols)]
    numeric = {"rank", "billed", "risk", "at risk"}

    def line(values):
        return "  ".join(
            v.rjust(w) if h in numeric else v.ljust(w) for v, w, (h, _, _) in zip(values, widths, cols)
        ).rstrip()

    out = [line([h for h, _, _ in cols]), line(["-" * w for w in widths])]
    for (_, row), cell in zip(top.iterrows(), cells):
        out.append(line(cell))
        reasons = row.get("top_reasons")
        fixes = row.get("recommended_actions")
        if isinstance(reasons, str) and reasons:
            out.append(f"      why: {reasons}")
        if isinstance(fixes, str) and fixes:
            out.append(f"      fix: {fixes}")
    return out


def format_claim_top(top: pd.DataFrame | None) -> list[str]:
    """The first claims as a table, each followed by its reasons and fixes (`score --top N --by claim`)."""
    if top is None or top.empty:
        return ["(no scored claims)"]
    cols = [
        ("rank", lambda r: f"{int(r.claim_rank)}"),
        ("claim", lambda r: str(r.claim_id)),
        ("payer", lambda r: "" if pd.isna(r.payer_type) else str(r.payer_type)),
        ("lines", lambda r: f"{int(r.lines)}"),
        ("billed", lambda r: f"${float(r.billed_amount):,.2f}"),
        ("risk", lambda r: f"{100 * float(r.claim_denial_probability):.0f}%"),
        ("at risk", lambda r: f"${float(r.expected_loss):,.2f}"),
        ("tier", lambda r: str(r.risk_tier)),
        ("lines at risk", lambda r: "" if pd.isna(r.lines_at_risk) else str(r.lines_at_risk)),
    ]
    rows = list(top.itertuples(index=False))
    cells = [[fmt(r) for _, fmt in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(cols)]
    right = {"rank", "lines", "billed", "risk", "at risk"}

    def line(values):
        return "  ".join(
            v.rjust(w) if h in right else v.ljust(w) for v, w, (h, _) in zip(values, widths, cols)
        )

    out = [line([h for h, _ in cols]).rstrip(), line(["-" * w for w in widths]).rstrip()]
    for r, c in zip(rows, cells):
        out.append(line(c).rstrip())
        if isinstance(r.top_reasons, str) and r.top_reasons:
            out.append(f"      why: {r.top_reasons}")
        if isinstance(r.recommended_actions, str) and r.recommended_actions:
            out.append(f"      fix: {r.recommended_actions}")
    return out
