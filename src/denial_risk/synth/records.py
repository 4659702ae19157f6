"""What the supplier's records show: documents on file, eligibility, the order and the visit.

Drawn per claim (a claim's lines share one record), from each supplier's habits and,
for the documents, from the world's probability of each being on file (`oracle.World`),
so that a record written as unknown hides exactly the chance the oracle assumes. Some
suppliers send no record status for a whole claim; single fields go missing too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.synth.draw import Lines, Suppliers
from denial_risk.synth.oracle import LATENTS, Parts
from denial_risk.synth.world import ALL_FLAGS, DOC_FLAGS, ELIGIBILITY_PROBLEM_RATE, PAYER_TYPE_ORDER

EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Records:
    """Per line: each field's truth, what the table shows (NaN/NaT/None when unknown), the latents' truth."""

    flags: dict[str, pd.Series]  # ALL_FLAGS and eligibility_verified, boolean with <NA>
    truth: dict[str, np.ndarray]  # ALL_FLAGS -> on file
    ordering_npi: pd.Series
    order_date: pd.Series
    face_to_face_date: pd.Series
    eligible: np.ndarray  # the patient is covered as billed
    visit_qualifies: np.ndarray  # a face-to-face visit within the 6 months before the order

    def columns(self) -> dict[str, pd.Series]:
        return {
            **self.flags,
            "ordering_npi": self.ordering_npi,
            "order_date": self.order_date,
            "face_to_face_date": self.face_to_face_date,
        }

    def fine(self, parts: Parts) -> np.ndarray:
        """(n, LATENTS): the drawn state of every latent the oracle averages over."""
        cols = [self.truth[f] for f in DOC_FLAGS] + [self.eligible, self.visit_qualifies]
        fine = np.column_stack(cols) if len(self.eligible) else np.zeros((0, len(LATENTS)), dtype=bool)
        return fine | (parts.latent_e == 0)


def draw_records(
    rng: np.random.Generator,
    sup: Suppliers,
    lines: Lines,
    doc_q: np.ndarray,
    service_day: np.ndarray,
    practitioners: np.ndarray,
) -> Records:
    """Documents (on file with the world's probability `doc_q`), eligibility, ordering NPI, order, visit."""
    n_claims, claim, c_sup = lines.n_claims, lines.claim, lines.claims.supplier
    q = {f: doc_q[:, j] for j, f in enumerate(DOC_FLAGS)}
    q["has_photos"] = 1.0 / (1.0 + np.exp(-(-0.5 + 0.9 * sup.doc_quality[lines.supplier])))
    cu = rng.random((n_claims, len(ALL_FLAGS)))  # one uniform per claim and flag, shared by its lines
    truth = {f: cu[claim, j] < q[f] for j, f in enumerate(ALL_FLAGS)}
    block = rng.random(n_claims) < sup.block_hidden[c_sup]  # no record status for the whole claim
    rate = sup.flag_hidden[c_sup]
    extra = {"has_prior_auth": 0.05, "has_photos": 0.15, "eligibility_verified": 0.03}
    names = (*ALL_FLAGS, "eligibility_verified")
    hu = rng.random((n_claims, len(names)))
    hidden = {f: (block | (hu[:, j] < rate + extra.get(f, 0.0)))[claim] for j, f in enumerate(names)}

    verified = (rng.random(n_claims) < sup.verify_habit[c_sup])[claim]
    ptype_rate = np.array([ELIGIBILITY_PROBLEM_RATE[t] for t in PAYER_TYPE_ORDER])[lines.payer_type]
    eligible = verified | ~(rng.random(n_claims)[claim] < ptype_rate)
    flags = {f: _boolean(truth[f], hidden[f]) for f in ALL_FLAGS}
    flags["eligibility_verified"] = _boolean(verified, hidden["eligibility_verified"])

    npi = _ordering_npis(rng, sup, lines, practitioners, block)
    order_day, order_known = _order_days(rng, sup, lines, service_day, truth["has_prescription"], hidden)
    visit_day, qualifies, visit_known = _visits(rng, sup, lines, order_day, block)
    return Records(
        flags, truth, npi, _dates(order_day, order_known), _dates(visit_day, visit_known), eligible, qualifies
    )


def _ordering_npis(
    rng, sup: Suppliers, lines: Lines, practitioners: np.ndarray, block: np.ndarray
) -> pd.Series:
    """One ordering practitioner per claim; a few mistyped (the check digit fails); some unknown."""
    n_claims, c_sup = lines.n_claims, lines.claims.supplier
    pick = practitioners[rng.integers(0, len(practitioners), n_claims)]
    typo = rng.random(n_claims) < sup.npi_error[c_sup]
    last = np.array([int(p[-1]) for p in pick], dtype=np.int64) if n_claims else np.zeros(0, dtype=np.int64)
    shifted = (last + rng.integers(1, 10, n_claims)) % 10
    npis = np.array([p[:-1] + str(d) if t else p for p, d, t in zip(pick, shifted, typo)], dtype=object)
    unknown = block | (rng.random(n_claims) < 0.03)
    npis[unknown] = None
    return pd.Series(pd.array(npis[lines.claim], dtype="string"))


def _order_days(
    rng, sup: Suppliers, lines: Lines, service_day: np.ndarray, order_on_file: np.ndarray, hidden: dict
) -> tuple[np.ndarray, np.ndarray]:
    """The order's day: before delivery, sometimes after it; known where the order is on file and shown."""
    n_claims, c_sup, claim = lines.n_claims, lines.claims.supplier, lines.claim
    first = claim_first_line(lines)
    day = service_day[first]
    late = rng.random(n_claims) < sup.late_order[c_sup]
    before = day - rng.integers(0, 26, n_claims)
    after = day + rng.integers(1, 16, n_claims)
    order = np.where(late, after, before)[claim]
    known = order_on_file & ~hidden["has_prescription"]
    return order, known


def _visits(
    rng, sup: Suppliers, lines: Lines, order_day: np.ndarray, block: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The practitioner's visit: within 6 months before the order, or not; recorded independently of which."""
    n_claims, c_sup, claim = lines.n_claims, lines.claims.supplier, lines.claim
    qualifies = rng.random(n_claims) >= sup.no_visit[c_sup]
    o = order_day[claim_first_line(lines)]
    good = o - rng.integers(5, 151, n_claims)
    bad = np.where(
        rng.random(n_claims) < 0.5, o + rng.integers(1, 21, n_claims), o - rng.integers(200, 401, n_claims)
    )
    visit = np.where(qualifies, good, bad)
    known = ~block & (rng.random(n_claims) < 0.75)
    return visit[claim], qualifies[claim], known[claim]


def claim_first_line(lines: Lines) -> np.ndarray:
    """Index of each claim's first line."""
    return np.flatnonzero(lines.number == 1)


def _boolean(values: np.ndarray, hidden: np.ndarray) -> pd.Series:
    return pd.Series(pd.arrays.BooleanArray(values.astype(bool), hidden.astype(bool)))


def _dates(days: np.ndarray, known: np.ndarray) -> pd.Series:
    d = (EPOCH + days.astype("timedelta64[D]")).astype("datetime64[ns]")
    return pd.Series(d).where(known)
