"""Plots for exploring a labelled claim table (used by notebooks/1.0-explore-denials)."""

from __future__ import annotations

import pandas as pd

from denial_risk.contract import schema


def _axes(n: int = 1, width: float = 5.5):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.8), dpi=100)
    return fig, axes


def denial_rates(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Lines, denial rate and denied dollars per value of `by`."""
    g = frame.assign(
        _denied=frame["denied"].astype(float),
        _denied_dollars=frame["billed_amount"] * frame["denied"].astype(float),
    )
    key = g[by].astype("string").fillna("(unknown)")
    out = g.groupby(key).agg(
        lines=("_denied", "size"), denial_rate=("_denied", "mean"), denied_dollars=("_denied_dollars", "sum")
    )
    return out.sort_values("denial_rate", ascending=False)


def with_policy_group(frame: pd.DataFrame) -> pd.DataFrame:
    from denial_risk.contract.facts import policy_group_label

    return frame.assign(policy_group=policy_group_label(frame["hcpcs_code"]))


def plot_denial_rate(frame: pd.DataFrame, by: str, *, published: dict | None = None):
    rates = denial_rates(frame, by)
    fig, ax = _axes()
    ax.barh(rates.index, rates["denial_rate"] * 100)
    if published:
        for i, key in enumerate(rates.index):
            if key in published:
                ax.plot(published[key] * 100, i, "k|", markersize=18)
    ax.set(
        xlabel="first-pass denial rate, %",
        title=f"Denial rate by {by.replace('_', ' ')}" + (" (| = published)" if published else ""),
    )
    fig.tight_layout()
    return fig


def plot_reasons(frame: pd.DataFrame, top: int = 12):
    from denial_risk.contract.reference import carc_descriptions

    reasons = frame.loc[frame["denied"].fillna(False).astype(bool), "denial_reason"].value_counts().head(top)
    carc = carc_descriptions()
    labels = [f"{r} {carc.get(str(r).split('-')[-1], '')[:38]}" for r in reasons.index]
    fig, ax = _axes(width=7.5)
    ax.barh(labels[::-1], reasons.values[::-1])
    ax.set(xlabel="denied lines", title="Denial reasons (CARC)")
    fig.tight_layout()
    return fig


def plot_filing_lag(frame: pd.DataFrame):
    lag = (frame["submission_date"] - frame["service_date"]).dt.days
    fig, ax = _axes()
    for ptype in schema.PAYER_TYPES[:4]:
        m = frame["payer_type"] == ptype
        ax.hist(lag[m].dropna().clip(upper=500), bins=50, histtype="step", label=ptype)
    ax.set(xlabel="days from service to submission (clipped at 500)", ylabel="lines", title="Filing lag")
    ax.legend()
    fig.tight_layout()
    return fig


def documentation_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Per documentation flag: share on file, missing, unknown, and the denial rate of each state."""
    rows = []
    denied = frame["denied"].astype(float)
    for flag in schema.BOOLEAN_FLAGS:
        v = frame[flag]
        for state, mask in (
            ("on file", v.eq(True).fillna(False)),
            ("missing", v.eq(False).fillna(False)),
            ("unknown", v.isna()),
        ):
            rows.append(
                {
                    "document": flag.removeprefix("has_"),
                    "state": state,
                    "share": mask.mean(),
                    "denial_rate": denied[mask].mean() if mask.any() else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def plot_documentation_gaps(frame: pd.DataFrame):
    gaps = documentation_gaps(frame).pivot(index="document", columns="state", values="denial_rate")
    fig, ax = _axes(width=7)
    gaps[["on file", "missing", "unknown"]].mul(100).plot.barh(ax=ax)
    ax.set(xlabel="denial rate, %", title="Denial rate by documentation state")
    fig.tight_layout()
    return fig


def monthly_denial_rate(
    frame: pd.DataFrame, payer_id: str | None = None, policy_group: str | None = None
) -> pd.Series:
    f = with_policy_group(frame) if policy_group else frame
    m = pd.Series(True, index=f.index)
    if payer_id:
        m &= f["payer_id"] == payer_id
    if policy_group:
        m &= f["policy_group"] == policy_group
    sub = f[m]
    return sub.groupby(sub["service_date"].dt.to_period("M"))["denied"].mean()
