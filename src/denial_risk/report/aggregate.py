"""The report's statistics, gathered chunk by chunk.

Each chunk is reduced to small tables (per tier, payer type, policy group,
reason, fix, CARC, remark code) and one float per line for the rank curve, so memory stays
roughly flat however long the worklist is. Counting `; `-separated items runs in
pyarrow and numpy over the distinct items, not line by line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.contract import facts, schema

WORKLIST_COLUMNS = schema.READ_COLUMNS

REASON_SEP = "; "
REMARK_SEP = "|"  # remark_codes: RARCs, `|`-separated (docs/claims.md)
CARC_RE = re.compile(r"\b(CO|PR|OA|PI)-(\d{1,3})\b")
ACTION_TAIL_RE = re.compile(r"\s*→\s*[-+]?\d+(?:\.\d+)?\s*%\s*$")
# Reasons as the report counts them (`reason_keys`): a likely denial code is left to the CARC table; a
# driver's "(raises the risk by N points)" is dropped; a combination counts under each of its reasons.
LIKELY_RE = re.compile(r"^likely [A-Z]{2}-[A-Z0-9]+\b")
POINTS_RE = re.compile(r"\s*\((?:raises the risk by |\+)\d+ points\)$")
NO_ON_FILE_RE = re.compile(r"^no (.+) on file$")
NOT_RECORDED_RE = re.compile(r"^documents not recorded: (.+)$")
_GROUP_COLUMNS = ["lines", "billed", "at_risk", "prob_sum", "high_lines"]


@dataclass
class Stats:
    """Running totals and per-chunk tables; `merge_items` / `group_sum` combine the tables at the end."""

    top_n: int
    lookup_groups: bool = False  # no policy_group column: look the groups up from the codes
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
    remarks: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    head: pd.DataFrame | None = None
    policy_note: str | None = None
    group_cache: dict = field(default_factory=dict)


def consume(st: Stats, df: pd.DataFrame) -> None:
    """Fold one typed chunk into the statistics."""
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
    group = _policy_groups(st, df)
    if group is not None:
        st.groups.append(_by(df, group, "policy_group"))

    st.reasons.append(_reason_counts(df["top_reasons"], loss))
    st.actions.append(_split_counts(df["recommended_actions"], loss, strip_tail=True))
    st.carcs.append(_carc_counts(df, loss))
    if "remark_codes" in df.columns:
        st.remarks.append(
            _split_counts(df["remark_codes"].astype("string").str.upper(), loss, sep=REMARK_SEP)
        )
    st.losses.append(loss.astype("float64"))
    _keep_head(st, df)


def _policy_groups(st: Stats, df: pd.DataFrame) -> pd.Series | None:
    """The policy_group column, else each code's group looked up once per distinct code (cached per run)."""
    if "policy_group" in df.columns:
        return df["policy_group"]
    if not st.lookup_groups:
        return None
    codes = df["hcpcs_code"].astype("string").str.strip().str.upper()
    new = [c for c in codes.dropna().unique().tolist() if c not in st.group_cache]
    if new:
        try:
            labels = facts.policy_group_label(pd.Series(new, dtype="string"))
        except Exception as exc:  # reference data is outside the report: a note, never a failed report
            st.lookup_groups = False
            st.policy_note = f"policy groups could not be looked up ({type(exc).__name__}: {exc})"
            st.groups = []
            return None
        st.group_cache.update(zip(new, labels.tolist()))
    return codes.map(st.group_cache).astype("string").fillna(facts.NO_POLICY)


def _keep_head(st: Stats, df: pd.DataFrame) -> None:
    """The first `top_n` lines in risk_rank order so far."""
    rank = df["risk_rank"]
    if len(df) > st.top_n:
        head = df.loc[rank.nsmallest(st.top_n, keep="first").index]
    else:
        head = df
    cols = [c for c in WORKLIST_COLUMNS if c in head.columns]
    head = head[cols + ["risk_rank"]]
    merged = head if st.head is None else pd.concat([st.head, head], ignore_index=True)
    st.head = merged.sort_values("risk_rank", kind="stable").head(st.top_n).reset_index(drop=True)


def _by(df: pd.DataFrame, key: pd.Series, name: str) -> pd.DataFrame:
    g = pd.DataFrame(
        {
            name: key.astype("string").fillna("(unknown)").to_numpy(),
            "lines": 1,
            "billed": df["billed_amount"].fillna(0.0).to_numpy(),
            "at_risk": df["expected_loss"].fillna(0.0).to_numpy(),
            "prob_sum": df["denial_probability"].fillna(0.0).to_numpy(),
            "high_lines": (df["risk_tier"].astype("string").str.lower() == "high")
            .fillna(False)
            .to_numpy(int),
        }
    )
    return g.groupby(name, sort=False).sum().reset_index()


def group_sum(frames: list[pd.DataFrame], key: str) -> pd.DataFrame:
    """The per-chunk tables of one grouping, summed (groups in order of first appearance)."""
    if not frames:
        return pd.DataFrame(columns=[key, *_GROUP_COLUMNS])
    return pd.concat(frames, ignore_index=True).groupby(key, sort=False, dropna=False).sum().reset_index()


