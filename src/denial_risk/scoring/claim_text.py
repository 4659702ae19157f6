"""A claim's `top_reasons` and `recommended_actions`, merged from its lines' (docs/claims_worklist.md).

Each finding and each fix is said once, with the lines it concerns
(`no standard written order on file (lines 1-3)`):

* reasons: a claim's rejected lines first (`line 3 rejected: service_date: unparseable`), then
  the findings the lines' columns make certain, then what the model says (an attribution
  `(+12 points)`, the likely CARC); within each, by the best place the finding held in any of
  its lines' lists (the lines give their strongest first), then by how many lines it concerns,
  then by where it was first seen (lines in line-number order, each line's items in its order);
* fixes: best first, each with the claim risk it would leave, computed as the claim's
  probability with the fixed lines at the risk their own fixes state (`claim_probability`);
  advice without a stated risk follows, marked `advice:` as on the lines (`scoring.fixes`).

Texts are the lines' texts split at `wording.FIX_SEP` (`; `, the contract's separator); a fix and
its risk are joined by `wording.RISK_ARROW`, as `scoring.fixes` joins them.

A partition's claims are merged at once (`merged_reasons`, `merged_actions`), never a Python loop
per claim: each distinct text is split once (a partition's ~98k explained lines repeat ~16k reason
texts), each line's items are laid out one per row (`scoring.claim_items`), and a group-by over
(claim, item) gives each item's lines, best place and first sighting; the claim's log-survival sum
once a fix's lines are at their stated risk is a `np.bincount` over the fix's lines in line order
(the order a Python sum over them adds in). A claim's line numbers are distinct (`contract.normalize`
rejects a repeated claim_id+line_number).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.biller.wording import ADVICE_PREFIX, FIX_SEP, RISK_ARROW
from denial_risk.modeling.claim_risk import P_TOP, claim_probability
from denial_risk.scoring.claim_items import Items, among_first, by_claim, explode, group, line_ranges, strings
from denial_risk.scoring.fixes import format_risk

SEP = FIX_SEP
MAX_CLAIM_REASONS = 8  # project judgement: a claim's reasons stay readable on one worklist row
MAX_CLAIM_ACTIONS = 5
_RISK_LEFT = re.compile(rf"^(?P<text>.*){re.escape(RISK_ARROW)}(?P<pct>\d+(?:\.\d+)?)%$")
_MODEL_SAYS = re.compile(r"\(\+\d+ points\)$|^likely [A-Z]{2}-")

__all__ = ["claim_actions", "claim_reasons", "line_ranges", "merged_actions", "merged_reasons"]


def _reason_items(texts: list) -> Items:
    """Each distinct reasons text's items, each once at its first place."""
    ids: dict[str, int] = {}
    item, place, offsets = [], [], [0]
    for text in texts:
        if text:
            first: dict[str, int] = {}
            for at, said in enumerate(text.split(SEP)):
                first.setdefault(said, at)
            for said, at in first.items():
                item.append(ids.setdefault(said, len(ids)))
                place.append(at)
        offsets.append(len(item))
    return Items(np.array(offsets, np.int64), np.array(item, np.int64), np.array(place, np.int64), list(ids))


def merged_reasons(claim: np.ndarray, line: np.ndarray, texts: pa.Array, n: int) -> pa.Array:
    """`top_reasons` of claims 0..n-1 from their explained lines (`claim`, `line`: sorted by claim, then
    line number; `texts`: the lines' reasons), rejected lines not said ('' for a claim without)."""
    codes, distinct = strings(texts)
    items = _reason_items(distinct)
    row, flat = explode(codes, items.offsets)
    g = group(claim[row], items.item[flat], line[row])
    if not g.size:
        return by_claim(g.claim, pa.array([], pa.string()), n, 0)
    model = np.array([bool(_MODEL_SAYS.search(said)) for said in items.names], dtype=bool)
    best = np.minimum.reduceat(items.place[flat][g.order], g.start)
    rank = np.lexsort((g.first, -g.lines, best, model[g.key], g.claim))
    names = pa.array(items.names, pa.string()).take(pa.array(g.key[rank]))
    said = pc.binary_join_element_wise(names, " (", g.ranges.take(pa.array(rank)), ")", "")
    return by_claim(g.claim[rank], said, n, MAX_CLAIM_REASONS)


def with_rejects(said: str, rejected) -> str:
    """A claim's reasons with its rejected lines ([(line, why)]) said first."""
    return SEP.join([*(f"line {ln} rejected: {why}" for ln, why in rejected), *([said] if said else [])])


