"""A single-file HTML report of a scored worklist, for an analyst to mail.

`build_report(scored, out_path)` reads a scored CSV or Parquet file (the
contract's columns plus the seven added by scoring) and writes one HTML file:
totals and dollars at risk by tier, the claims to hold (from the claim worklist
beside the scored file, `report.claims`), the top reasons and predicted CARCs, the
top remark codes with their X12 descriptions (when the file has `remark_codes`), risk
by payer type and by policy group, a dollars-at-risk-by-rank curve and the
first lines of the worklist. Everything is inline (CSS, charts as base64 PNG
data URIs): no scripts, no external URLs, so it opens anywhere and survives
being mailed.

Scale: the file is streamed in chunks through the project's claim reader and
only the columns the report uses are read (`report.source`), so a 10M-line
worklist is aggregated at roughly constant memory (`report.aggregate`; plus one
float per line for the rank curve). `patient_id` is never read, so it cannot
reach the page; the page template (`templates/report.html.j2`) is rendered with
autoescaping on, so every cell is HTML-escaped (claim data is untrusted text).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
from pathlib import Path

import pandas as pd

from denial_risk.biller.wording import carc_words
from denial_risk.contract import schema
from denial_risk.report import plots
from denial_risk.report.aggregate import (
    ACTION_TAIL_RE,
    REASON_SEP,
    Stats,
    consume,
    group_sum,
    merge_items,
    sorted_losses,
)
from denial_risk.report.claims import claim_file_for, summarise_claims
from denial_risk.report.source import FRAME_SOURCE, open_scored
from denial_risk.tableio.files import write_text

TIER_ORDER = schema.RISK_TIERS
TEMPLATE = "report.html.j2"


def build_report(
    scored: pd.DataFrame | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    title: str | None = None,
    top: int = 50,
    changes: list[dict] | None = None,
    rework: pd.DataFrame | str | os.PathLike | None = None,
    top_claims: int = 20,
) -> Path:
    """Write the self-contained HTML report of a scored worklist; return its path.

    `scored` is a scored frame or the path of a scored `.csv` / `.parquet` file.
    A missing file or a missing scored column raises `UserError` naming it, and
    nothing is written. The file is written atomically (temporary + rename).
    `top` is the number of worklist lines shown. `changes`: the payer rule changes a model found in
    its remits (`modeling.changes`), listed in their own section (None: no section). `rework`: a
    queue from `denial-risk rework` (a frame or its file) adds the rework section (`report.rework`).
    `top_claims`: the claims shown (when the claim worklist, `<scored>.claims.<ext>`, is beside the
    scored file).
    """
    out_path = Path(out_path)
    source, chunks, used = open_scored(scored)
    st = Stats(top_n=max(int(top), 0), lookup_groups="policy_group" not in used)
    for df in chunks:
        consume(st, df)
    context = _context(st, source, used, title) | {"changes": _change_rows(changes)}
    if rework is not None:
        from denial_risk.report.rework import rework_section

        context["rework"] = rework_section(rework, top=min(int(top), 25))
    context["claims"] = _claim_section(claim_file_for(scored), max(int(top_claims), 0))
    html = _render(context)
    write_text(html, out_path)
    return out_path


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("denial_risk.report", "templates"),
        autoescape=True,  # claim text is untrusted: every value is escaped
        undefined=jinja2.StrictUndefined,
    )


def _render(context: dict) -> str:
    return _environment().get_template(TEMPLATE).render(**context)


# --------------------------------------------------------------------------- the page's context


def _context(st: Stats, source: str, used: list[str], title: str | None) -> dict:
    """What the template shows, every number already formatted."""
    name = Path(source).name if source != FRAME_SOURCE else source
    curve, marks = _rank_section(st)
    return {
        "title": title or f"Denial risk worklist report: {name}",
        "source": name,
        "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "totals": _totals(st),
        "tiers": _tier_rows(st),
        "curve": curve,
        "marks": marks,
        **_item_sections(st, used),
        **_remark_section(st, used),
        **_payer_section(st),
        **_policy_section(st),
        "worklist": _worklist_rows(st),
        "rework": None,
    }


def _change_rows(changes: list[dict] | None) -> list[dict] | None:
    """The payer rule changes as rows: month, payer, what changed (None: the report was given no model)."""
    if changes is None:
        return None
    from denial_risk.modeling.changes import table

    return [
        {"month": r.month, "payer": r.payer, "change": r.change, "lines": f"{r.lines:,}"}
        for r in table(changes).itertuples(index=False)
    ]


def _totals(st: Stats) -> dict:
    n = st.lines
    return {
        "lines": f"{n:,}",
        "billed": _money0(st.billed),
        "at_risk": _money0(st.at_risk),
        "at_risk_share": _pct(st.at_risk / st.billed if st.billed else 0.0),
        "mean_prob": _pct(st.prob_sum / n if n else 0.0),
        "expected_denials": f"{st.prob_sum:,.0f}",
    }


def _tier_rows(st: Stats) -> list[dict]:
    """high, medium, low (always shown), then any other tier the file has."""
    n, at_risk = st.lines, st.at_risk
    table = group_sum(st.tiers, "tier")
    names = [*TIER_ORDER, *sorted(set(table["tier"]) - set(TIER_ORDER))] if len(table) else list(TIER_ORDER)
    by_tier = {r.tier: r for r in table.itertuples(index=False)}
    rows = []
    for t in names:
        r = by_tier.get(t)
        lines = int(r.lines) if r is not None else 0
        rows.append(
            {
                "name": t,
                "css": f"tier-{t}" if t in TIER_ORDER else "tier-other",
                "lines": f"{lines:,}",
                "lines_share": _pct(lines / n if n else 0.0),
                "billed": _money0(r.billed if r is not None else 0.0),
                "at_risk": _money0(r.at_risk if r is not None else 0.0),
                "at_risk_share": _pct((r.at_risk / at_risk) if (r is not None and at_risk) else 0.0),
                "mean_prob": _pct(r.prob_sum / lines) if lines else "",
            }
        )
    return rows


def _rank_section(st: Stats) -> tuple[str | None, list[dict]]:
    """The dollars-at-risk-by-rank chart and its table (none for an empty worklist)."""
    if not st.lines:
        return None, []
    curve, marks = plots.rank_curve(sorted_losses(st))
    return curve, [
        {
            "pct": m["pct"],
            "lines": f"{m['lines']:,}",
            "at_risk": _money0(m["at_risk"]),
            "share": f"{m['share']:.1f}%",
        }
        for m in marks
    ]


def _item_sections(st: Stats, used: list[str]) -> dict:
    """Top reasons, most recommended fixes, predicted CARCs with their meaning and where they come from."""
    n = st.lines
    carcs = _item_rows(merge_items(st.carcs).head(15), n, st.at_risk)
    for r in carcs:
        r["meaning"] = _carc_meaning(r["item"])
    if "likely_denial_codes" in used:
        carc_note = (
            "Each line's most likely denial code (the first of its likely_denial_codes)."
            if carcs
            else "No line has a likely denial code."
        )
    elif "predicted_carc" in used:
        carc_note = "From the predicted_carc column." if carcs else "No line has a predicted CARC."
    else:
        carc_note = (
            "CARCs named in the lines' top reasons."
            if carcs
            else "The scored file has no predicted_carc column and no reason names a CARC (like CO-16)."
        )
    return {
        "reasons": _item_rows(merge_items(st.reasons).head(15), n, st.at_risk),
        "actions": _item_rows(merge_items(st.actions).head(12), n, st.at_risk),
        "carcs": carcs,
        "carc_note": carc_note,
    }


def _remark_section(st: Stats, used: list[str]) -> dict:
    """The most frequent remark codes (RARCs) with their X12 descriptions; none without the column."""
    if "remark_codes" not in used:
        return {"remarks": None}
    rows = _item_rows(merge_items(st.remarks).head(15), st.lines, st.at_risk)
    if rows:
        from denial_risk.contract.reference import rarc_descriptions

        described = rarc_descriptions()
        for r in rows:
            r["meaning"] = described.get(r["item"], "not in the RARC list")
    return {"remarks": rows}


def _carc_meaning(carc: str) -> str:
    """The worklist's words for a CARC (a code without a short phrase reads as its X12 description)."""
    return carc_words(carc)


