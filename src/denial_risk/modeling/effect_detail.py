"""Effects that vary inside a payer cell: by the billed amount's band, or by the code within its group.

A payer may want a letter only above an amount, or prior authorization for two codes of a
group and not the rest. The cell's average effect is then diluted: too small where the rule
binds, too large where it does not. `modeling.effects` fits the same penalised logistic
regression's defect terms again, on the lines with the defect in each cell, split into
sub-cells (each sub-cell's effect on top of everything else the main fit learned: its linear
predictor, without the cell's own defect term, is the offset):

* by amount band: the cell's billed amounts of the lines with the defect cut at their
  terciles (three bands, the cuts stored);
* by code: each code with `MIN_LINES` lines with the defect its own sub-cell, the rest
  together ("other").

Each sub-cell gets its own estimate and standard error (no borrowing between sub-cells,
so the listing rule's lower bound stays honest). A cell keeps its sub-cell estimates only
when they differ beyond their noise: Cochran's Q test of the sub-cell estimates against
their precision-weighted mean, at p < `HETEROGENEITY_P` (hundreds of cells are tested; at
0.05 dozens of homogeneous cells would be split and lose precision for nothing). Where
both splits pass, the one with the smaller p-value is kept. After a rule change
(`modeling.changes`) only the lines since the change are split.

Chosen over a cross-fitted boosted T-learner: the remits hold a few hundred lines with a
defect per cell, the interval a listing needs comes directly from the split fit, and the
splits read as a payer's rule ("above $1,500", "L1906 and L1971").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

HETEROGENEITY_P = 1e-3
MIN_LINES = 20  # lines with the defect a sub-cell needs (as a cell does)
N_BANDS = 3


def _defect_any(cand, r: str) -> np.ndarray:
    return cand.present[r] | cand.unknown[r]


def _cell_rows(codes: np.ndarray, n_cells: int) -> list[np.ndarray]:
    """Each cell's line positions (one sort, not a pass over every line per cell)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_cells + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(n_cells)]