def _fix_items(texts: list) -> tuple[Items, np.ndarray]:
    """Each distinct fixes text's fixes, each name once at its first place with its last stated risk
    (`Items.place`: 1 if a risk is stated, else 0), and each such risk's log-survival (NaN for advice)."""
    ids: dict[str, int] = {}
    parsed: dict[str, tuple[str, float]] = {}
    item, stated, log_left, offsets = [], [], [], [0]
    for text in texts:
        if text:
            left_of: dict[str, float] = {}
            for said in text.split(SEP):
                got = parsed.get(said)
                if got is None:
                    got = parsed[said] = _fix_item(said)
                left_of[got[0]] = got[1]
            for name, log in left_of.items():
                item.append(ids.setdefault(name, len(ids)))
                stated.append(not math.isnan(log))
                log_left.append(log)
        offsets.append(len(item))
    items = Items(
        np.array(offsets, np.int64), np.array(item, np.int64), np.array(stated, np.int64), list(ids)
    )
    return items, np.array(log_left, dtype=float)


def _fix_item(item: str) -> tuple[str, float]:
    """A line's fix: its text without the risk, and the log-survival of the risk it leaves (NaN for
    advice, said as advice)."""
    m = _RISK_LEFT.match(item)
    if not m:
        return (item if item.startswith(ADVICE_PREFIX) else ADVICE_PREFIX + item), math.nan
    return m["text"], _log_survival(float(m["pct"]) / 100.0)


def merged_actions(claim, line, p_line, texts: pa.Array, logs, lines, calibration) -> pa.Array:
    """`recommended_actions` of claims 0..len(logs)-1 from their explained lines (`claim`, `line`,
    `p_line`: sorted by claim, then line number; `texts`: the lines' fixes), each fix with the claim
    risk it leaves (from the claims' log-survival sums `logs` and line counts `lines`), best first."""
    n = len(logs)
    codes, distinct = strings(texts)
    items, log_left = _fix_items(distinct)
    row, flat = explode(codes, items.offsets)
    g = group(claim[row], items.item[flat], line[row])
    if not g.size:
        return by_claim(g.claim, pa.array([], pa.string()), n, 0)
    stated = items.place[flat] == 1
    rows = row[stated]
    base = np.array([_log_survival(v) for v in np.asarray(p_line, dtype=float)[rows].tolist()], dtype=float)
    # per fix, its stated lines in line order: `np.bincount` adds each group's weights in array order
    moved = np.bincount(g.of[stated], log_left[flat][stated] - base, minlength=g.size)
    has = np.bincount(g.of[stated], minlength=g.size) > 0
    sums = np.where(has, np.asarray(logs, dtype=float)[g.claim] + moved, np.nan)
    risks = claim_probability(calibration, np.nan_to_num(sums), np.asarray(lines)[g.claim])
    rank = np.lexsort((g.first, np.where(has, risks, 0.0), ~has, g.claim))
    rank = rank[among_first(g.claim[rank], MAX_CLAIM_ACTIONS)]  # risks formatted for these only
    names = pa.array(items.names, pa.string()).take(pa.array(g.key[rank]))
    said = pc.binary_join_element_wise(names, " (", g.ranges.take(pa.array(rank)), ")", "")
    left = [format_risk(r) if h else "" for r, h in zip(risks[rank].tolist(), has[rank].tolist())]
    said = pc.if_else(
        pa.array(has[rank]), pc.binary_join_element_wise(said, pa.array(left, pa.string()), RISK_ARROW), said
    )
    return by_claim(g.claim[rank], said, n, MAX_CLAIM_ACTIONS)


def claim_reasons(line_numbers, reasons, rejected: list[tuple[str, str]] = ()) -> str:
    """One claim's `top_reasons` from its lines' (and its rejected lines, first)."""
    o = np.argsort(np.asarray(line_numbers, dtype=np.int64), kind="stable")
    line = np.asarray(line_numbers, dtype=np.int64)[o]
    said = merged_reasons(np.zeros(len(o), np.int64), line, _texts(reasons, o), 1)[0].as_py()
    return with_rejects(said, rejected)


def claim_actions(line_numbers, actions, p_line, calibration, log_survival_sum: float, lines: int) -> str:
    """One claim's `recommended_actions`: each fix once, best first, with the claim risk it leaves."""
    o = np.argsort(np.asarray(line_numbers, dtype=np.int64), kind="stable")
    line = np.asarray(line_numbers, dtype=np.int64)[o]
    p = np.asarray(p_line, dtype=float)[o]
    got = merged_actions(
        np.zeros(len(o), np.int64), line, p, _texts(actions, o), [log_survival_sum], [lines], calibration
    )
    return got[0].as_py()


def _texts(texts, order: np.ndarray) -> pa.Array:
    """Python or numpy texts (None or a non-string for none) as an Arrow string array, in `order`."""
    listed = list(texts)
    return pa.array([listed[k] if isinstance(listed[k], str) else None for k in order], pa.string())


def _log_survival(p: float) -> float:
    """`modeling.claim_risk.log_survival` for one number (no array overhead; the same clip, NaN kept)."""
    if p < 0.0:
        p = 0.0
    elif p > P_TOP:
        p = P_TOP
    return math.log1p(-p)
