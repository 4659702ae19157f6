"""The harder world (`simulate --world harder`): payer rules a per-cell average cannot see, and late changes.

An opt-in variant of the simulated world. The default world's draws are untouched (its
sample, golden files and tests stay as they are); the harder world adds four payer
behaviours the plain world lacks, each one a way a real payer's policy escapes a
"payer x policy group" average (all project judgement: no payer's real policy is
described):

* a rule change late in the period: COM303 starts requiring prior authorization for
  knee orthoses at two thirds of the simulated period (2025-09 for the 30 months from
  2024-01: the last sixth of 24 labelled months); suppliers learn it over about six
  months, as they do the plain world's mid-period change;
* a payer that relaxes a rule: MA101 stops requiring prior authorization for spinal
  orthoses at three fifths of the period (2025-07 for 30 months from 2024-01); suppliers
  stop asking for it;
* a document required only above an amount: COM302 wants a letter of medical necessity
  for knee orthoses billed above `LMN_ABOVE_AMOUNT`;
* a code-specific rule inside a group: COM301 requires prior authorization for two
  ankle-foot orthosis codes (`CODE_PA`), not for the rest of the group.

The world reads a line's `billed_amount` for the amount rule, so the harder simulation
draws the charges before the denials (`simulate._draw`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.synth import causes
from denial_risk.synth.world import DOC_FLAGS, PAYER_IDS

WORLDS = ("plain", "harder")
LATE_CHANGE = ("COM303", "knee_orthosis")  # prior authorization required from the late change
LATE_SHARE = 2 / 3  # of the simulated period: the last sixth of the first 24 of 30 months
RELAXED = ("MA101", "spinal_orthosis")  # prior authorization no longer required from the relaxation
RELAX_SHARE = 3 / 5
LMN_ABOVE = ("COM302", "knee_orthosis")
LMN_ABOVE_AMOUNT = 1500.0  # USD billed on the line
CODE_PA = ("COM301", ("L1906", "L1971"))  # ankle-foot orthoses: these codes only


def period_day(start: pd.Timestamp, months: int, share: float) -> int:
    """Days since the epoch of the first day of the month at `share` of the period."""
    when = pd.Timestamp(start).normalize() + pd.DateOffset(months=max(1, round(months * share)))
    return int((np.datetime64(when.date(), "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))


@dataclass(frozen=True)
class HarderRules:
    """The harder world's extra payer rules, dated within one simulated period."""

    late_day: int  # COM303 knee orthoses: prior authorization from this day
    relax_day: int  # MA101 spinal orthoses: no prior authorization from this day

    @staticmethod
    def of(start, months: int) -> HarderRules:
        return HarderRules(period_day(start, months, LATE_SHARE), period_day(start, months, RELAX_SHARE))

    def prior_auth(
        self, v: causes.View, frame: pd.DataFrame, required: np.ndarray, newly: np.ndarray, since: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(required, newly, since): the plain rules with the late change, the relaxation and the code rule.
        `since` is the day suppliers began learning a new requirement (their ramp starts there)."""
        required, newly, since = required.copy(), newly.copy(), since.copy()
        late = self._rows(v, LATE_CHANGE) & (v.day >= self.late_day)
        newly |= late & ~required
        since[late] = self.late_day
        required |= late
        required &= ~(self._rows(v, RELAXED) & (v.day >= self.relax_day))
        payer, codes = CODE_PA
        code = frame["hcpcs_code"].astype("string").fillna("").to_numpy(dtype=object)
        required |= (v.payer == PAYER_IDS.index(payer)) & np.isin(code, codes)
        return required, newly, since

    def documents(self, v: causes.View, frame: pd.DataFrame, expected: np.ndarray) -> np.ndarray:
        """(n, DOC_FLAGS) expected documents with the letter wanted above the amount."""
        out = expected.copy()
        billed = np.nan_to_num(billed_amounts(frame), nan=0.0)
        above = self._rows(v, LMN_ABOVE) & (billed > LMN_ABOVE_AMOUNT)
        out[above, DOC_FLAGS.index("has_medical_necessity_letter")] = True
        return out

    @staticmethod
    def _rows(v: causes.View, where: tuple[str, str]) -> np.ndarray:
        payer, group = where
        return (v.payer == PAYER_IDS.index(payer)) & (v.group == causes.GROUPS.index(group))

    def describe(self) -> list[dict]:
        """The rules as data (for tests and the benchmark): payer, group, kind, date."""
        day = np.datetime64("1970-01-01", "D")
        return [
            {"payer": LATE_CHANGE[0], "group": LATE_CHANGE[1], "kind": "prior_auth_added",
             "date": str(day + self.late_day)},
            {"payer": RELAXED[0], "group": RELAXED[1], "kind": "prior_auth_dropped",
             "date": str(day + self.relax_day)},
            {"payer": LMN_ABOVE[0], "group": LMN_ABOVE[1], "kind": "letter_above_amount",
             "amount": LMN_ABOVE_AMOUNT},
            {"payer": CODE_PA[0], "group": "ankle_foot_orthosis", "kind": "prior_auth_codes",
             "codes": list(CODE_PA[1])},
        ]  # fmt: skip


def rules_for(world: str, start, months: int) -> HarderRules | None:
    """The variant's rules (None: the plain world), or a ValueError naming the worlds there are."""
    if world not in WORLDS:
        raise ValueError(f"world {world!r}: one of {', '.join(WORLDS)}")
    return HarderRules.of(start, months) if world == "harder" else None


def billed_amounts(frame: pd.DataFrame) -> np.ndarray:
    """The lines' billed amounts (NaN where unknown or the column is absent)."""
    if "billed_amount" not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame["billed_amount"], errors="coerce").to_numpy(dtype=float)