def _payer_section(st: Stats) -> dict:
    table = group_sum(st.payers, "payer_type")
    chart = None
    if len(table):
        t = table.sort_values("at_risk", ascending=False, kind="stable")
        chart = plots.barh(
            t["payer_type"].astype(str).tolist(), t["at_risk"].tolist(), money=True, color="#1a4d8f", w=6.0
        )
    return {"payers": _group_rows(table, "payer_type", st.at_risk), "payer_chart": chart}


def _policy_section(st: Stats) -> dict:
    """Risk by policy group (the top 12 charted), or a note saying why there is none."""
    rows, chart = [], None
    note = st.policy_note or ""
    if st.groups:
        table = group_sum(st.groups, "policy_group")
        rows = _group_rows(table, "policy_group", st.at_risk)
        top = table.sort_values("at_risk", ascending=False, kind="stable").head(12)
        if len(top):
            chart = plots.barh(
                top["policy_group"].astype(str).tolist(),
                top["at_risk"].tolist(),
                money=True,
                color="#5b3a8f",
                w=6.0,
            )
    elif not note:
        note = "no policy group could be determined"
    return {"groups": rows, "group_chart": chart, "policy_note": note}


def _worklist_rows(st: Stats) -> list[dict]:
    """The first lines in risk_rank order, reasons and fixes as lists (a fix's remaining risk set apart)."""
    if st.head is None:
        return []
    rows = []
    for r in st.head.to_dict("records"):
        tier = _text(r.get("risk_tier")).strip().lower()
        rank = r.get("risk_rank")
        rows.append(
            {
                "rank": "" if rank is None or pd.isna(rank) else f"{rank:,.0f}",
                "claim_id": _text(r.get("claim_id")),
                "line_number": _text(r.get("line_number")),
                "hcpcs_code": _text(r.get("hcpcs_code")),
                "payer_type": _text(r.get("payer_type")),
                "billed_amount": _money(r.get("billed_amount")),
                "denial_probability": _pct(r.get("denial_probability")),
                "expected_loss": _money(r.get("expected_loss")),
                "risk_tier": _text(r.get("risk_tier")),
                "tier_css": f"tier-{tier}" if tier in TIER_ORDER else "tier-other",
                "reasons": _items(r.get("top_reasons")),
                "actions": [_split_action(a) for a in _items(r.get("recommended_actions"))],
            }
        )
    return rows


