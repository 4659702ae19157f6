"""One partition of the claim worklist: its claims' rows, from its lines' keys and explained texts.

`scoring.claims` routes every scored line to a partition by a hash of its claim id, so a
claim's lines all land in one partition wherever they stand in the file. A partition holds
about `claims.PARTITION_LINES` lines; building it holds those lines' keys and their explained
texts at once, never the file's. Per claim: sums by `np.bincount` over dictionary codes, the
first line's payer and the first service day, the claim probability
(`modeling.claim_risk`), its tier, the lines at risk, and the merged reasons and fixes
(`scoring.claim_text`). The rank is file-wide, so it is given later (`claims.ClaimCollector`);
the row keeps the first line's file position, the rank's last tie-break.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from denial_risk.contract import schema
from denial_risk.modeling.claim_risk import claim_probability, log_survival
from denial_risk.scoring.claim_text import (
    claim_reasons,
    clear_text_caches,
    format_actions,
    one_line_plan,
    one_line_reasons,
    plan_actions,
)

TIER_CODE = {"low": 0, "medium": 1, "high": 2}
TIER_NAMES = np.array(["low", "medium", "high"], dtype=object)  # by TIER_CODE
FIRST_POS = "first_pos"  # the claim's first line's position in the file: the rank's last tie-break
TIER_WINDOW = 32_768  # claims given a tier at a time (`model.tier`'s strings are 24 bytes a claim)


@dataclass
class Part:
    """A built partition: its claims' rows (no rank yet) and the three rank keys, as arrays."""

    rows: pa.Table
    expected_loss: np.ndarray
    probability: np.ndarray
    first_pos: np.ndarray


def build_part(keys_path: Path, texts_path: Path | None, rejected: dict, model) -> Part:
    """The claims of one partition (`keys_path`: its lines in file order; `texts_path`: its explained
    lines' texts by position; `rejected`: claim id -> [(line, why)] of the whole file)."""
    keys = pq.read_table(keys_path, use_threads=False)
    encoded = keys.column("claim_id").combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    ids = encoded.dictionary
    n = len(ids)

    def col(name: str) -> np.ndarray:
        return keys.column(name).to_numpy()

    lines = np.bincount(codes, minlength=n)
    logs = np.bincount(codes, log_survival(col("denial_probability")), n)
    expected_loss = np.bincount(codes, col("expected_loss"), n)
    # dictionary codes are given in first-seen order: a code above all before it is its claim's first line
    first = np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]) if n else codes
    first_day = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(first_day, codes, col("service_day"))
    calibration = (getattr(model, "info", None) or {}).get("claim_calibration")
    prob = claim_probability(calibration, logs, lines)
    tier = _tier_codes(model, prob)
    pos = col("pos")
    line = col("line_number")
    reasons, actions = _texts(
        texts_path, pos, codes, line, col("denial_probability"), ids, logs, lines, rejected, calibration
    )
    clear_text_caches()
    take = pa.array(first, pa.int64())
    rows = pa.table(
        {
            "claim_id": ids,
            "payer_id": keys.column("payer_id").take(take),
            "payer_type": keys.column("payer_type").take(take),
            "first_service_date": pa.array(first_day.astype(np.int64).astype("datetime64[D]"), pa.date32()),
            "lines": pa.array(lines.astype(np.int64)),
            "billed_amount": pa.array(np.bincount(codes, col("billed_amount"), n)),
            "claim_denial_probability": pa.array(prob),
            "expected_loss": pa.array(expected_loss),
            "risk_tier": pa.array(TIER_NAMES[tier], pa.string()),
            "lines_at_risk": _lines_at_risk(codes, line, col("tier"), n),
            "top_reasons": pa.array(reasons, pa.string()),
            "recommended_actions": pa.array(actions, pa.string()),
            FIRST_POS: pa.array(pos[first].astype(np.int64)),
        }
    )
    return Part(rows, expected_loss, prob, pos[first].astype(np.int64))