def merge_items(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-chunk item counts, summed; most dollars at risk first (ties: more lines first)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["item", "lines", "at_risk"])
    out = pd.concat(frames, ignore_index=True).groupby("item", sort=False).sum().reset_index()
    return out.sort_values(["at_risk", "lines"], ascending=False, kind="stable").reset_index(drop=True)


def sorted_losses(st: Stats) -> np.ndarray:
    """Every line's expected loss, largest first: risk_rank's order for the cumulative sums.

    risk_rank orders the lines by expected_loss (ties by probability, which does
    not change the cumulative sums), so sorting the losses gives the curve
    without holding the ranks of a 10M-line file. Empties `st.losses`.
    """
    losses = np.concatenate(st.losses)
    st.losses.clear()
    losses.sort()
    return losses[::-1]


# --------------------------------------------------------------------------- items of `; `-separated columns


def _split_items(values: pd.Series, sep: str = REASON_SEP) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Items of a `sep`-separated column: (distinct items, item index, row index) per item."""
    arr = pa.array(values, from_pandas=True)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    parts = pc.split_pattern(pc.fill_null(arr, ""), sep)
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
    at_risk = (
        np.bincount(idx, weights=loss[parent], minlength=len(names)) if len(idx) else np.zeros(len(names))
    )
    return pd.DataFrame({"item": names, "lines": lines, "at_risk": at_risk})


def _split_counts(
    values: pd.Series, loss: np.ndarray, strip_tail: bool = False, sep: str = REASON_SEP
) -> pd.DataFrame:
    names, idx, parent = _split_items(values, sep)
    if strip_tail and names:
        # `add KX modifier → 12%` -> `add KX modifier`: re-index on the stripped names
        stripped = [ACTION_TAIL_RE.sub("", n) for n in names]
        uniq = list(dict.fromkeys(stripped))
        pos = {n: i for i, n in enumerate(uniq)}
        idx = np.asarray([pos[n] for n in stripped], dtype=np.int64)[idx]
        names = uniq
    return _count_items(names, idx, parent, loss)


def reason_keys(item: str) -> list[str]:
    """The reasons one `top_reasons` item counts under: none for a likely code (its own table), each
    document of "no A, B or C on file" and of "documents not recorded: A, B", the item itself else."""
    if LIKELY_RE.match(item):
        return []
    item = POINTS_RE.sub("", item)
    for pattern, word in ((NO_ON_FILE_RE, "no {} on file"), (NOT_RECORDED_RE, "{} not recorded")):
        found = pattern.match(item)
        if found:
            names = [n.strip() for n in re.split(r", | or | and ", found.group(1)) if n.strip()]
            return [word.format(n) for n in names]
    return [item]


def _reason_counts(values: pd.Series, loss: np.ndarray) -> pd.DataFrame:
    """Lines and dollars at risk per reason (`reason_keys`), each reason once per line."""
    names, idx, parent = _split_items(values)
    keys: dict[str, int] = {}
    pairs_item, pairs_key = [], []
    for i, n in enumerate(names):
        for k in dict.fromkeys(reason_keys(n)):
            pairs_item.append(i)
            pairs_key.append(keys.setdefault(k, len(keys)))
    if not keys:
        return pd.DataFrame(columns=["item", "lines", "at_risk"])
    kidx, kpar = _carcs_per_line(
        np.asarray(pairs_item, dtype=np.int64), np.asarray(pairs_key, dtype=np.int64), len(names), idx, parent
    )
    return _count_items(list(keys), kidx, kpar, loss)


def _carc_counts(df: pd.DataFrame, loss: np.ndarray) -> pd.DataFrame:
    """Predicted CARCs: each line's most likely code (`likely_denial_codes`), else a `predicted_carc`
    column, else the CARCs named in the reasons."""
    if "likely_denial_codes" in df.columns:
        first = (
            df["likely_denial_codes"].astype("string").str.split("|", n=1).str[0].str.split(" ", n=1).str[0]
        )
        names, idx, parent = _split_items(first)
        names = [n.upper() for n in names]
    elif "predicted_carc" in df.columns:
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
    cidx, cpar = _carcs_per_line(
        np.asarray(pairs_item, dtype=np.int64),
        np.asarray(pairs_code, dtype=np.int64),
        len(names),
        idx,
        parent,
    )
    return _count_items(list(codes), cidx, cpar, loss)


def _carcs_per_line(
    pairs_item: np.ndarray, pairs_code: np.ndarray, n_items: int, idx: np.ndarray, parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(CARC index, row index) for every item occurrence, through the item -> CARCs pairs (any
    one-to-many mapping of items: the reasons use it too)."""
    if len(pairs_item) == len(set(pairs_item.tolist())):  # one CARC per item: a lookup
        lut = np.full(n_items, -1, dtype=np.int64)
        lut[pairs_item] = pairs_code
        cidx = lut[idx]
        keep = cidx >= 0
        return cidx[keep], parent[keep]
    # some item names several: expand
    order = np.argsort(pairs_item, kind="stable")
    pairs_item, pairs_code = pairs_item[order], pairs_code[order]
    starts = np.searchsorted(pairs_item, idx, side="left")
    ends = np.searchsorted(pairs_item, idx, side="right")
    reps = ends - starts
    cpar = np.repeat(parent, reps)
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    return pairs_code[np.repeat(starts, reps) + offs], cpar
