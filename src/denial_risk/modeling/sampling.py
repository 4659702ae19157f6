"""Training within a memory budget: how many lines the fit can hold, and which ones to keep.

The fit's memory grows with its training lines (the feature matrix, the trees' copy of it,
the normalised frame). `--memory-budget` (default: half the machine's RAM) caps it: when
the training period has more lines than the budget holds, it is sampled **by time**:

* every denied line is kept (denials are the rarer class and carry the reasons);
* every line of the most recent months of the training period is kept (the world drifts:
  a payer's new rule shows there first);
* the older paid lines are sampled at the rate that fills the budget, each kept one
  weighted by 1 / rate, so the fit sees the population's proportions.

The calibration slice is never sampled (the calibrator is fitted on every later line), nor
the holdout (every metric is read on all of it). `SamplePlan.params` is what the training
run logs (rows before and after, the rate, the weight, the recent cut-off).

The cost model (`TrainCost`) is measured, not derived: bytes per training line and per
calibration/holdout line at the fit's peak, from `benchmarks/bench_model.py` runs.
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
MIN_PAID_RATE = 0.01  # below this a paid line's weight (100) would dominate its neighbours' noise


@dataclass(frozen=True)
class TrainCost:
    """Peak bytes of a fit: `fixed` + `per_train_line` × training lines + `per_later_line` × the others.

    Measured on the simulator (about 220 feature columns); `per_feature_train` scales the
    training line's cost with a wider matrix (extra configured columns)."""

    fixed: float = 700e6
    per_train_line: float = 2600.0
    per_later_line: float = 900.0
    features: int = 220

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
) -> SamplePlan:
    """The time-aware sample of a training slice (`days`: service dates as datetime64[D], `denied`: bool).

    Keeps every line when they fit in `max_lines`; else every denied line, every line of the last
    `recent_days` (fewer days if those alone overfill the budget), and a uniform sample of the
    older paid lines weighted by the inverse of its rate.
    """
    n = len(days)
    denied = np.asarray(denied, dtype=bool)
    params: dict = {"rows_train_available": n, "memory_budget_train_lines": int(max_lines)}
    if n <= max_lines:
        params.update(sampled=False, rows_train_sampled=n)
        return SamplePlan(np.arange(n), np.ones(n), params)
    days = np.asarray(days, dtype="datetime64[D]")
    last = days.max()
    recent_from, recent = _recent_window(days, denied, last, recent_days, max_lines)
    fixed = denied | recent
    rest = np.flatnonzero(~fixed)
    room = max(max_lines - int(fixed.sum()), 0)
    rate = max(min(room / max(len(rest), 1), 1.0), MIN_PAID_RATE)
    if int(fixed.sum()) + rate * len(rest) > max_lines:
        log.warning(
            f"the training period's {int(denied.sum()):,} denied and {int(recent.sum()):,} recent lines "
            f"fill the memory budget ({max_lines:,} lines); paid lines are still sampled at {rate:.1%}"
        )
    rng = np.random.default_rng(seed)
    picked = rest[rng.random(len(rest)) < rate]
    keep = np.sort(np.concatenate([np.flatnonzero(fixed), picked]))
    weight = np.where(fixed[keep], 1.0, 1.0 / rate)
    params.update(
        sampled=True,
        rows_train_sampled=len(keep),
        sample_denied_kept=int(denied.sum()),
        sample_recent_from=str(recent_from),
        sample_recent_kept=int((recent & ~denied).sum()),
        sample_paid_rate=round(rate, 6),
        sample_paid_weight=round(1.0 / rate, 4),
        sample_paid_kept=len(picked),
    )
    log.info(
        f"memory budget: training on {len(keep):,} of {n:,} lines (every denied line, every line from "
        f"{recent_from}, older paid lines at {rate:.1%} weighted {1 / rate:.1f})"
    )
    return SamplePlan(keep, weight, params)


def _recent_window(
    days: np.ndarray, denied: np.ndarray, last: np.datetime64, recent_days: int, max_lines: int
) -> tuple[np.datetime64, np.ndarray]:
    """The recent window kept whole: `recent_days` long, shortened until denied + recent fit the budget."""
    span = recent_days
    while True:
        start = last - np.timedelta64(span, "D")
        recent = days > start
        if int((denied | recent).sum()) <= max_lines or span <= 7:
            return start + np.timedelta64(1, "D"), recent
        span //= 2
