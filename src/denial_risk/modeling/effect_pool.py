"""Small payer cells borrow from the same fix in the same group at other payers (empirical Bayes).

A payer cell with fifty lines missing a letter of medical necessity gives an effect of about
1.2 logits with a standard error near 0.45: its one-sided 99 % lower bound falls short of the
listing rule (`scoring.fixes`), although most payers in the data deny such hospital beds and
wheelchairs without the letter just as often (issue 20: the letter's recall 0.81, its misses
in cells of 40 to 90 lines). So per remedy, state and policy group (the cell's scope: its
part after the payer), the payers' estimates are read as draws around a common mean with a
spread tau between payers (random effects; tau by DerSimonian and Laird, floored at `TAU_MIN`
so that payers are never assumed alike), and each cell's estimate becomes its posterior:

    B = se^2 / (se^2 + tau^2),  beta' = mu + (1 - B)(beta - mu),
    se'^2 = (1 - B) se^2 + B^2 var(mu)      (Morris's approximation: mu's own noise counted)

A large cell barely moves (B near 0); a small one moves toward what its peers show, by as
much as their spread allows, and its interval narrows only by what the peers truly add. A
payer whose rule differs (tau large) keeps its own estimate. Cells whose rule changed
(`modeling.changes`) keep their own estimate since the change, and are not peers: their
effect is not the group's. A scope with fewer than `MIN_PEERS` payers is left as it is.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

MIN_PEERS = 4  # payer cells of a remedy, state and group for a spread between payers to be read
TAU_MIN = 0.3  # the least spread assumed between payers (logits; project judgement)


def _scope(cell: str) -> str:
    return cell.partition("|")[2]


def pooled(main: dict) -> dict:
    """`main`: (remedy, state, cell, sub-cell) -> (beta, se, changed, since) as `modeling.effects`
    collects it. The same with each unchanged whole cell's (beta, se) replaced by its posterior."""
    groups: dict[tuple, list] = defaultdict(list)
    for key, (beta, se, moved, _) in main.items():
        r, s, cell, label = key
        if not moved and label == "" and np.isfinite(beta) and np.isfinite(se) and se > 0:
            groups[(r, s, _scope(cell))].append(key)
    out = dict(main)
    for keys in groups.values():
        if len(keys) < MIN_PEERS:
            continue
        b = np.array([main[k][0] for k in keys])
        v = np.array([main[k][1] for k in keys]) ** 2
        w = 1 / v
        mu_fixed = np.sum(w * b) / np.sum(w)
        q = np.sum(w * (b - mu_fixed) ** 2)
        tau2 = max((q - (len(b) - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)), TAU_MIN**2)
        w_re = 1 / (v + tau2)
        mu = np.sum(w_re * b) / np.sum(w_re)
        var_mu = 1 / np.sum(w_re)
        shrink = v / (v + tau2)
        post = mu + (1 - shrink) * (b - mu)
        post_se = np.sqrt((1 - shrink) * v + shrink**2 * var_mu)
        for k, pb, ps in zip(keys, post, post_se):
            out[k] = (float(pb), float(ps), main[k][2], main[k][3])
    return out