def band_labels(amount: np.ndarray, cand, cells_of: dict) -> tuple[dict, dict]:
    """(per remedy: each line's band label, per "remedy|cell": the cuts). Terciles of the cell's billed
    amounts among its lines with the defect; a line without an amount goes to the middle band."""
    labels, cuts = {}, {}
    amount = np.asarray(amount, dtype=float)
    for r, (codes, uniq) in cells_of.items():
        mask = _defect_any(cand, r)
        lab = np.full(len(amount), "", dtype=object)
        counts = np.bincount(codes[mask], minlength=len(uniq))
        rows_of = _cell_rows(codes, len(uniq))
        for k in np.flatnonzero(counts >= N_BANDS * MIN_LINES):
            rows = rows_of[k]
            known = amount[rows[mask[rows]]]
            known = known[~np.isnan(known)]
            if len(known) < N_BANDS * MIN_LINES:
                continue
            c = np.quantile(known, np.arange(1, N_BANDS) / N_BANDS)
            if len(np.unique(c)) < N_BANDS - 1:
                continue
            a = amount[rows]
            band = np.where(np.isnan(a), N_BANDS // 2, np.searchsorted(c, a, side="right"))
            lab[rows] = np.array([f"band{b}" for b in range(N_BANDS)], dtype=object)[band]
            cuts[f"{r}|{uniq[k]}"] = [float(x) for x in c]
        labels[r] = lab
    return labels, cuts


def code_labels(code: np.ndarray, cand, cells_of: dict) -> dict:
    """Per remedy: each line's code label ("" outside cells with two codes of `MIN_LINES` lines)."""
    labels = {}
    number, names = pd.factorize(pd.Series(code, dtype=object).astype(str))
    names = np.append(np.asarray(names, dtype=object), "other")
    other = len(names) - 1
    for r, (codes, uniq) in cells_of.items():
        mask = _defect_any(cand, r)
        lab = np.full(len(number), "", dtype=object)
        counts = np.bincount(codes[mask], minlength=len(uniq))
        rows_of = _cell_rows(codes, len(uniq))
        for k in np.flatnonzero(counts >= 2 * MIN_LINES):
            rows = rows_of[k]
            values, n = np.unique(number[rows[mask[rows]]], return_counts=True)
            own = values[n >= MIN_LINES]
            if len(own) == 0 or len(own) == len(values) == 1:
                continue
            lab[rows] = names[np.where(np.isin(number[rows], own), number[rows], other)]
        labels[r] = lab
    return labels


def split_parts(in_cell: np.ndarray, labels: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
    """The cell's lines by sub-cell label, or the whole cell ("") when a band has too few lines. Codes
    with fewer than `MIN_LINES` lines go to "other" (and the smallest codes with them, until it has
    enough)."""
    whole = [("", in_cell)]
    if labels is None:
        return whole
    lab = labels[in_cell].astype(str)
    if len(lab) == 0 or (lab == "").any():
        return whole
    values, n = np.unique(lab, return_counts=True)
    if not values[0].startswith("band"):
        lab = np.where(np.isin(lab, values[n < MIN_LINES]), "other", lab)
        values, n = np.unique(lab, return_counts=True)
        while "other" in values and n[values == "other"][0] < MIN_LINES and len(values) > 2:
            named = values != "other"
            lab[lab == values[named][np.argmin(n[named])]] = "other"
            values, n = np.unique(lab, return_counts=True)
    if len(values) < 2 or n.min() < MIN_LINES:
        return whole
    full = np.full(len(in_cell), "", dtype=object)
    full[in_cell] = lab
    return [(str(v), in_cell & (full == v)) for v in values]


def _q_test(est: list[tuple[float, float]]) -> float:
    """Cochran's Q p-value: do the sub-cell estimates differ beyond their standard errors?"""
    b = np.array([x[0] for x in est])
    w = 1.0 / np.array([x[1] for x in est]) ** 2
    mean = np.sum(w * b) / np.sum(w)
    return float(stats.chi2.sf(np.sum(w * (b - mean) ** 2), len(b) - 1))


def offset_fit(
    y: np.ndarray,
    offset: np.ndarray,
    group: np.ndarray,
    k: int,
    w: np.ndarray,
    clusters: np.ndarray,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(beta, se) per sub-cell of a penalised logistic regression with an offset: the sub-cells' effects
    on top of the main fit. Each line is in one sub-cell (`group`), so the likelihood separates and
    Newton's steps run for all of them at once. The standard error is the larger of the model-based
    and the cluster-robust (by claim) one, as in the main fit."""
    b = np.zeros(k)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(offset + b[group])))
        grad = np.bincount(group, w * (y - p), minlength=k) - ridge * b
        hess = np.bincount(group, w * p * (1 - p), minlength=k) + ridge
        step = grad / hess
        b += np.clip(step, -5, 5)
        if np.max(np.abs(step)) < 1e-8:
            break
    p = 1.0 / (1.0 + np.exp(-(offset + b[group])))
    hess = np.bincount(group, w * p * (1 - p), minlength=k) + ridge
    codes, uniq = pd.factorize(pd.Series(clusters, dtype=object))
    per_claim = np.bincount(codes * k + group, w * (y - p), minlength=len(uniq) * k)  # score sums
    meat = (per_claim.reshape(len(uniq), k) ** 2).sum(axis=0)
    return b, np.sqrt(np.maximum(meat / hess**2, 1.0 / hess))


def choose(by_band: dict, by_code: dict, cuts: dict) -> dict:
    """Per "remedy|state|cell" whose effect varies inside it: the split and its sub-cell estimates
    (plain lists, so they save with the model). Estimates: (remedy, state, cell, label) -> (beta, se)."""
    out: dict[str, dict] = {}
    for kind, est, meta in (("band", by_band, cuts), ("code", by_code, {})):
        groups: dict[tuple, list] = {}
        for (r, s, cell, label), (b, e) in est.items():
            if label and np.isfinite(b) and e > 0:
                groups.setdefault((r, s, cell), []).append((label, b, e))
        for (r, s, cell), items in groups.items():
            if len(items) < 2:
                continue
            p = _q_test([(b, e) for _, b, e in items])
            key = f"{r}|{s}|{cell}"
            if p < HETEROGENEITY_P and p < out.get(key, {}).get("p", 1.0):
                out[key] = {
                    "by": kind,
                    "p": p,
                    "labels": [x[0] for x in items],
                    "beta": [float(x[1]) for x in items],
                    "se": [float(x[2]) for x in items],
                    "cuts" if kind == "band" else "codes": (
                        meta[f"{r}|{cell}"] if kind == "band" else [x[0] for x in items if x[0] != "other"]
                    ),
                }
    return out


def line_values(entry: dict, lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(beta, se) for lines of one split cell (NaN where the line's sub-cell is not known: no amount)."""
    n = len(lines)
    if entry["by"] == "band":
        if "billed_amount" not in lines:
            return np.full(n, np.nan), np.full(n, np.nan)
        a = pd.to_numeric(lines["billed_amount"], errors="coerce").to_numpy(dtype=float)
        band = np.searchsorted(np.asarray(entry["cuts"]), a, side="right")
        label = np.where(np.isnan(a), "", np.char.add("band", band.astype(str)))
    else:
        code = lines["hcpcs_code"].astype("string").fillna("").to_numpy(dtype=object).astype(str)
        label = np.where(np.isin(code, entry["codes"]), code, "other")
    where = {lab: i for i, lab in enumerate(entry["labels"])}
    codes, uniq = pd.factorize(pd.Series(label, dtype=object))
    idx = np.array([where.get(str(u), -1) for u in uniq] + [-1], dtype=np.int64)[codes]
    beta = np.append(np.asarray(entry["beta"], dtype=float), np.nan)[idx]
    se = np.append(np.asarray(entry["se"], dtype=float), np.nan)[idx]
    return beta, se
