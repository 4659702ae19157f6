"""How a supplier codes a line: units, modifiers (RT/LT, NU/RR, KH/KI/KJ, KX/GA/GZ, 99) and diagnoses.

Draw steps like those of `draw` (called by `simulate._draw` in the random stream's fixed order),
plus the facts the mechanism reads from the written modifiers and diagnoses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from denial_risk.contract import schema
from denial_risk.synth.catalog import Catalog, Diagnoses
from denial_risk.synth.causes import View
from denial_risk.synth.draw import Codes, Lines, Suppliers, Written, skewed
from denial_risk.synth.world import MODIFIER_BIT as _BIT
from denial_risk.synth.world import MODIFIER_ORDER, ORTHOSES, RENTAL_GROUPS


def draw_units(
    rng: np.random.Generator, cat: Catalog, lines: Lines, codes: Codes
) -> tuple[np.ndarray, np.ndarray]:
    """(units, both_ok): 1, up to 6 for PAP supplies, 2 for both sides on one line, some over the limit."""
    n, err, code = lines.n, lines.coding_error, codes.code
    ulimit = cat.unit_limit[code]
    pap_sup = codes.group == cat.groups.index("pap_supplies")
    units = np.where(pap_sup, 1 + (rng.random(n) * np.minimum(ulimit, 6)).astype(np.int64), 1)
    both_ok = codes.sided & ~codes.bilateral & (rng.random(n) < 0.06)  # RT|LT, units 2: bilateral on one line
    units = np.where(both_ok, 2, units)
    over = codes.has_policy & (rng.random(n) < 0.3 * err + 0.004)
    units = np.where(over, np.maximum(units, ulimit) + rng.integers(1, 4, n), units)
    return units, both_ok


def draw_modifiers(
    rng: np.random.Generator,
    cat: Catalog,
    sup: Suppliers,
    lines: Lines,
    codes: Codes,
    units: np.ndarray,
    both_ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(bits, units): NU/RR, KH/KI/KJ, the side (sometimes missing, sometimes both with units 1)."""
    groups, cgroup, sided = cat.groups, codes.group, codes.sided
    n, claim, s_, err = lines.n, lines.claim, lines.supplier, lines.coding_error
    bits = np.zeros(n, dtype=np.int64)
    rental = np.isin(cgroup, [groups.index(x) for x in RENTAL_GROUPS])
    rr = rental & (rng.random(n) < 0.92)
    nu = ~rr & (rng.random(lines.n_claims)[claim] < sup.nu_habit[s_])  # a supplier's habit, claim by claim
    rr_wrong = np.isin(cgroup, [groups.index(x) for x in ORTHOSES]) & (rng.random(n) < 0.08 * err)
    bits |= np.where(nu & ~rr_wrong, _BIT["NU"], 0) | np.where(rr | rr_wrong, _BIT["RR"], 0)
    month_mod = rng.choice(3, size=n, p=[0.35, 0.2, 0.45])
    bits |= np.where(rr & lines.medicare, np.array([_BIT["KH"], _BIT["KI"], _BIT["KJ"]])[month_mod], 0)
    r = rng.random(n)
    miss_side = sided & (r < 0.4 * err + 0.01)
    both_err = sided & ~miss_side & (r < 0.55 * err + 0.013) & ~both_ok
    side_bit = np.where(codes.side == 0, _BIT["RT"], _BIT["LT"])
    bits |= np.where(sided & ~miss_side, side_bit, 0)
    bits |= np.where(both_ok | both_err, _BIT["RT"] | _BIT["LT"], 0)
    units = np.where(both_err, 1, units)
    return bits, units


