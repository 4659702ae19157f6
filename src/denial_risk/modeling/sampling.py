"""Training within a memory budget: how many lines the fit can hold, and which ones to keep.

The fit's memory grows with its training lines (the feature matrix, the trees' copy of it,
the normalised frame). `--memory-budget` (default: half the machine's RAM) caps it: when
the training period has more lines than the budget holds, it is sampled **by time**:

* every line of the most recent months of the training period is kept (the world drifts:
  a payer's new rule shows there first), the window shortened until it fills at most a
  quarter of the budget (`RECENT_SHARE`);
* every older denied line is kept while the denied lines fill at most half the budget
  (`DENIED_SHARE`; denials are the rarer class and carry the reasons); past that, the older
  denied lines are sampled too, at the rate that brings them to that half (issue 23: at 10M
  lines with a 6 GB budget they were 85 % of the sample and the paid lines weighed 53 each);
* the older paid lines are sampled at the rate that fills the rest of the budget.

A sampled line is weighted by 1 / its rate, so the fit sees the population's proportions.
"Keep every denied line" is not the rule; the holdout AUC against the unsampled fit is
(`benchmarks/bench_scale.py`).

The calibration slice is never sampled for the classifier (the calibrator is fitted on every
later line), nor the holdout (every metric is read on all of it). `SamplePlan.params` is what
the training run logs (rows before and after, the rate, the weight, the recent cut-off).

The fix effects' refit after the holdout metrics (`modeling.effects.fit_on_slices`, then
`modeling.latest`) reads the kept training lines and the later ones together, and holds per
line far more than their frames (the line facts, the remedies, a sparse design): issue 23
measured 11.1 GB at 10M lines under a 6 GB budget, the refit on 4.17M lines. It is counted
too: when the kept lines do not fit the refit's own room, its later lines are drawn by the
same time-aware rule (`SamplePlan.later`: the recent months whole, the denials up to half,
the rest weighted by 1 / rate).

The cost model (`TrainCost`) is measured, not derived: bytes per training line and per
calibration/holdout line at the fit's peak, from `benchmarks/bench_model.py` runs; bytes per
line of the refit from `benchmarks/bench_scale.py` (1M lines, the refit alone).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

import numpy as np

from denial_risk.errors import UserError

log = logging.getLogger(__name__)

RECENT_DAYS = 92  # the last three months of the training period are always kept whole
MIN_PAID_RATE = 0.01  # below this a sampled line's weight (100) would dominate its neighbours' noise
DENIED_SHARE = 0.5  # the denied lines may fill this share of the budget before they are sampled too
# The recent window is shortened until it fills at most this share of the budget, so the older paid
# lines keep room (project judgement: at 10M lines and 6 GB, a window that took what the denials left
# would have sampled the older paid lines at the 1 % floor, weight 100).
RECENT_SHARE = 0.25
# The fix effects' refit: peak bytes per line it reads (measured at 1M lines, the refit alone: 2.16 GB above
# the frames it reads), and per kept line held when it starts (10M lines, 6GB: 3.2 GB held beside 4.17M
# kept lines, 0.6 kB a line above `fixed`; their normalised frames alone are 283 bytes a line).
REFIT_PER_LINE = 2200.0
HELD_PER_LINE = 600.0


@dataclass(frozen=True)
class TrainCost:
    """Peak bytes of a fit: `fixed` + `per_train_line` × training lines + `per_later_line` × the others.

    Measured on the simulator (about 220 feature columns); `per_feature_train` scales the
    training line's cost with a wider matrix (extra configured columns)."""

    fixed: float = 700e6
    per_train_line: float = 2600.0
    per_later_line: float = 900.0
    features: int = 220
    per_refit_line: float = REFIT_PER_LINE
    per_held_line: float = HELD_PER_LINE

    def refit_lines_within(self, budget: float, held_lines: int) -> int:
        """Lines the fix effects' refit can read beside the `held_lines` whose frames the fit holds (the
        trees' matrices are gone by then)."""
        room = budget - self.fixed - held_lines * self.per_held_line
        return max(int(room / self.per_refit_line), 0)

    def peak(self, train_lines: int, later_lines: int, features: int | None = None) -> float:
        scale = (features or self.features) / self.features
        return self.fixed + train_lines * self.per_train_line * scale + later_lines * self.per_later_line

    def train_lines_within(self, budget: float, later_lines: int, features: int | None = None) -> int:
        scale = (features or self.features) / self.features
        room = budget - self.fixed - later_lines * self.per_later_line
        return max(int(room / (self.per_train_line * scale)), 0)


COST = TrainCost()


def machine_memory() -> int:
    """Physical memory in bytes (POSIX sysconf; 16 GiB assumed where it cannot tell)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on Linux/macOS
        log.warning("the machine's memory is unknown: assuming 16 GiB (set --memory-budget)")
        return 16 * 2**30


def default_budget() -> int:
    return machine_memory() // 2


_UNITS = {
    "": 1,
    "B": 1,
    "K": 2**10,
    "KB": 2**10,
    "M": 2**20,
    "MB": 2**20,
    "G": 2**30,
    "GB": 2**30,
    "T": 2**40,
}


def parse_budget(text: str | int | float | None) -> int:
    """'6GB', '6G', '512MB', '0.5TB' or a number of bytes -> bytes; None -> half the machine's RAM."""
    if text is None:
        return default_budget()
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?B?)\s*", str(text).upper())
        if not m:
            raise UserError(f"--memory-budget {text}: not a size (e.g. 6GB, 512MB)")
        value = float(m.group(1)) * _UNITS[m.group(2)]
    if value < 256 * 2**20:
        raise UserError(f"--memory-budget {text}: below 256MB, too small to train")
    return int(value)


