"""The report's rework section: dollars recoverable by action and deadline week, the queue's first lines.

Reads a queue written by `denial-risk rework` (docs/rework.md) through the claim
reader, only the columns it shows (no patient column exists in a queue). Every
number is formatted here; the template (`templates/rework_section.html.j2`)
escapes every cell.
"""

from __future__ import annotations

import os

import pandas as pd

from denial_risk.errors import UserError
from denial_risk.report import plots
from denial_risk.rework.queue import QUEUE_COLUMNS
from denial_risk.rework.rules import ACTIONS

WEEKS_SHOWN = 12  # deadline weeks shown one by one; later ones are summed


def _read(queue: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    if isinstance(queue, pd.DataFrame):
        return queue
    from denial_risk.claims.reader import read_table

    frame = read_table(queue, option="--rework")
    missing = [c for c in ("action", "deadline", "expected_recovery", "rework_rank") if c not in frame]
    if missing:
        raise UserError(
            f"--rework {queue}: missing column '{missing[0]}' (write it with `denial-risk rework`)"
        )
    return frame


def _money(v: float) -> str:
    return f"${v:,.0f}"


def _by_action(q: pd.DataFrame) -> list[dict]:
    g = q.groupby("action")["expected_recovery"].agg(["size", "sum"])
    total = float(q["expected_recovery"].sum()) or 1.0
    return [
        {
            "action": a.replace("_", " "),
            "lines": int(g.loc[a, "size"]),
            "dollars": _money(float(g.loc[a, "sum"])),
            "share": f"{float(g.loc[a, 'sum']) / total:.0%}",
        }
        for a in ACTIONS
        if a in g.index
    ]


def _by_week(q: pd.DataFrame) -> tuple[list[str], list[dict]]:
    acted = q[q["action"] != "no_rework"].copy()
    acted["deadline"] = pd.to_datetime(acted["deadline"], errors="coerce")
    acted = acted[acted["deadline"].notna()]
    actions = [a for a in ACTIONS if a in set(acted["action"])]
    if acted.empty:
        return actions, []
    week = acted["deadline"] - pd.to_timedelta(acted["deadline"].dt.day_of_week, unit="D")
    weeks = sorted(week.unique())
    label = week.map({w: f"week of {pd.Timestamp(w).date()}" for w in weeks[:WEEKS_SHOWN]}).fillna("later")
    table = acted.groupby([label, "action"])["expected_recovery"].sum().unstack(fill_value=0.0)
    order = [f"week of {pd.Timestamp(w).date()}" for w in weeks[:WEEKS_SHOWN]] + (
        ["later"] if len(weeks) > WEEKS_SHOWN else []
    )
    rows = []
    for name in order:
        row = table.loc[name] if name in table.index else pd.Series(dtype=float)
        rows.append(
            {
                "week": name,
                "cells": [_money(float(row.get(a, 0.0))) for a in actions],
                "total": _money(float(row.sum())),
            }
        )
    return [a.replace("_", " ") for a in actions], rows


def _lines(q: pd.DataFrame, top: int) -> list[dict]:
    head = q.sort_values("rework_rank").head(top)
    cols = [c for c in QUEUE_COLUMNS if c in head]
    out = []
    for r in head[cols].to_dict("records"):
        out.append(
            {
                "rank": int(r["rework_rank"]),
                "claim_id": str(r.get("claim_id", "")),
                "line_number": "" if pd.isna(r.get("line_number")) else int(r["line_number"]),
                "payer": str(r.get("payer_id") or r.get("payer_type") or ""),
                "denial": str(r.get("denial_words") or r.get("denial_reason") or ""),
                "action": str(r["action"]).replace("_", " "),
                "action_text": str(r.get("action_text") or ""),
                "deadline": "" if pd.isna(r.get("deadline")) else str(r["deadline"])[:10],
                "days_left": "" if pd.isna(r.get("days_left")) else int(r["days_left"]),
                "probability": f"{float(r.get('recovery_probability') or 0):.0%}",
                "expected": f"${float(r['expected_recovery']):,.2f}",
            }
        )
    return out


def rework_section(queue: pd.DataFrame | str | os.PathLike, top: int = 25) -> dict:
    """The template's `rework` context: totals, by action, by deadline week, chart, first lines."""
    q = _read(queue)
    q = q.assign(expected_recovery=pd.to_numeric(q["expected_recovery"], errors="coerce").fillna(0.0))
    actions, weeks = _by_week(q)
    by_action = q.groupby("action")["expected_recovery"].sum()
    shown = [a for a in ACTIONS if a in by_action.index and a != "no_rework"]
    chart = (
        plots.barh(
            [a.replace("_", " ") for a in shown],
            [float(by_action[a]) for a in shown],
            money=True,
            color="#2e7d32",
        )  # fmt: skip
        if shown
        else None
    )
    return {
        "lines": len(q),
        "acted": int((q["action"] != "no_rework").sum()),
        "dollars": _money(float(q["expected_recovery"].sum())),
        "by_action": _by_action(q),
        "week_actions": actions,
        "weeks": weeks,
        "chart": chart,
        "first": _lines(q, top),
    }
