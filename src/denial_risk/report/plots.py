"""The report's charts, as base64 PNG data URIs: inline images need no file beside the page and no network."""

from __future__ import annotations

import base64
import io
import math

import numpy as np

RANK_MARKS = (1, 5, 10, 20, 50)  # % of the worklist worked, tabled beside the rank curve


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float, h: float):
    from matplotlib.figure import Figure  # Agg canvas, no pyplot state

    fig = Figure(figsize=(w, h))
    ax = fig.add_subplot(1, 1, 1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    return fig, ax


def _money_axis(ax, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: short_money(v))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def short_money(v: float) -> str:
    """`$1.2M`, `$35k`, `$410`: axis ticks and bar labels."""
    a = abs(v)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"${v / div:,.1f}{suf}".replace(".0" + suf, suf)
    return f"${v:,.0f}"


def rank_curve(losses: np.ndarray) -> tuple[str, list[dict]]:
    """Cumulative share of dollars at risk against the share of lines worked (losses in rank order).

    Returns the chart and, for each of `RANK_MARKS`, the lines worked and the dollars they cover.
    """
    n = len(losses)
    cum = np.cumsum(losses)
    total = float(cum[-1]) if n else 0.0
    idx = np.unique(np.concatenate([np.linspace(0, n - 1, min(n, 2000)).astype(int), [n - 1]]))
    x = (idx + 1) / n * 100.0
    share_at = cum[idx] / total if total > 0 else np.zeros(len(idx))
    marks = []
    for pct in RANK_MARKS:
        k = max(1, int(math.ceil(n * pct / 100)))
        marks.append(
            {
                "pct": pct,
                "lines": k,
                "at_risk": float(cum[k - 1]),
                "share": (float(cum[k - 1]) / total * 100) if total > 0 else 0.0,
            }
        )
    del cum
    fig, ax = _figure(8.2, 3.4)
    ax.plot(
        np.concatenate([[0], x]),
        np.concatenate([[0], share_at * 100]),
        color="#b3261e",
        lw=2,
        label="worklist order (risk_rank)",
    )
    ax.plot([0, 100], [0, 100], color="#888", lw=1, ls="--", label="unranked order")
    for m in marks:
        if m["pct"] in (5, 20):
            ax.plot([m["pct"]], [m["share"]], "o", color="#b3261e", ms=4)
            ax.annotate(
                f"top {m['pct']}%: {m['share']:.0f}% of $",
                (m["pct"], m["share"]),
                textcoords="offset points",
                xytext=(9, -13),
                ha="left",
                fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 102)
    ax.set_xlabel("lines worked, % of the worklist (in risk_rank order)", fontsize=9)
    ax.set_ylabel("% of dollars at risk covered", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8.5, frameon=False, loc="lower right")
    return _png(fig), marks


def barh(labels: list[str], values: list[float], *, money: bool, color: str, w: float = 8.2) -> str:
    """Horizontal bars, first label on top; long labels are cut at 58 characters."""
    labels = [t if len(t) <= 58 else t[:56] + "…" for t in labels]
    h = max(1.4, 0.34 * len(labels) + 0.6)
    fig, ax = _figure(w, h)
    y = np.arange(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.invert_yaxis()
    if money:
        _money_axis(ax)
    ax.grid(axis="x", alpha=0.3)
    ax.margins(x=0.12)
    for yi, v in zip(y, values):
        ax.text(v, yi, " " + (short_money(v) if money else f"{v:,.0f}"), va="center", fontsize=8)
    return _png(fig)
