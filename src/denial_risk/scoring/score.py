"""Scoring claim lines in memory: the core the pyfunc and the server share.

`score_request` takes raw claim lines (any accepted form), normalises them,
scores the scorable ones and gives each input line its added columns, or its
`reject_reason` — a bad line never fails the batch. The columns are added by
`scoring.explain.scored_columns`, as the worklist adds them (every line explained).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.normalize import REJECT_REASON, normalize_chunk

REQUEST_OUTPUT = (
    *schema.ADDED,
    "claim_denial_probability",  # the line's claim, as far as the request holds its lines (scoring.claims)
    REJECT_REASON,
)


def rank_by_expected_loss(expected_loss: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """1 = the line to work first: highest expected loss, ties broken by probability."""
    order = np.lexsort((-probability, -expected_loss))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks


def annotate(model, clean: pd.DataFrame) -> pd.DataFrame:
    """Probability, expected loss, tier, reasons, fixes and predicted CARCs for normalised rows: every
    line explained (`--explain-all`), through the one function that adds the contract's columns for
    both engines (`scoring.explain.scored_columns`)."""
    from denial_risk.scoring.explain import ExplainPolicy, scored_columns

    return scored_columns(model, clean, ExplainPolicy("all"))[0]


class _DuplicatesPerRequest:
    """The duplicate-key tracker `normalize_chunk` asks, for several requests scored as one frame:
    a (claim_id, line_number) repeats only within its own request, as if each were scored alone."""

    def __init__(self, request_of_row: np.ndarray):
        self.request_of_row = request_of_row

    def mark(self, claim_id: pd.Series, line_number: pd.Series) -> np.ndarray:
        keys = pd.DataFrame(
            {
                "request": self.request_of_row[claim_id.index.to_numpy()],
                "claim_id": claim_id.to_numpy(),
                "line_number": line_number.to_numpy(),
            }
        )
        return keys.duplicated().to_numpy()


def _is_text(column: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(column) or column.dtype == object


def _prepared(raw: pd.DataFrame) -> pd.DataFrame:
    """Text columns (str or object) as pandas strings, cell by cell; other dtypes as they are."""
    raw = pd.DataFrame(raw).reset_index(drop=True)
    for col in raw.columns:
        if _is_text(raw[col]):
            raw[col] = raw[col].astype("string")
    return raw


def _merged(raws: list[pd.DataFrame]) -> pd.DataFrame:
    """`_prepared(pd.concat(raws))`, column by column: text cells cast once (as `_prepared` casts
    them), other columns (one dtype in a group) concatenated; far cheaper than pd.concat of
    many one-line frames."""
    columns = {}
    for c in raws[0].columns:
        if _is_text(raws[0][c]):
            cells = np.concatenate([r[c].to_numpy(dtype=object) for r in raws])
            columns[c] = pd.Series(cells, dtype=object).astype("string")
        else:
            columns[c] = pd.concat([r[c] for r in raws], ignore_index=True)
    return pd.DataFrame(columns)


def _ranks_within(request: np.ndarray, expected_loss: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """`rank_by_expected_loss` computed separately within each request (rows sorted by request)."""
    order = np.lexsort((-probability, -expected_loss, request))
    sorted_request = request[order]
    first = np.searchsorted(sorted_request, sorted_request, side="left")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - first + 1
    return ranks


def claim_probability_within(model, request: np.ndarray, claim_id: pd.Series, p: np.ndarray) -> np.ndarray:
    """Per line, the calibrated probability of its claim (`modeling.claim_risk`) over the scored lines of
    that claim in the same request: what the claim worklist gives a claim whose lines are all there."""
    from denial_risk.modeling.claim_risk import claim_probability, log_survival

    keys = pd.DataFrame({"request": request, "claim_id": claim_id.astype("string").to_numpy(dtype=object)})
    codes = keys.groupby(["request", "claim_id"], sort=False, dropna=False).ngroup().to_numpy()
    n = int(codes.max()) + 1 if len(codes) else 0
    sums = np.bincount(codes, weights=log_survival(p), minlength=n)
    lines = np.bincount(codes, minlength=n)
    calibration = (getattr(model, "info", None) or {}).get("claim_calibration")
    return claim_probability(calibration, sums, lines)[codes]


def _score_alike(model, raws: list[pd.DataFrame], policy=None) -> list[pd.DataFrame]:
    """Requests with the same columns and dtypes, normalised, scored and put back as one frame,
    then cut into one answer each (all per-row work is done once, not once per request)."""
    sizes = [len(r) for r in raws]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    merged = _prepared(raws[0]) if len(raws) == 1 else _merged(raws)
    columns = score_table(model, merged, sizes, policy)
    out = pd.DataFrame({c: pd.Series(cells, dtype=object) for c, cells in columns.items()})
    return [out.iloc[bounds[k] : bounds[k + 1]].reset_index(drop=True) for k in range(len(raws))]


def score_table(model, merged: pd.DataFrame, sizes: list[int], policy=None) -> dict[str, np.ndarray]:
    """Several requests as one prepared table (text columns as pandas strings, a 0..n-1 index),
    the first `sizes[0]` rows the first request's, and so on: `REQUEST_OUTPUT`, one object array
    each (None, never NaN), each row answered as if its request were scored alone. The server's
    fast path (registry/serving_fast.py) builds such a table from JSON without a frame per request.
    `policy`: as `score_requests`'s."""
    request = np.repeat(np.arange(len(sizes)), sizes)
    clean, rejects = normalize_chunk(
        merged, duplicates=_DuplicatesPerRequest(request) if len(sizes) > 1 else None
    )
    n = len(merged)
    columns = {c: np.full(n, None, dtype=object) for c in REQUEST_OUTPUT}
    if len(clean):
        scored = annotate(model, clean) if policy is None else _by_policy(model, clean, policy)
        pos = scored.index.to_numpy()
        for c in scored.columns:
            if c in columns:
                columns[c][pos] = scored[c].to_numpy()
        columns["risk_rank"][pos] = _ranks_within(
            request[pos], scored["expected_loss"].to_numpy(), scored["denial_probability"].to_numpy()
        )
        columns["claim_denial_probability"][pos] = claim_probability_within(
            model, request[pos], clean["claim_id"], scored["denial_probability"].to_numpy()
        )
    if len(rejects):
        columns[REJECT_REASON][rejects.index.to_numpy()] = rejects[REJECT_REASON].to_numpy()
    for cells in columns.values():
        cells[pd.isna(cells)] = None  # None, not NaN: the server's JSON must parse in strict clients
    return columns


