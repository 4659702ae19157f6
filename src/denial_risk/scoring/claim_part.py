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
from denial_risk.scoring.claim_text import merged_actions, merged_reasons, with_rejects

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
            "top_reasons": reasons,
            "recommended_actions": actions,
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
    its rejected ones ('' for a claim with neither), as Arrow arrays."""
    n = len(ids)
    if texts_path is not None:
        t = pq.read_table(texts_path, use_threads=False)
        at = np.searchsorted(pos, t.column("pos").to_numpy())  # the partition's lines are in file order
        c, ln, pl = codes[at], line[at], p[at]
        o = np.lexsort((ln, c))
        c, ln, pl, take = c[o], ln[o], pl[o], pa.array(o)
        reasons = merged_reasons(c, ln, t.column("top_reasons").take(take), n)
        actions = merged_actions(
            c, ln, pl, t.column("recommended_actions").take(take), logs, lines, calibration
        )
        del t
    else:
        reasons = actions = pa.array([""] * n, pa.string())
    rejects = _rejected_codes(rejected, ids)
    if rejects:  # few claims: their texts replaced, the rest taken as they are
        said = [with_rejects(reasons[k].as_py(), items) for k, items in rejects.items()]
        index = np.arange(n)
        index[list(rejects)] = n + np.arange(len(said))
        reasons = pa.concat_arrays([reasons, pa.array(said, pa.string())]).take(pa.array(index))
    return reasons, actions