def _tier_codes(model, prob: np.ndarray) -> np.ndarray:
    """`model.tier` as int8 codes (`TIER_CODE`), a window at a time."""
    out = np.zeros(len(prob), dtype=np.int8)
    for lo in range(0, len(prob), TIER_WINDOW):
        names = model.tier(prob[lo : lo + TIER_WINDOW])
        for name, code in TIER_CODE.items():
            out[lo : lo + TIER_WINDOW][names == name] = code
    return out


def _lines_at_risk(codes: np.ndarray, line: np.ndarray, tier: np.ndarray, n: int) -> pa.Array:
    """`|`-joined line numbers at medium tier or above, per claim ('' when none), as one Arrow array."""
    at = np.flatnonzero(tier >= TIER_CODE["medium"])
    o = at[np.lexsort((line[at], codes[at]))]
    counts = np.bincount(codes[o], minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pc.cast(pa.array(line[o]), pa.string())
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), values), schema.LIST_SEP)


def _rejected_codes(rejected: dict, ids: pa.Array) -> dict[int, list]:
    """The partition's claims with rejected lines: code -> [(line, why)]."""
    if not rejected or not len(ids):
        return {}
    names = list(rejected)
    got = pc.index_in(pa.array(names, pa.string()), value_set=ids).fill_null(-1)
    codes = got.to_numpy(zero_copy_only=False)
    return {int(c): rejected[nm] for nm, c in zip(names, codes) if c >= 0}


def _texts(texts_path, pos, codes, line, p, ids, logs, lines, rejected, calibration):
    """Per claim (by code): `top_reasons` and `recommended_actions` merged from its explained lines and
    its rejected ones ('' for a claim with neither)."""
    n = len(ids)
    reasons = np.full(n, "", dtype=object)
    actions = np.full(n, "", dtype=object)
    rejects = _rejected_codes(rejected, ids)
    if texts_path is not None:
        t = pq.read_table(texts_path, use_threads=False)
        at = np.searchsorted(pos, t.column("pos").to_numpy())  # the partition's lines are in file order
        c, ln, pl = codes[at], line[at], p[at]
        o = np.lexsort((ln, c))
        line_reasons = t.column("top_reasons").to_numpy(zero_copy_only=False)[o]
        line_actions = t.column("recommended_actions").to_numpy(zero_copy_only=False)[o]
        c, ln, pl = c[o], ln[o], pl[o]
        del t
    else:
        c = np.empty(0, np.int32)
    bounds = np.flatnonzero(np.diff(c)) + 1
    plans, owner = [], []
    starts, ends = np.r_[0, bounds].tolist(), np.r_[bounds, len(c)].tolist()
    if len(c):  # as Python numbers: most claims have one explained line, said without the merge
        c_, ln_, pl_, logs_ = c.tolist(), ln.tolist(), pl.tolist(), logs.tolist()
    for lo, hi in zip(starts, ends):
        if hi <= lo:
            continue
        k = c_[lo]
        if hi == lo + 1 and k not in rejects:
            reasons[k] = one_line_reasons(ln_[lo], line_reasons[lo])
            plan = one_line_plan(ln_[lo], line_actions[lo], pl_[lo], logs_[k])
        else:
            reasons[k] = claim_reasons(ln[lo:hi], line_reasons[lo:hi], rejects.pop(k, ()))
            plan = plan_actions(ln[lo:hi], line_actions[lo:hi], pl[lo:hi], float(logs[k]))
        plans.append((k, plan))
        owner.extend([k] * len(plan))
    for k, items in rejects.items():  # rejected lines and no explained line: the rejects alone
        reasons[k] = claim_reasons([], [], items)
    sums = np.array([np.nan if s is None else s for _, plan in plans for _, s in plan], dtype=float)
    owner = np.asarray(owner, dtype=np.int64)
    risks = claim_probability(calibration, np.nan_to_num(sums), lines[owner]) if len(owner) else sums
    at = 0
    for k, plan in plans:
        actions[k] = format_actions(plan, risks[at : at + len(plan)])
        at += len(plan)
    return reasons, actions