@dataclass
class SamplePlan:
    """Which training lines the fit keeps (`keep`, positions into the training slice) and their weights."""

    keep: np.ndarray
    weight: np.ndarray
    params: dict = field(default_factory=dict)
    # the calibration and holdout lines the fix effects' refit reads (positions into them in date
    # order, `modeling.periods`), drawn when they do not all fit beside the kept training lines
    later: SamplePlan | None = None

    @property
    def sampled(self) -> bool:
        return bool(self.params.get("sampled"))


def plan_sample(
    days: np.ndarray,
    denied: np.ndarray,
    max_lines: int,
    *,
    recent_days: int = RECENT_DAYS,
    seed: int = 0,
    purpose: str = "training on",
) -> SamplePlan:
    """The time-aware sample of a training slice (`days`: service dates as datetime64[D], `denied`: bool).

    Keeps every line when they fit in `max_lines`; else every line of the last `recent_days` (fewer
    days if those overfill the budget), the older denied lines (all of them, or a uniform sample when
    the denied lines would fill more than `DENIED_SHARE` of the budget) and a uniform sample of the
    older paid lines, each sampled line weighted by the inverse of its rate.
    """
    n = len(days)
    denied = np.asarray(denied, dtype=bool)
    params: dict = {"rows_train_available": n, "memory_budget_train_lines": int(max_lines)}
    if n <= max_lines:
        params.update(sampled=False, rows_train_sampled=n)
        return SamplePlan(np.arange(n), np.ones(n), params)
    days = np.asarray(days, dtype="datetime64[D]")
    recent_from, recent, denied_rate = _recent_window(days, denied, days.max(), recent_days, max_lines)
    fixed = recent | (denied if denied_rate == 1.0 else False)
    rest = np.flatnonzero(~fixed)
    room = max_lines - int(fixed.sum()) - denied_rate * int((denied & ~fixed).sum())
    paid_rest = int((~denied[rest]).sum())
    paid_rate = max(min(room / max(paid_rest, 1), 1.0), MIN_PAID_RATE)
    rate = np.where(denied[rest], denied_rate, paid_rate)
    if int(fixed.sum()) + float(rate.sum()) > max_lines * 1.001:
        log.warning(
            f"the training period's {int(recent.sum()):,} recent and {int(denied.sum()):,} denied lines "
            f"fill the memory budget ({max_lines:,} lines); older lines are still sampled at {paid_rate:.1%}"
        )
    picked = rest[np.random.default_rng(seed).random(len(rest)) < rate]
    keep = np.sort(np.concatenate([np.flatnonzero(fixed), picked]))
    weight = np.where(fixed[keep], 1.0, 1.0 / np.where(denied[keep], denied_rate, paid_rate))
    params.update(
        _sample_params(denied, recent, keep, recent_from, denied_rate, paid_rate),
        sampled=True,
        rows_train_sampled=len(keep),
    )
    denials = (
        "every denied line"
        if denied_rate == 1.0
        else f"older denied lines at {denied_rate:.1%} weighted {1 / denied_rate:.1f}"
    )
    log.info(
        f"memory budget: {purpose} {len(keep):,} of {n:,} lines (every line from {recent_from}, "
        f"{denials}, older paid lines at {paid_rate:.1%} weighted {1 / paid_rate:.1f})"
    )
    return SamplePlan(keep, weight, params)


def _sample_params(
    denied: np.ndarray,
    recent: np.ndarray,
    keep: np.ndarray,
    recent_from,
    denied_rate: float,
    paid_rate: float,
) -> dict:
    """What the run logs about its sample: both rates and weights, and what each kind of line kept."""
    kept_denied = int(denied[keep].sum())
    return {
        "sample_denied_available": int(denied.sum()),
        "sample_denied_kept": kept_denied,
        "sample_denied_rate": round(denied_rate, 6),
        "sample_denied_weight": round(1.0 / denied_rate, 4),
        "sample_recent_from": str(recent_from),
        "sample_recent_kept": int((recent & ~denied).sum()),
        "sample_paid_rate": round(paid_rate, 6),
        "sample_paid_weight": round(1.0 / paid_rate, 4),
        "sample_paid_kept": int(len(keep) - kept_denied - int((recent & ~denied).sum())),
    }


def denied_rate_within(denied: np.ndarray, recent: np.ndarray, max_lines: int) -> float:
    """The rate the older denied lines are kept at: 1 while every denied line fits in `DENIED_SHARE`
    of the budget, else the rate that brings the denied lines to that share (recent ones kept whole)."""
    cap = int(max_lines * DENIED_SHARE)
    if int(denied.sum()) <= cap:
        return 1.0
    older = int((denied & ~recent).sum())
    room = cap - int((denied & recent).sum())
    return max(min(room / max(older, 1), 1.0), MIN_PAID_RATE)


def _recent_window(
    days: np.ndarray, denied: np.ndarray, last: np.datetime64, recent_days: int, max_lines: int
) -> tuple[np.datetime64, np.ndarray, float]:
    """The recent window kept whole, and the older denied lines' rate: `recent_days` long, shortened
    until it fills at most `RECENT_SHARE` of the budget and, with the older denied lines kept, fits it."""
    span = recent_days
    while True:
        start = last - np.timedelta64(span, "D")
        recent = days > start
        rate = denied_rate_within(denied, recent, max_lines)
        need = int(recent.sum()) + rate * int((denied & ~recent).sum())
        if (need <= max_lines and int(recent.sum()) <= max_lines * RECENT_SHARE) or span <= 7:
            return start + np.timedelta64(1, "D"), recent, rate
        span //= 2
