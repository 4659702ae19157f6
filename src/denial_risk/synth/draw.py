"""The draw steps of what a line shows: suppliers, patients, claims, codes, units, modifiers, diagnoses.

Each step takes the generator and what earlier steps drew, and draws its part over all lines at once
(loops run over groups, codes or redraw rounds, never rows). `simulate._draw` calls them, and the
steps of `mechanism`, in one fixed order, which is the random stream's: another order, or one more
draw in between, changes every later value (and the embedded sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.synth.catalog import Catalog
from denial_risk.synth.world import (
    GROUP_SHARES,
    INVALID_HCPCS,
    PAYER_TYPE_ORDER,
    PAYERS,
    PLACES_OF_SERVICE,
    policy_change_date,
)


@dataclass(frozen=True)
class Period:
    """Services on days 0 .. n_days - 1 from `start`; the `POLICY_CHANGES` take effect on `change_day`."""

    start: pd.Timestamp
    n_days: int
    change_date: pd.Timestamp
    change_day: int

    @classmethod
    def of(cls, start: str, months: int) -> Period:
        start_ts = pd.Timestamp(start).normalize()
        end_ts = start_ts + pd.DateOffset(months=months)
        change = policy_change_date(start, months)
        return cls(start_ts, int((end_ts - start_ts).days), change, int((change - start_ts).days))


@dataclass(frozen=True)
class Suppliers:
    """Per supplier: size, product mix and habits (documentation, coding, filing, charging).

    Habits go together: a supplier with a high `doc_quality` keeps its documents, verifies
    eligibility, gets prior authorization, codes carefully and is denied less for reasons the
    table does not show (`effect`) -- the confounding a fix's effect must be estimated against.
    """

    npi: np.ndarray
    size: np.ndarray
    specialty: np.ndarray  # (S, G) probabilities
    doc_quality: np.ndarray
    coding_error: np.ndarray
    effect: np.ndarray
    kx_discipline: np.ndarray
    nu_habit: np.ndarray
    pa_habit: np.ndarray
    lag_median: np.ndarray
    late_share: np.ndarray
    dotted: np.ndarray
    block_hidden: np.ndarray
    flag_hidden: np.ndarray
    markup: np.ndarray
    invalid_hcpcs: np.ndarray
    invalid_dx: np.ndarray
    verify_habit: np.ndarray  # verifies eligibility before billing
    no_visit: np.ndarray  # P(no qualifying face-to-face visit) on the F2F list
    cg_discipline: np.ndarray
    ra_habit: np.ndarray  # writes RA on a replacement of a lost, stolen or damaged item
    npi_error: np.ndarray  # ordering NPI mistyped
    late_order: np.ndarray  # order signed after delivery


@dataclass(frozen=True)
class Patients:
    """Per patient; claims pick patients by `weight`, so some come back often."""

    weight: np.ndarray  # how often they come back (lognormal)
    payer: np.ndarray
    group: np.ndarray  # their condition (policy group)
    supplier: np.ndarray  # their usual supplier
    side: np.ndarray  # 0 = RT, 1 = LT
    code: np.ndarray  # their usual code (catalogue index)
    number: np.ndarray  # the id's number (P0001234), a permutation of 1..n


@dataclass(frozen=True)
class Claims:
    """Per claim, in service-day order; its lines share all of these."""

    lines: np.ndarray  # 1-4
    patient: np.ndarray
    day: np.ndarray  # service day (days from the period's start)
    supplier: np.ndarray
    payer: np.ndarray
    lag: np.ndarray  # submission_date - service_date, days
    pos: np.ndarray  # index into PLACES_OF_SERVICE


@dataclass(frozen=True)
class Lines:
    """Per line: its claim, its line number, and what it takes from the claim and its supplier."""

    claims: Claims
    claim: np.ndarray
    first: np.ndarray  # index of the claim's first line
    number: np.ndarray  # line_number, 1..k
    patient: np.ndarray
    supplier: np.ndarray
    payer: np.ndarray
    payer_type: np.ndarray  # index into PAYER_TYPE_ORDER
    day: np.ndarray
    lag: np.ndarray
    pos: np.ndarray
    coding_error: np.ndarray  # the supplier's error rate

    @classmethod
    def of(cls, claims: Claims, sup: Suppliers) -> Lines:
        k = claims.lines
        n = int(k.sum())
        claim = np.repeat(np.arange(len(k)), k)
        first = np.repeat(np.cumsum(k) - k, k)
        s_ = claims.supplier[claim]
        payer = claims.payer[claim]
        ptype_idx = np.array([PAYER_TYPE_ORDER.index(p.payer_type) for p in PAYERS])
        return cls(
            claims,
            claim,
            first,
            np.arange(n) - first + 1,
            claims.patient[claim],
            s_,
            payer,
            ptype_idx[payer],
            claims.day[claim],
            claims.lag[claim],
            claims.pos[claim],
            sup.coding_error[s_],
        )

    @property
    def n(self) -> int:
        return len(self.claim)

    @property
    def n_claims(self) -> int:
        return len(self.claims.lines)

    @property
    def medicare(self) -> np.ndarray:
        """Medicare or Medicare Advantage (KX, GA/GZ, KH/KI/KJ apply)."""
        return self.payer_type <= 1


@dataclass(frozen=True)
class Codes:
    """Per line, the written HCPCS code and side, its history, and what the catalogue says of the code."""

    code: np.ndarray  # catalogue index
    side: np.ndarray  # 0 = RT, 1 = LT (for sided codes)
    bilateral: np.ndarray  # the other side of the claim's first line
    prior: np.ndarray  # prior_same_code_12m
    group: np.ndarray  # policy group of the written code (-1: none)
    has_policy: np.ndarray
    sided: np.ndarray


@dataclass(frozen=True)
class Written:
    """Per line, the rest of what it shows: units, modifiers (bit mask over MODIFIER_ORDER), diagnoses."""

    units: np.ndarray
    bits: np.ndarray
    dx_idx: np.ndarray  # (lines, 4) diagnosis vocabulary indices, primary first; -1 = none


# --------------------------------------------------------------------------- suppliers, patients, claims


def draw_suppliers(rng: np.random.Generator, n: int, n_groups: int) -> Suppliers:
    shares = np.array(list(GROUP_SHARES.values()))
    spec = 0.5 * shares + 0.5 * rng.dirichlet(np.full(n_groups, 0.6), size=n)
    z = rng.normal(0.0, 1.0, n)  # supplier quality: every habit below leans on it
    sloppy = rng.random(n) < 1.0 / (1.0 + np.exp(1.7 + 0.8 * z))
    pa = rng.beta(18, 2, n)
    return Suppliers(
        npi=_npis(rng, n),
        size=rng.lognormal(0.0, 1.0, n),
        specialty=spec / spec.sum(axis=1, keepdims=True),
        doc_quality=z,
        coding_error=np.where(sloppy, rng.uniform(0.10, 0.20, n), rng.beta(2, 60, n)),
        effect=-0.25 * z + rng.normal(0.0, 0.25, n),
        kx_discipline=np.clip(0.92 + 0.04 * z + rng.normal(0.0, 0.02, n), 0.75, 0.995),
        nu_habit=rng.uniform(0.2, 0.95, n),
        pa_habit=1.0 / (1.0 + np.exp(-(np.log(pa / (1 - pa)) + 0.6 * z))),
        lag_median=np.exp(rng.uniform(np.log(3), np.log(40), n)),
        late_share=rng.beta(1.5, 140, n),
        dotted=rng.random(n) < 0.2,
        block_hidden=np.where(rng.random(n) < 0.12, rng.uniform(0.2, 0.5, n), 0.0),
        flag_hidden=rng.uniform(0.0, 0.04, n),
        markup=rng.uniform(1.4, 2.4, n),
        invalid_hcpcs=np.where(rng.random(n) < 0.2, rng.uniform(0.01, 0.04, n), rng.uniform(0, 0.003, n)),
        invalid_dx=np.where(rng.random(n) < 0.2, rng.uniform(0.01, 0.03, n), rng.uniform(0, 0.003, n)),
        verify_habit=1.0 / (1.0 + np.exp(-(1.5 + 0.8 * z + rng.normal(0.0, 0.3, n)))),
        no_visit=1.0 / (1.0 + np.exp(1.4 + 0.8 * z + rng.normal(0.0, 0.3, n))),
        cg_discipline=np.clip(0.88 + 0.05 * z + rng.normal(0.0, 0.03, n), 0.6, 0.99),
        ra_habit=rng.uniform(0.4, 0.9, n),
        npi_error=np.where(sloppy, rng.uniform(0.01, 0.04, n), rng.uniform(0.0, 0.005, n)),
        late_order=np.where(sloppy, rng.uniform(0.03, 0.10, n), rng.uniform(0.0, 0.01, n)),
    )


def lines_per_claim(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Lines per claim (1-4) whose sum is exactly `rows`."""
    k = rng.choice(np.array([1, 2, 3, 4]), size=max(rows, 1), p=[0.62, 0.25, 0.09, 0.04])
    total = np.cumsum(k)
    n_claims = int(np.searchsorted(total, rows) + 1) if rows > 0 else 0
    k = k[:n_claims].copy()
    if n_claims:
        k[-1] -= total[n_claims - 1] - rows
    return k


