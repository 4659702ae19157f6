"""The static catalogue: the world's HCPCS codes (policy groups plus invalid ones) and diagnosis pools.

Built once per process from the reference files and the policy table (`_catalog`, `_diagnoses` are
cached); a run's random stream only picks from them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from denial_risk.contract import policy, reference, schema
from denial_risk.synth.world import (
    COMORBIDITIES,
    DOC_FLAGS,
    GROUP_FEES,
    GROUP_SHARES,
    INVALID_DIAGNOSES,
    INVALID_HCPCS,
    POPULAR_CODES,
)


@dataclass(frozen=True)
class Catalog:
    codes: np.ndarray  # object, all codes (valid policy codes, then the invalid ones)
    group: np.ndarray  # int, index into groups; -1 = no policy
    groups: tuple[str, ...]
    sided: np.ndarray  # suppliers write a side (the table's `sided`, or upper-limb items)
    custom: np.ndarray
    unit_limit: np.ndarray  # int, large when none
    lifetime: np.ndarray  # bool: has a useful lifetime
    expected: np.ndarray  # (codes, DOC_FLAGS) bool (prior auth column unused)
    fee: np.ndarray
    by_group: tuple[np.ndarray, ...]  # code indices per group, popular first
    weights: tuple[np.ndarray, ...]  # draw probabilities per group
    invalid_kind: np.ndarray  # object: "" or the defect name
    n_valid: int


@lru_cache(maxsize=1)
def _catalog() -> Catalog:
    level2 = sorted(reference.hcpcs_level2_codes())
    s = pd.Series(level2, dtype="string")
    pol = policy.policy_for_codes(s)
    keep = pol["policy_group"].notna().to_numpy()
    groups = tuple(GROUP_SHARES)
    pol = pol[keep]
    pol = pol[pol["policy_group"].isin(groups)]
    codes = s[pol.index].to_numpy(dtype=object)
    inv = [c for c, _, _ in INVALID_HCPCS]
    all_codes = np.concatenate([codes, np.array(inv, dtype=object)])
    n_valid = len(codes)
    gidx = np.array([groups.index(g) for g in pol["policy_group"]] + [-1] * len(inv))

    def b(col):
        return np.concatenate([pol[col].fillna(False).to_numpy(dtype=bool), np.zeros(len(inv), bool)])

    unit = np.concatenate([pol["unit_limit"].fillna(99).to_numpy(dtype=np.int64), np.full(len(inv), 99)])
    life = np.concatenate([pol["useful_lifetime_years"].notna().to_numpy(), np.zeros(len(inv), bool)])
    docs = pol["expected_documents"].fillna("").tolist() + [""] * len(inv)
    expected = np.array([[f in d.split(schema.LIST_SEP) for f in DOC_FLAGS] for d in docs], dtype=bool)
    fee = np.empty(len(all_codes))
    for i, c in enumerate(all_codes):
        g = groups[gidx[i]] if gidx[i] >= 0 else "spinal_orthosis"
        h = (zlib.crc32(str(c).encode()) % 10_000) / 10_000.0
        fee[i] = GROUP_FEES[g] * np.exp(h - 0.5)
    custom = b("custom_fabricated")
    fee[custom] *= 2.2

    by_group, weights = [], []
    pop_rank = {c: r for r, c in enumerate(POPULAR_CODES)}
    for g in range(len(groups)):
        idx = np.flatnonzero(gidx == g)
        order = sorted(
            idx, key=lambda i: (pop_rank.get(all_codes[i], 10_000), zlib.crc32(str(all_codes[i]).encode()))
        )
        idx = np.array(order, dtype=np.int64)
        w = 1.0 / (np.arange(len(idx)) + 1.0) ** 1.2
        by_group.append(idx)
        weights.append(w / w.sum())
    invalid_kind = np.array([""] * n_valid + [k for _, k, _ in INVALID_HCPCS], dtype=object)
    return Catalog(
        all_codes,
        gidx,
        groups,
        b("sided") | np.isin(gidx, [groups.index("upper_limb_orthosis")]),
        custom,
        unit,
        life,
        expected,
        fee,
        tuple(by_group),
        tuple(weights),
        invalid_kind,
        n_valid,
    )


@dataclass(frozen=True)
class Diagnoses:
    vocab: np.ndarray  # undotted codes
    dotted: np.ndarray
    supports: np.ndarray  # (groups, vocab) bool: the policy's prefix rule
    invalid: np.ndarray  # (vocab,) bool: not a valid billable ICD-10-CM code
    supporting_pool: tuple[np.ndarray, ...]  # vocab indices per group
    non_supporting_pool: tuple[np.ndarray, ...]
    comorbid: np.ndarray
    invalid_pool: np.ndarray


@lru_cache(maxsize=1)
def _diagnoses() -> Diagnoses:
    """Diagnosis pools drawn once (fixed draw) from the policy's pools; the rng per run picks from them."""
    groups = tuple(GROUP_SHARES)
    sup, non = {}, {}
    for i, g in enumerate(groups):
        sup[g] = policy.supporting_diagnoses(g, 400, 1000 + i)
        non[g] = policy.non_supporting_diagnoses(g, 200, 2000 + i)
    words = sorted(
        {c for v in (*sup.values(), *non.values()) for c in v} | set(COMORBIDITIES) | set(INVALID_DIAGNOSES)
    )
    vocab = np.array(words, dtype=object)
    pos = {c: i for i, c in enumerate(words)}
    prefixes = policy.group_supporting_prefixes()
    supports = np.array([[c.startswith(prefixes[g]) for c in words] for g in groups], dtype=bool)
    info = reference.icd10_info(pd.Series(words, dtype="string"))
    invalid = ~info["billable"].to_numpy(dtype=bool)
    dotted = np.array([c[:3] + "." + c[3:] if len(c) > 3 else c for c in words], dtype=object)
    comorbid = np.array([pos[c] for c in COMORBIDITIES])
    if supports[:, comorbid].any() or invalid[comorbid].any():
        raise ValueError("world.COMORBIDITIES must be billable and support no policy group")
    sp = tuple(np.array([pos[c] for c in sup[g]]) for g in groups)
    nsp = tuple(np.array([pos[c] for c in non[g]]) for g in groups)
    for gi in range(len(groups)):
        if supports[gi, nsp[gi]].any() or not supports[gi, sp[gi]].all():
            raise ValueError(f"policy diagnosis pools disagree with the prefix rule for {groups[gi]}")
    inv = np.array([pos[c] for c in INVALID_DIAGNOSES])
    if not invalid[inv].all():
        raise ValueError("world.INVALID_DIAGNOSES must all be invalid or non-billable")
    return Diagnoses(vocab, dotted, supports, invalid, sp, nsp, comorbid, inv)