def _by_policy(model, clean: pd.DataFrame, policy) -> pd.DataFrame:
    """The worklist's pass-1 columns (`scoring.explain.scored_columns`): the policy's lines explained,
    the rule layer's certain findings on the others, the stage judged against `policy.as_of`."""
    from denial_risk.scoring.explain import scored_columns

    return scored_columns(model, clean, policy)[0]


def score_requests(model, raws: list[pd.DataFrame], policy=None) -> list[pd.DataFrame]:
    """`score_request` for each of several requests, computed together.

    Scoring costs mostly per call, not per line, so a server scores the requests that
    arrive together in one pass; each answer is what `score_request` gives it alone
    (duplicates, rejects and ranks are per request; requests whose columns or non-text
    dtypes differ are normalised apart). `policy` (`scoring.explain.ExplainPolicy`, a request's
    params: `scoring.request_params`): which lines are explained and the as-of day; None: every
    line, as of today.
    """
    frames = [pd.DataFrame(r) for r in raws]
    groups: dict[tuple, list[int]] = {}
    for i, frame in enumerate(frames):
        # text columns are cast cell by cell, so str and object columns may share a frame
        key = tuple((str(c), "text" if _is_text(frame[c]) else str(frame[c].dtype)) for c in frame.columns)
        groups.setdefault(key, []).append(i)
    results: list[pd.DataFrame | None] = [None] * len(frames)
    for members in groups.values():
        for i, out in zip(members, _score_alike(model, [frames[i] for i in members], policy)):
            results[i] = out
    return results


def score_request(model, raw: pd.DataFrame, policy=None) -> pd.DataFrame:
    """One output row per input row, in input order (rank within the request)."""
    return score_requests(model, [raw], policy)[0]