def draw_patients(rng: np.random.Generator, n_claims: int, cat: Catalog, sup: Suppliers) -> Patients:
    """As many patients as claims, each with a visit weight, payer, condition, usual supplier, side, code."""
    n_groups = len(cat.groups)
    n_pat = max(1, int(1.6 * n_claims))
    pat_weight = rng.lognormal(0.0, 0.6, n_pat)
    pat_payer = rng.choice(len(PAYERS), size=n_pat, p=np.array([p.share for p in PAYERS]))
    pat_group = rng.choice(n_groups, size=n_pat, p=np.array(list(GROUP_SHARES.values())))
    sup_by_group = [sup.size * sup.specialty[:, g] for g in range(n_groups)]
    pat_supplier = _draw_within(rng, pat_group, [w / w.sum() for w in sup_by_group])
    pat_side = rng.integers(0, 2, n_pat)  # 0 = RT, 1 = LT
    pat_code = _draw_within(rng, pat_group, list(cat.weights), list(cat.by_group))
    pat_number = rng.permutation(n_pat) + 1
    return Patients(pat_weight, pat_payer, pat_group, pat_supplier, pat_side, pat_code, pat_number)


def draw_claims(
    rng: np.random.Generator, k: np.ndarray, pats: Patients, sup: Suppliers, period: Period
) -> Claims:
    """Claims of `k` lines: a patient (frequent ones more often), a weekday, supplier, filing lag, place."""
    n_claims = len(k)
    n_days = period.n_days
    c_pat = rng.choice(len(pats.weight), size=n_claims, p=pats.weight / pats.weight.sum())
    # service day: volume grows 15 % over the period (inverse CDF of a linear density)
    g = 0.15
    u = rng.random(n_claims)
    frac = (-1 + np.sqrt(1 + 2 * g * u + g * g * u)) / g if n_claims else u
    c_day = np.minimum((frac * n_days).astype(np.int64), n_days - 1)
    weekday = (period.start.day_of_week + c_day) % 7
    move = rng.random(n_claims) < 0.9
    c_day = np.where((weekday == 5) & move & (c_day > 0), c_day - 1, c_day)
    c_day = np.where((weekday == 6) & move & (c_day < n_days - 1), c_day + 1, c_day)
    order = np.argsort(c_day, kind="stable")
    k, c_pat, c_day = k[order], c_pat[order], c_day[order]

    c_sup = np.where(
        rng.random(n_claims) < 0.9,
        pats.supplier[c_pat],
        rng.choice(len(sup.npi), size=n_claims, p=sup.size / sup.size.sum()),
    )
    c_payer = pats.payer[c_pat]
    c_lag = np.round(sup.lag_median[c_sup] * rng.lognormal(0.0, 0.6, n_claims)).astype(np.int64) + 1
    late = rng.random(n_claims) < sup.late_share[c_sup]
    c_lag = np.where(late, rng.integers(60, 541, n_claims), c_lag)
    c_pos = rng.choice(len(PLACES_OF_SERVICE), size=n_claims, p=np.array([w for _, w in PLACES_OF_SERVICE]))
    return Claims(k, c_pat, c_day, c_sup, c_payer, c_lag, c_pos)


