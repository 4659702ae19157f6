"""The training period, planned once for every fit: the in-memory one (`modeling.train.fit_model`),
the streamed one that reads a file twice and the Spark-read one (`jobs.train`).

From the labelled lines' service dates and labels alone it cuts the three periods (the earliest
lines train, the next calibrate, the latest are the holdout; one date never straddles two) and
draws the time-aware sample of the training period that fits the memory budget
(`modeling.sampling.plan_sample`), the budget's room sized with the configured extra columns,
and, when the fix effects' refit cannot read every later line beside the kept training lines,
the later lines it reads (`SamplePlan.later`).
The three fits differ only in how they gather the lines the plan keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from denial_risk.errors import UserError
from denial_risk.modeling.config import TrainConfig
from denial_risk.modeling.sampling import COST, SamplePlan, plan_sample

TRAIN, CALIBRATION, HOLDOUT = 0, 1, 2
EXTRA_COLUMN_FEATURES = 4  # matrix columns one configured extra column adds, at most (its cost in the budget)


def time_slices(
    day: np.ndarray, calibration_share: float, holdout_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per line its period (0 train, 1 calibration, 2 holdout, int8) and the stable date order."""
    day = np.asarray(day, dtype="datetime64[D]")
    order = np.argsort(day, kind="stable")
    sorted_days = day[order]
    n = len(day)
    if n == 0:
        raise UserError("--data: no labelled lines to split into train, calibration and holdout periods")

    def cut(share_after: float) -> np.datetime64:
        return sorted_days[min(int(np.floor(n * (1 - share_after))), n - 1)]

    d_hold = cut(holdout_share)
    d_cal = cut(holdout_share + calibration_share)
    period = np.where(day >= d_hold, HOLDOUT, np.where(day >= d_cal, CALIBRATION, TRAIN)).astype(np.int8)
    if min(np.bincount(period, minlength=3)) == 0:
        raise UserError(
            "--data: too few distinct service dates to split into train, calibration and holdout periods"
        )
    return period, order


def matrix_features(config: TrainConfig) -> int:
    """Feature columns the budget counts per training line: the simulator's, plus the extra columns'."""
    return COST.features + len(config.extra_columns) * EXTRA_COLUMN_FEATURES


def train_lines_within(budget: int, later_lines: int, config: TrainConfig) -> int:
    """Training lines the fit can hold beside `later_lines` calibration and holdout lines."""
    return COST.train_lines_within(budget, later_lines, matrix_features(config))


@dataclass
class PeriodPlan:
    """`period[i]`: line i's period; `order`: the lines in stable date order; `rank[i]`: line i's place
    in its period's date order among the lines the fit keeps, -1 if the sample leaves it out;
    `sample`: the training period's sample (positions into that period's date order)."""

    period: np.ndarray
    order: np.ndarray
    rank: np.ndarray
    sample: SamplePlan

    def positions(self, k: int) -> np.ndarray:
        """Input positions of period `k`'s lines in date order (the training period: only those kept)."""
        pos = self.order[self.period[self.order] == k]
        return pos[self.sample.keep] if k == TRAIN and self.sample.sampled else pos


def plan_periods(day: np.ndarray, denied: np.ndarray, config: TrainConfig, budget: int) -> PeriodPlan:
    """The periods of the labelled lines (`day`, `denied`, in input order) and the training sample."""
    day = np.asarray(day, dtype="datetime64[D]")
    period, order = time_slices(day, config.calibration_share, config.holdout_share)
    train_pos = order[period[order] == TRAIN]
    later = int((period != TRAIN).sum())
    sample = plan_sample(
        day[train_pos],
        np.asarray(denied, dtype=bool)[train_pos],
        train_lines_within(budget, later, config),
        seed=config.seed,
    )
    sample.params["memory_budget_gb"] = round(budget / 2**30, 2)
    later_pos = order[period[order] != TRAIN]
    sample.later = refit_later_lines(day, denied, later_pos, len(sample.keep), budget, config)
    rank = np.full(len(day), -1, dtype=np.int64)
    rank[train_pos[sample.keep]] = np.arange(len(sample.keep))
    for k in (CALIBRATION, HOLDOUT):
        pos = order[period[order] == k]
        rank[pos] = np.arange(len(pos))
    return PeriodPlan(period, order, rank, sample)


def refit_later_lines(
    day: np.ndarray, denied: np.ndarray, later_pos: np.ndarray, kept: int, budget: int, config: TrainConfig
) -> SamplePlan:
    """The calibration and holdout lines (`later_pos`: their input positions in date order) the fix
    effects' refit reads beside the `kept` training lines: all when they fit the refit's room
    (`TrainCost.refit_lines_within`), else the time-aware sample of them that does."""
    room = COST.refit_lines_within(budget, kept + len(later_pos)) - kept
    return plan_sample(
        day[later_pos],
        np.asarray(denied, dtype=bool)[later_pos],
        max(room, 0),
        seed=config.seed + 1,
        purpose="the fix effects refitted on",
    )


def needs_sample(rows: int, config: TrainConfig, budget: int) -> bool:
    """Whether a file of about `rows` labelled lines has a training period larger than the budget holds
    (read before the file is: the periods' shares stand in for its dates)."""
    later = int(rows * (config.calibration_share + config.holdout_share))
    return rows - later > train_lines_within(budget, later, config)