def draw_diagnoses(
    rng: np.random.Generator, cat: Catalog, dx: Diagnoses, sup: Suppliers, lines: Lines, codes: Codes
) -> np.ndarray:
    """(lines, 4) diagnoses: the primary supports the code unless the supplier erred; 0-3 further codes."""
    n_groups = len(cat.groups)
    n, s_, err, has_policy = lines.n, lines.supplier, lines.coding_error, codes.has_policy
    nsup_p = np.clip(0.01 + 0.4 * err, 0, 0.5)
    not_sup = has_policy & (rng.random(n) < nsup_p)
    n_dx = rng.choice(np.array([1, 2, 3, 4]), size=n, p=[0.40, 0.35, 0.18, 0.07])
    gsafe = _pool_group(cat, codes)
    sizes_s = np.array([len(p) for p in dx.supporting_pool])
    sizes_n = np.array([len(p) for p in dx.non_supporting_pool])
    pool_s = np.full((n_groups, sizes_s.max()), -1)
    pool_n = np.full((n_groups, sizes_n.max()), -1)
    for gi in range(n_groups):
        pool_s[gi, : sizes_s[gi]] = dx.supporting_pool[gi]
        pool_n[gi, : sizes_n[gi]] = dx.non_supporting_pool[gi]
    primary = np.where(
        not_sup,
        pool_n[gsafe, skewed(rng, n, sizes_n[gsafe])],
        pool_s[gsafe, skewed(rng, n, sizes_s[gsafe])],
    )
    inv_d = rng.random(n) < sup.invalid_dx[s_]
    primary = np.where(inv_d, dx.invalid_pool[rng.integers(0, len(dx.invalid_pool), n)], primary)
    slots = [primary]
    for j in range(1, 4):
        second_sup = ~not_sup & (rng.random(n) < 0.3)
        extra = np.where(
            second_sup,
            pool_s[gsafe, skewed(rng, n, sizes_s[gsafe])],
            dx.comorbid[rng.integers(0, len(dx.comorbid), n)],
        )
        slots.append(np.where(n_dx > j, extra, -1))
    dx_idx = np.stack(slots, axis=1)
    for j in range(1, 4):  # a code is listed once
        dx_idx[(dx_idx[:, [j]] == dx_idx[:, :j]).any(axis=1), j] = -1
    return dx_idx


def draw_late_modifiers(
    rng: np.random.Generator,
    v: View,
    sup: Suppliers,
    lines: Lines,
    written: Written,
    replacement: np.ndarray,
) -> Written:
    """KX where Medicare's list wants it (suppliers apply it to MA lines too), CG on Medicare's spinal
    garments, GA/GZ mostly where the diagnosis does not support the device, RA on some replacements
    (`replacement`: an earlier same item inside its lifetime). More than four modifiers: 99.
    Never from the hidden documentation truth."""
    n, s_, err, mcare = lines.n, lines.supplier, lines.coding_error, lines.medicare
    not_supporting = v.any_supports == 0.0
    ga = mcare & (rng.random(n) < np.where(not_supporting, 0.15, 0.008))
    gz = mcare & ~ga & (rng.random(n) < np.where(not_supporting, 0.05, 0.004))
    kx_list = v.medicare_list["kx_required"] & mcare
    kx = np.where(kx_list, rng.random(n) < sup.kx_discipline[s_], rng.random(n) < 0.04)
    kx_conflict_ok = rng.random(n) < 0.3 * err + 0.05
    kx = kx & ~((ga | gz) & ~kx_conflict_ok)
    cg = v.medicare_list["cg_required"] & mcare & (rng.random(n) < sup.cg_discipline[s_])
    legit = rng.random(n) < 0.3  # a lost, stolen or irreparably damaged item
    ra = replacement & legit & (rng.random(n) < sup.ra_habit[s_])
    bits = written.bits
    for on, m in ((kx, "KX"), (cg, "CG"), (ra, "RA"), (ga, "GA"), (gz, "GZ")):
        bits = bits | np.where(on, _BIT[m], 0)
    return replace(written, bits=_cap_modifiers(bits))


def _pool_group(cat: Catalog, codes: Codes) -> np.ndarray:
    """The code's policy group, spinal for a code without one (its diagnoses are drawn, not judged)."""
    return np.where(codes.group >= 0, codes.group, cat.groups.index("spinal_orthosis"))


def modifier_string(b: int) -> str:
    """A bit mask as the written modifiers, in MODIFIER_ORDER."""
    return schema.LIST_SEP.join(m for m in MODIFIER_ORDER if b & _BIT[m])


def _cap_modifiers(bits: np.ndarray) -> np.ndarray:
    """More than four modifiers: keep the first three (MODIFIER_ORDER) and add 99."""
    count = np.zeros_like(bits)
    for m in MODIFIER_ORDER[:-1]:
        count += (bits & _BIT[m]) != 0
    over = count > 4
    if not over.any():
        return bits
    capped = np.zeros_like(bits)
    kept = np.zeros_like(bits)
    for m in MODIFIER_ORDER[:-1]:
        on = ((bits & _BIT[m]) != 0) & (kept < 3)
        capped |= np.where(on, _BIT[m], 0)
        kept += on
    return np.where(over, capped | _BIT["99"], bits)