# --------------------------------------------------------------------------- what each line shows


def draw_codes(rng: np.random.Generator, cat: Catalog, sup: Suppliers, pats: Patients, lines: Lines) -> Codes:
    """The lines' codes and sides, then their history (`prior_same_code_12m`), which redraws some codes."""
    code, side, bilateral = _codes_and_sides(rng, cat, sup, pats, lines)
    code, side = _same_or_similar_checked(rng, cat, lines, code, side, bilateral)
    code, prior = _history(rng, cat, lines, code, bilateral)
    group = cat.group[code]
    return Codes(code, side, bilateral, prior, group, group >= 0, cat.sided[code])


def _codes_and_sides(
    rng: np.random.Generator, cat: Catalog, sup: Suppliers, pats: Patients, lines: Lines
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code, side, bilateral): the patient's condition or another group; bilateral pairs; a few invalid
    codes; no line repeating another line of its claim."""
    groups = cat.groups
    n, claim, first, line_no = lines.n, lines.claim, lines.first, lines.number
    pat, s_ = lines.patient, lines.supplier
    own = rng.random(n) < np.where(line_no == 1, 0.8, 0.5)
    group = np.where(
        own, pats.group[pat], rng.choice(len(groups), size=n, p=np.array(list(GROUP_SHARES.values())))
    )
    code = _draw_within(rng, group, list(cat.weights), list(cat.by_group))
    code = np.where(
        own & (rng.random(n) < 0.35), np.where(group == pats.group[pat], pats.code[pat], code), code
    )
    # bilateral pairs: a later line repeats the first line's sided code on the other side
    side = pats.side[pat].copy()
    bilateral = (line_no > 1) & cat.sided[code[first]] & (rng.random(n) < 0.35)
    code = np.where(bilateral, code[first], code)
    # a later line that repeats the first line's code is the other side, or another code
    again = (line_no > 1) & ~bilateral & (code == code[first])
    bilateral |= again & cat.sided[code]
    redraw = again & ~cat.sided[code]
    if redraw.any():
        code[redraw] = _draw_within(rng, cat.group[code[redraw]], list(cat.weights), list(cat.by_group))
    side = np.where(bilateral, 1 - side[first], side)
    # invalid HCPCS on spinal lines (L0620, never a HCPCS code; a typed letter O)
    inv_h = (group == groups.index("spinal_orthosis")) & (rng.random(n) < sup.invalid_hcpcs[s_] * 3)
    inv_pick = rng.choice(len(INVALID_HCPCS), size=n, p=[w for _, _, w in INVALID_HCPCS])
    code = np.where(inv_h & ~bilateral, cat.n_valid + inv_pick, code)
    # no line repeats another line of its claim (same code and side): redraw such codes
    for _ in range(4):
        sidekey = np.where(cat.sided[code], side, 2)
        key = (claim.astype(np.int64) * len(cat.codes) + code) * 3 + sidekey
        dup = np.ones(n, dtype=bool)
        dup[np.unique(key, return_index=True)[1]] = False
        dup &= cat.group[code] >= 0
        if not dup.any():
            break
        code[dup] = _draw_within(rng, cat.group[code[dup]], list(cat.weights), list(cat.by_group))
    return code, side, bilateral


def _same_or_similar_checked(
    rng: np.random.Generator,
    cat: Catalog,
    lines: Lines,
    code: np.ndarray,
    side: np.ndarray,
    bilateral: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Suppliers check same-or-similar before delivering (Noridian, Resolving and Avoiding Denials for Same
    or Similar Items): most repeats of a lifetime item of the same group and side inside the period
    become the other side (when that side is free) or supplies; a few slip through."""
    n, pat, day = lines.n, lines.patient, lines.day
    supplies = cat.groups.index("pap_supplies")
    for _ in range(2):  # a flipped side can meet an earlier item on that side: check once more
        group = cat.group[code]
        keyside = np.where(cat.sided[code], side, 2)
        key = (pat.astype(np.int64) * (len(cat.groups) + 1) + group + 1) * 3 + keyside
        order = np.lexsort((day, key))
        k_sorted = key[order]
        seen = np.zeros(n, dtype=bool)
        seen[order[1:]] = (k_sorted[1:] == k_sorted[:-1]) & (day[order][1:] > day[order][:-1])
        repeat = seen & cat.lifetime[code] & ~bilateral & (rng.random(n) < 0.97)
        other = (pat.astype(np.int64) * (len(cat.groups) + 1) + group + 1) * 3 + (1 - keyside)
        other_used = np.isin(other, key[~repeat]) & cat.sided[code]
        flip = repeat & cat.sided[code] & ~other_used
        side = np.where(flip, 1 - side, side)
        to_supplies = repeat & ~flip
        if to_supplies.any():
            g = np.full(int(to_supplies.sum()), supplies)
            code[to_supplies] = _draw_within(rng, g, list(cat.weights), list(cat.by_group))
    return code, side