def _claim_section(path: Path | None, top: int) -> dict | None:
    """Claim totals by tier and the first claims to hold, with their fixes; None without a claim file."""
    if path is None:
        return None
    got = summarise_claims(path, top)
    n, total = got["count"], sum(v[2] for v in got["tiers"].values())
    tiers = [
        {
            "name": t,
            "css": f"tier-{t}" if t in TIER_ORDER else "tier-other",
            "claims": f"{v[0]:,}",
            "billed": _money0(v[1]),
            "at_risk": _money0(v[2]),
            "at_risk_share": _pct(v[2] / total if total else 0.0),
            "mean_prob": _pct(v[3] / v[0]) if v[0] else "",
        }
        for t, v in got["tiers"].items()
    ]
    rows = []
    for r in got["head"].to_dict("records"):
        tier = _text(r.get("risk_tier")).strip().lower()
        rows.append(
            {
                "rank": f"{r['claim_rank']:,.0f}",
                "claim_id": _text(r.get("claim_id")),
                "payer_type": _text(r.get("payer_type")),
                "lines": f"{r['lines']:,.0f}",
                "lines_at_risk": _text(r.get("lines_at_risk")).replace(schema.LIST_SEP, ", "),
                "billed_amount": _money(r.get("billed_amount")),
                "probability": _pct(r.get("claim_denial_probability")),
                "expected_loss": _money(r.get("expected_loss")),
                "risk_tier": _text(r.get("risk_tier")),
                "tier_css": f"tier-{tier}" if tier in TIER_ORDER else "tier-other",
                "reasons": _items(r.get("top_reasons")),
                "actions": [_split_action(a) for a in _items(r.get("recommended_actions"))],
            }
        )
    return {"count": f"{n:,}", "tiers": tiers, "rows": rows, "source": path.name}


def _item_rows(table: pd.DataFrame, n: int, total_at_risk: float) -> list[dict]:
    """Rows of an item table (already most dollars first); the bar is the share of all dollars at risk
    on the lines naming the item, labelled (a line names several items: the shares overlap)."""
    rows = []
    for r in table.itertuples(index=False):
        share = min(max(r.at_risk / total_at_risk, 0.0), 1.0) if total_at_risk > 0 else 0.0
        rows.append(
            {
                "item": str(r.item),
                "lines": f"{int(r.lines):,}",
                "share": _pct(r.lines / n if n else 0),
                "at_risk": _money0(r.at_risk),
                "bar": f"{100.0 * share:.1f}",
                "bar_label": _pct(share, 0),
            }
        )
    return rows


def _group_rows(table: pd.DataFrame, key: str, total_at_risk: float) -> list[dict]:
    table = table.sort_values("at_risk", ascending=False, kind="stable")
    rows = []
    for r in table.itertuples(index=False):
        lines = int(r.lines)
        rows.append(
            {
                "name": str(getattr(r, key)),
                "lines": f"{lines:,}",
                "billed": _money0(r.billed),
                "at_risk": _money0(r.at_risk),
                "at_risk_share": _pct(r.at_risk / total_at_risk if total_at_risk else 0.0),
                "mean_prob": _pct(r.prob_sum / lines if lines else 0.0),
                "high_lines": f"{int(r.high_lines):,}",
            }
        )
    return rows


# --------------------------------------------------------------------------- formatting


def _money(v: float) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def _money0(v: float) -> str:
    return f"${v:,.0f}" if math.isfinite(v) else "(not a finite sum)"


def _pct(v: float, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v * 100:.{digits}f}%"


def _text(v: object) -> str:
    if v is None:
        return ""
    try:
        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def _items(v: object) -> list[str]:
    return [p.strip() for p in _text(v).split(REASON_SEP) if p.strip()]


def _split_action(action: str) -> dict:
    """`add RT or LT modifier → 12%` -> text and the risk it would leave."""
    m = ACTION_TAIL_RE.search(action)
    if not m:
        return {"text": action, "after": ""}
    return {"text": action[: m.start()], "after": m.group(0).strip()}
