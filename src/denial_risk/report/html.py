"""A single-file HTML report of a scored worklist, for an analyst to mail.

`build_report(scored, out_path)` reads a scored CSV or Parquet file (the
contract's columns plus the six added by scoring) and writes one HTML file:
totals and dollars at risk by tier, the top reasons and predicted CARCs, risk
by payer type and by policy group, a dollars-at-risk-by-rank curve and the
first lines of the worklist. Everything is inline (CSS, charts as base64 PNG
data URIs): no scripts, no external URLs, so it opens anywhere and survives
being mailed.

Scale: the file is streamed in chunks through the project's claim reader and
only the columns the report uses are read (`report.source`), so a 10M-line
worklist is aggregated at roughly constant memory (plus one float per line for
the rank curve). `patient_id` is never read, so it cannot
reach the page; every cell is HTML-escaped (claim data is untrusted text).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.claims.files import write_text
from denial_risk.contract import schema
from denial_risk.report import plots
from denial_risk.report.source import open_scored

WORKLIST_COLUMNS = (
    "claim_id",
    "line_number",
    "hcpcs_code",
    "payer_type",
    "billed_amount",
    "denial_probability",
    "expected_loss",
    "risk_tier",
    "top_reasons",
    "recommended_actions",
)

REASON_SEP = "; "
TIER_ORDER = schema.RISK_TIERS
CARC_RE = re.compile(r"\b(CO|PR|OA|PI)-(\d{1,3})\b")
_ACTION_TAIL_RE = re.compile(r"\s*→\s*[-+]?\d+(?:\.\d+)?\s*%\s*$")

# Short meanings of the CARCs that claim-line denials usually carry
# (../shared/domain.md); others are shown without a meaning.
CARC_MEANINGS = {
    "4": "procedure inconsistent with modifier / required modifier missing",
    "11": "diagnosis inconsistent with procedure",
    "16": "claim lacks information or has billing errors",
    "18": "exact duplicate claim/service",
    "29": "time limit for filing has expired",
    "50": "not deemed a medical necessity",
    "97": "included in payment for another service",
    "119": "benefit maximum for this period reached",
    "151": "information does not support this many services",
    "181": "procedure code invalid on the date of service",
    "197": "precertification / authorization absent",
    "204": "service not covered under the patient's benefit plan",
}

TEMPLATE = "report.html.j2"  # in templates/, package data



# --------------------------------------------------------------------------- policy groups


def _policy_mapper() -> tuple[object | None, str | None]:
    """`denial_risk.policy.policy_for_codes` when that module exists, else a note."""
    try:
        from denial_risk.contract import policy  # type: ignore[attr-defined]
    except ImportError:
        return None, "no policy table is available in this installation (denial_risk.policy)"
    fn = getattr(policy, "policy_for_codes", None)
    if fn is None:
        return None, "denial_risk.policy has no policy_for_codes()"
    return fn, None


_GROUP_KEYS = ("policy_group", "group", "policy", "policy_name", "name")


def _group_value(v: object) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, dict):
        for k in _GROUP_KEYS:
            if k in v:
                return _group_value(v[k])
        return None
    for k in _GROUP_KEYS:
        if hasattr(v, k):
            return _group_value(getattr(v, k))
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _lookup_groups(fn, codes: list[str]) -> dict[str, str | None]:
    """Call policy_for_codes on unique codes and read whatever shape it returns."""
    res = fn(pd.Series(codes, dtype="string"))
    if isinstance(res, pd.DataFrame):
        col = next((c for c in _GROUP_KEYS if c in res.columns), None)
        if col is None:
            raise ValueError("policy_for_codes returned no policy group column")
        key = next((c for c in ("hcpcs_code", "code") if c in res.columns), None)
        if key is not None:
            return {str(k): _group_value(v) for k, v in zip(res[key], res[col])}
        if len(res) == len(codes) and not set(map(str, res.index)) >= set(codes):
            return {c: _group_value(v) for c, v in zip(codes, res[col])}
        return {str(k): _group_value(v) for k, v in res[col].items()}
    if isinstance(res, pd.Series):
        if set(map(str, res.index)) >= set(codes):
            return {c: _group_value(res.loc[c]) for c in codes}
        return {c: _group_value(v) for c, v in zip(codes, res.tolist())}
    if isinstance(res, dict):
        return {c: _group_value(res.get(c)) for c in codes}
    res = list(res)
    if len(res) != len(codes):
        raise ValueError("policy_for_codes returned a different number of rows")
    return {c: _group_value(v) for c, v in zip(codes, res)}


# --------------------------------------------------------------------------- aggregation


def _group_sum(frames: list[pd.DataFrame], key: str) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=[key, "lines", "billed", "at_risk", "prob_sum", "high_lines"])
    return pd.concat(frames, ignore_index=True).groupby(key, sort=False, dropna=False).sum().reset_index()


@dataclass
class _Stats:
    top_n: int
    lines: int = 0
    billed: float = 0.0
    at_risk: float = 0.0
    prob_sum: float = 0.0
    tiers: list = field(default_factory=list)
    payers: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    carcs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    head: pd.DataFrame | None = None
    policy_fn: object | None = None
    policy_note: str | None = None
    group_cache: dict = field(default_factory=dict)
    carc_source: str | None = None


def _by(df: pd.DataFrame, key: pd.Series, name: str) -> pd.DataFrame:
    g = pd.DataFrame(
        {
            name: key.astype("string").fillna("(unknown)").to_numpy(),
            "lines": 1,
            "billed": df["billed_amount"].fillna(0.0).to_numpy(),
            "at_risk": df["expected_loss"].fillna(0.0).to_numpy(),
            "prob_sum": df["denial_probability"].fillna(0.0).to_numpy(),
            "high_lines": (df["risk_tier"].astype("string").str.lower() == "high").fillna(False).to_numpy(int),
        }
    )
    return g.groupby(name, sort=False).sum().reset_index()


def _split_items(values: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Items of a `; `-separated column: (distinct items, item index, row index) per item."""
    arr = pa.array(values, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    parts = pc.split_pattern(pc.fill_null(arr, ""), REASON_SEP)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    parent = pc.list_parent_indices(parts)
    keep = pc.not_equal(flat, "")
    enc = pc.dictionary_encode(pc.filter(flat, keep))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    return (
        enc.dictionary.to_pylist(),
        enc.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        pc.filter(parent, keep).to_numpy(zero_copy_only=False).astype(np.int64),
    )


def _count_items(names: list[str], idx: np.ndarray, parent: np.ndarray, loss: np.ndarray) -> pd.DataFrame:
    """Lines naming each item and the dollars at risk on those lines (an item counted once per line)."""
    if len(idx) and len(names):
        key = np.sort(parent * len(names) + idx)
        if len(key) > 1:
            key = key[np.concatenate(([True], np.diff(key) != 0))]
        parent, idx = key // len(names), key % len(names)
    lines = np.bincount(idx, minlength=len(names))
    at_risk = np.bincount(idx, weights=loss[parent], minlength=len(names)) if len(idx) else np.zeros(len(names))
    return pd.DataFrame({"item": names, "lines": lines, "at_risk": at_risk})


def _split_counts(values: pd.Series, loss: np.ndarray, strip_tail: bool = False) -> pd.DataFrame:
    names, idx, parent = _split_items(values)
    if strip_tail and names:
        # `add KX modifier → 12%` -> `add KX modifier`: re-index on the stripped names
        stripped = [_ACTION_TAIL_RE.sub("", n) for n in names]
        uniq = list(dict.fromkeys(stripped))
        pos = {n: i for i, n in enumerate(uniq)}
        idx = np.asarray([pos[n] for n in stripped], dtype=np.int64)[idx]
        names = uniq
    return _count_items(names, idx, parent, loss)


def _carc_counts(df: pd.DataFrame, loss: np.ndarray) -> pd.DataFrame:
    """Predicted CARCs: the `predicted_carc` column, else the CARCs named in the reasons."""
    if "predicted_carc" in df.columns:
        names, idx, parent = _split_items(df["predicted_carc"])
        names = [n.upper() for n in names]
    else:
        names, idx, parent = _split_items(df["top_reasons"])
    # each distinct item -> the CARCs it names (the reasons name one, usually)
    codes: dict[str, int] = {}
    pairs_item, pairs_code = [], []
    for i, n in enumerate(names):
        for g, num in dict.fromkeys(CARC_RE.findall(n.upper())):
            c = codes.setdefault(f"{g}-{int(num)}", len(codes))
            pairs_item.append(i)
            pairs_code.append(c)
    if not codes:
        return pd.DataFrame(columns=["item", "lines", "at_risk"])
    pairs_item = np.asarray(pairs_item, dtype=np.int64)
    pairs_code = np.asarray(pairs_code, dtype=np.int64)
    if len(pairs_item) == len(set(pairs_item.tolist())):  # one CARC per item: a lookup
        lut = np.full(len(names), -1, dtype=np.int64)
        lut[pairs_item] = pairs_code
        cidx = lut[idx]
        keep = cidx >= 0
        cidx, cpar = cidx[keep], parent[keep]
    else:  # some item names several: expand
        order = np.argsort(pairs_item, kind="stable")
        pairs_item, pairs_code = pairs_item[order], pairs_code[order]
        starts = np.searchsorted(pairs_item, idx, side="left")
        ends = np.searchsorted(pairs_item, idx, side="right")
        reps = ends - starts
        cpar = np.repeat(parent, reps)
        offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        cidx = pairs_code[np.repeat(starts, reps) + offs]
    return _count_items(list(codes), cidx, cpar, loss)


def _consume(st: _Stats, df: pd.DataFrame) -> None:
    n = len(df)
    if n == 0:
        return
    loss = df["expected_loss"].fillna(0.0).to_numpy("float64")
    st.lines += n
    st.billed += float(df["billed_amount"].fillna(0.0).sum())
    st.at_risk += float(loss.sum())
    st.prob_sum += float(df["denial_probability"].fillna(0.0).sum())
    tier = df["risk_tier"].astype("string").str.strip().str.lower()
    st.tiers.append(_by(df, tier, "tier"))
    st.payers.append(_by(df, df["payer_type"].astype("string").str.strip().str.lower(), "payer_type"))

    group = None
    if "policy_group" in df.columns:
        group = df["policy_group"]
    elif st.policy_fn is not None:
        codes = df["hcpcs_code"].astype("string").str.strip().str.upper()
        new = [c for c in codes.dropna().unique().tolist() if c not in st.group_cache]
        if new:
            try:
                st.group_cache.update(_lookup_groups(st.policy_fn, new))
            except Exception as exc:  # the policy module is someone else's: never fail the report
                st.policy_fn = None
                st.policy_note = f"policy groups could not be looked up ({type(exc).__name__}: {exc})"
                st.groups = []
        if st.policy_fn is not None:
            group = codes.map(st.group_cache).astype("string").fillna("(no policy)")
    if group is not None:
        st.groups.append(_by(df, group, "policy_group"))

    st.reasons.append(_split_counts(df["top_reasons"], loss))
    st.actions.append(_split_counts(df["recommended_actions"], loss, strip_tail=True))
    st.carcs.append(_carc_counts(df, loss))

    st.losses.append(loss.astype("float64"))

    rank = df["risk_rank"]
    if n > st.top_n:
        head = df.loc[rank.nsmallest(st.top_n, keep="first").index]
    else:
        head = df
    cols = [c for c in WORKLIST_COLUMNS if c in head.columns]
    head = head[cols + ["risk_rank"]]
    merged = head if st.head is None else pd.concat([st.head, head], ignore_index=True)
    st.head = merged.sort_values("risk_rank", kind="stable").head(st.top_n).reset_index(drop=True)


def _merge_items(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["item", "lines", "at_risk"])
    out = pd.concat(frames, ignore_index=True).groupby("item", sort=False).sum().reset_index()
    return out.sort_values(["lines", "at_risk"], ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- formatting


def _money(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def _money0(v: float) -> str:
    return f"${v:,.0f}"


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
    m = _ACTION_TAIL_RE.search(action)
    if not m:
        return {"text": action, "after": ""}
    return {"text": action[: m.start()], "after": m.group(0).strip()}


def _item_rows(table: pd.DataFrame, n: int) -> list[dict]:
    top = float(table["lines"].max()) if len(table) else 0.0
    return [
        {
            "item": str(r.item),
            "lines": f"{int(r.lines):,}",
            "share": _pct(r.lines / n if n else 0),
            "at_risk": _money0(r.at_risk),
            "bar": f"{(100.0 * r.lines / top) if top else 0:.1f}",
        }
        for r in table.itertuples(index=False)
    ]


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


# --------------------------------------------------------------------------- template


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


# --------------------------------------------------------------------------- public API


def build_report(
    scored: pd.DataFrame | str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    title: str | None = None,
    top: int = 50,
) -> Path:
    """Write the self-contained HTML report of a scored worklist; return its path.

    `scored` is a scored frame or the path of a scored `.csv` / `.parquet` file.
    A missing file or a missing scored column raises `UserError` naming it, and
    nothing is written. The file is written atomically (temporary + rename).
    `top` is the number of worklist lines shown.
    """
    out_path = Path(out_path)
    source, frames, used = open_scored(scored)
    st = _Stats(top_n=max(int(top), 0))
    if "policy_group" not in used:
        st.policy_fn, st.policy_note = _policy_mapper()
    for df in frames:
        _consume(st, df)

    context = _context(st, source, used, title)
    html = _render(context)
    write_text(html, out_path)
    return out_path


def _context(st: _Stats, source: str, used: list[str], title: str | None) -> dict:
    n = st.lines
    at_risk = st.at_risk
    name = Path(source).name if source != "scored frame" else source
    totals = {
        "lines": f"{n:,}",
        "billed": _money0(st.billed),
        "at_risk": _money0(at_risk),
        "at_risk_share": _pct(at_risk / st.billed if st.billed else 0.0),
        "mean_prob": _pct(st.prob_sum / n if n else 0.0),
        "expected_denials": f"{st.prob_sum:,.0f}",
    }

    tiers_t = _group_sum(st.tiers, "tier")
    tiers = []
    known = [t for t in TIER_ORDER] + sorted(set(tiers_t["tier"]) - set(TIER_ORDER)) if len(tiers_t) else list(TIER_ORDER)
    by_tier = {r.tier: r for r in tiers_t.itertuples(index=False)}
    for t in known:
        r = by_tier.get(t)
        lines = int(r.lines) if r is not None else 0
        tiers.append(
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

    curve, marks = None, []
    if n:
        # risk_rank orders the lines by expected_loss (ties by probability, which
        # does not change the cumulative sums): sorting the losses gives the curve
        # without holding the ranks of a 10M-line file.
        losses = np.concatenate(st.losses)
        st.losses.clear()
        losses.sort()
        curve, raw_marks = plots.rank_curve(losses[::-1])
        del losses
        marks = [
            {"pct": m["pct"], "lines": f"{m['lines']:,}", "at_risk": _money0(m["at_risk"]),
             "share": f"{m['share']:.1f}%"}
            for m in raw_marks
        ]

    reasons_t = _merge_items(st.reasons).head(15)
    reasons = _item_rows(reasons_t, n)

    actions_t = _merge_items(st.actions).head(12)
    actions = _item_rows(actions_t, n)

    carcs_t = _merge_items(st.carcs).head(15)
    carcs = _item_rows(carcs_t, n)
    for r in carcs:
        m = CARC_RE.search(r["item"])
        r["meaning"] = CARC_MEANINGS.get(m.group(2), "") if m else ""
    if "predicted_carc" in used:
        carc_note = "From the predicted_carc column." if carcs else "No line has a predicted CARC."
    else:
        carc_note = (
            "CARCs named in the lines' top reasons."
            if carcs
            else "The scored file has no predicted_carc column and no reason names a CARC (like CO-16)."
        )

    payers_t = _group_sum(st.payers, "payer_type")
    payers = _group_rows(payers_t, "payer_type", at_risk)
    payer_chart = None
    if len(payers_t):
        pt = payers_t.sort_values("at_risk", ascending=False, kind="stable")
        payer_chart = plots.barh(pt["payer_type"].astype(str).tolist(), pt["at_risk"].tolist(), money=True,
                                  color="#1a4d8f", w=6.0)

    groups, group_chart = [], None
    policy_note = st.policy_note or ""
    if st.groups:
        groups_t = _group_sum(st.groups, "policy_group")
        groups = _group_rows(groups_t, "policy_group", at_risk)
        gt = groups_t.sort_values("at_risk", ascending=False, kind="stable").head(12)
        if len(gt):
            group_chart = plots.barh(gt["policy_group"].astype(str).tolist(), gt["at_risk"].tolist(), money=True,
                                     color="#5b3a8f", w=6.0)
    elif not policy_note:
        policy_note = "no policy group could be determined"

    worklist = []
    if st.head is not None:
        for r in st.head.to_dict("records"):
            tier = _text(r.get("risk_tier")).strip().lower()
            rank = r.get("risk_rank")
            worklist.append(
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

    return {
        "title": title or f"Denial risk worklist report: {name}",
        "source": name,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "totals": totals,
        "tiers": tiers,
        "curve": curve,
        "marks": marks,
        "reasons": reasons,
        "actions": actions,
        "carcs": carcs,
        "carc_note": carc_note,
        "payers": payers,
        "payer_chart": payer_chart,
        "groups": groups,
        "group_chart": group_chart,
        "policy_note": policy_note,
        "worklist": worklist,
    }