def _history(
    rng: np.random.Generator, cat: Catalog, lines: Lines, code: np.ndarray, bilateral: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(code, prior): prior same code in 12 months, exact within the file plus a little history before it."""
    n, pat, day = lines.n, lines.patient, lines.day
    prior = _prior_same_code(pat, code, day, len(cat.codes))
    # suppliers usually see the history: most repeats of a purchase item become another code
    redo = (prior > 0) & cat.lifetime[code] & ~bilateral & (rng.random(n) < 0.85)
    if redo.any():
        code[redo] = _draw_within(rng, cat.group[code[redo]], list(cat.weights), list(cat.by_group))
        prior = _prior_same_code(pat, code, day, len(cat.codes))
    pre = rng.random(n) < 0.02 * np.clip((365 - day) / 365.0, 0, 1)
    return code, prior + pre


# --------------------------------------------------------------------------- observable facts


def place_codes() -> np.ndarray:
    """The place-of-service codes that `Claims.pos` and `Lines.pos` index."""
    return np.array([p for p, _ in PLACES_OF_SERVICE], dtype=object)


# --------------------------------------------------------------------------- helpers


def _npis(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct 10-digit NPIs starting with 1, check digit by the Luhn rule on 80840 + 9 digits."""
    body = rng.choice(100_000_000, size=n, replace=False).astype(np.int64) + 100_000_000
    digits = np.stack([(body // 10 ** (8 - k)) % 10 for k in range(9)], axis=1)  # 9 digits, msd first
    # Luhn over 80840 + 9 digits + check: double every second digit from the right of the payload.
    payload = np.concatenate([np.tile([8, 0, 8, 4, 0], (n, 1)), digits], axis=1)
    dbl = payload[:, ::-1].copy()
    dbl[:, ::2] *= 2
    dbl = np.where(dbl > 9, dbl - 9, dbl)
    check = (10 - dbl.sum(axis=1) % 10) % 10
    return np.array([f"{b}{c}" for b, c in zip(body.tolist(), check.tolist())], dtype=object)


def _draw_within(
    rng: np.random.Generator,
    keys: np.ndarray,
    probs: list[np.ndarray],
    values: list[np.ndarray] | None = None,
) -> np.ndarray:
    """For each row, draw from the categorical `probs[keys[row]]` (loop over keys, not rows)."""
    out = np.zeros(len(keys), dtype=np.int64)
    for k in np.unique(keys):
        hit = np.flatnonzero(keys == k)
        draw = rng.choice(len(probs[k]), size=len(hit), p=probs[k])
        out[hit] = draw if values is None else values[k][draw]
    return out


def skewed(rng: np.random.Generator, n: int, size: np.ndarray | int, power: float = 2.0) -> np.ndarray:
    """Indices in [0, size) with early ones more frequent (u^power)."""
    return np.minimum((rng.random(n) ** power * size).astype(np.int64), np.asarray(size) - 1)


def _prior_same_code(pat: np.ndarray, code: np.ndarray, day: np.ndarray, n_codes: int) -> np.ndarray:
    """Lines of the same patient and code with a service date in [day - 365, day)."""
    span = int(day.max(initial=0)) + 800
    key = (pat.astype(np.int64) * n_codes + code) * span + day + 400
    srt = np.sort(key)
    return np.searchsorted(srt, key, side="left") - np.searchsorted(srt, key - 365, side="left")
