"""The world's ground truth for any claim lines: `World.true_denial_probability(frame)`.

The simulator decides every denial with this same code, so it is the exact mechanism,
and it applies to any rows the world can read: the simulated lines, and the same lines
after a biller's fix (a side modifier added, a document attached, prior authorization
obtained). A fix is true when the world's probability drops; the product is never told
(`benchmarks/bench_fixes.py` and the fix tests use it to judge the worklist).

For a line, with known causes c (read from its columns) and latent causes l (facts the
table does not show: a document whose status is unknown, an unverified eligibility, an
unrecorded face-to-face visit, each absent with a probability that depends only on
columns the table does show)::

    logit = base[payer type] + strictness[payer] + effect[supplier] + sum_c effect_c
            + sum_l effect_l * (1 - fine_l)
    truth = E over the latents of sigmoid(logit)      (exact: enumerated, not sampled)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.synth import causes
from denial_risk.synth.world import DOC_FLAGS, PAYERS

LATENTS = (*DOC_FLAGS, "eligibility", "face_to_face")
_DOC_BASE = {  # logit of a document being on file for an average supplier (project judgement)
    "has_prescription": 3.0,
    "has_medical_necessity_letter": 1.0,
    "has_progress_notes": 1.8,
    "has_proof_of_delivery": 2.6,
}
PA_UNREQUIRED_ON_FILE = 0.08  # suppliers rarely get prior authorization nobody asked for
PA_RAMP_DAYS = 180  # suppliers learn a new requirement over about six months


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class SupplierTable:
    """What the world knows of each supplier, by NPI (habits drive what is on file; `effect` the logit)."""

    npi: np.ndarray
    effect: np.ndarray
    doc_quality: np.ndarray
    pa_habit: np.ndarray
    verify_habit: np.ndarray
    no_visit: np.ndarray  # P(no qualifying face-to-face visit) for the F2F list


@dataclass(frozen=True)
class History:
    """Earlier items per patient, policy group and side (0 RT, 1 LT, 2 no side), for same-or-similar."""

    keys: np.ndarray  # (patient * n_groups + group) * 3 + side, sorted with `days`
    days: np.ndarray

    @staticmethod
    def of(
        patient: np.ndarray, group: np.ndarray, side: np.ndarray, day: np.ndarray, n_groups: int
    ) -> History:
        keep = (patient >= 0) & (group >= 0)
        key = (patient[keep].astype(np.int64) * n_groups + group[keep]) * 3 + side[keep]
        order = np.lexsort((day[keep], key))
        return History(key[order], day[keep][order].astype(np.int64))

    def earlier(
        self,
        patient: np.ndarray,
        group: np.ndarray,
        sides: np.ndarray,
        day: np.ndarray,
        window: int,
        n_groups: int,
    ) -> np.ndarray:
        """Per line: an item of the patient's group on one of `sides` (n, 3 bool) in [day - window, day)."""
        out = np.zeros(len(day), dtype=bool)
        ok = (patient >= 0) & (group >= 0) & ~np.isnan(day)
        if not ok.any() or len(self.keys) == 0:
            return out
        big = np.int64(1 << 20)
        combined = self.keys * big + self.days
        d = np.where(ok, day, 0).astype(np.int64)
        for s in range(3):
            rows = ok & sides[:, s]
            key = (patient.astype(np.int64) * n_groups + np.maximum(group, 0)) * 3 + s
            lo = np.searchsorted(combined, key * big + (d - window), side="left")
            hi = np.searchsorted(combined, key * big + d, side="left")
            out |= rows & (hi > lo)
        return out


@dataclass(frozen=True)
class Parts:
    """One table's logit, split into what the table shows and what it does not."""

    ptype: np.ndarray  # payer type index, unknown as commercial
    known: np.ndarray  # logit without the base: strictness, supplier, every known cause
    causes: dict[str, np.ndarray]  # known causes -> logit effect (line causes, missing documents)
    latent_q: np.ndarray  # (n, LATENTS): probability the latent is fine
    latent_e: np.ndarray  # (n, LATENTS): logit effect when it is not (0: not in play)
    doc_q: np.ndarray  # (n, DOC_FLAGS): probability each document is on file (for drawing)
    pa_newly: np.ndarray  # prior authorization required by a change suppliers are still learning


@dataclass
class World:
    """The world's state: suppliers, patients' history, when payers' rules change, base rates."""

    suppliers: SupplierTable
    patient_index: dict[str, int]
    history: History
    change_day: int  # POLICY_CHANGES take effect (days since the epoch)
    base: np.ndarray | None = None  # base logit per payer type, solved by the simulation
    variant: object = None  # the harder world's extra rules (`harder.HarderRules`), or None: the plain world

    def prior_auth(self, v: causes.View, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(required, newly, since): where prior authorization binds, where suppliers are still learning it,
        and the day they began to."""
        required, newly = causes.prior_auth_required(v, self.change_day)
        since = np.full(v.n, float(self.change_day))
        if self.variant is not None:
            required, newly, since = self.variant.prior_auth(v, frame, required, newly, since)
        return required, newly, since

    def parts(self, frame: pd.DataFrame) -> Parts:
        v = causes.view(frame, self.suppliers.npi, self.patient_index)
        s = v.supplier
        pa_required, newly, since = self.prior_auth(v, frame)
        expected = causes.expected_documents(v, pa_required)
        if self.variant is not None:
            expected = self.variant.documents(v, frame, expected)
        doc_eff = causes.document_effects(v, expected)
        line = causes.line_causes(v, self.change_day, self._same_or_similar(v))
        docs = np.column_stack([v.docs[f] for f in DOC_FLAGS]) if v.n else np.zeros((0, len(DOC_FLAGS)))
        known_missing = np.where(docs == 0.0, doc_eff, 0.0)
        cause_effects = {**line, **{f: known_missing[:, j] for j, f in enumerate(DOC_FLAGS)}}
        strict = np.array([p.strictness for p in PAYERS] + [0.0])[v.payer]
        sup_eff = np.append(self.suppliers.effect, 0.0)[s]
        known = strict + sup_eff + sum(cause_effects.values())

        doc_q = self._doc_q(v, pa_required, newly, since)
        q = np.ones((v.n, len(LATENTS)))
        e = np.zeros((v.n, len(LATENTS)))
        hidden = np.isnan(docs)
        q[:, : len(DOC_FLAGS)] = doc_q
        e[:, : len(DOC_FLAGS)] = np.where(hidden, doc_eff, 0.0)
        verify = np.append(self.suppliers.verify_habit, 0.85)[s]
        problem = causes.eligibility_problem_rate(v, verify)
        q[:, len(DOC_FLAGS)] = 1 - problem
        e[:, len(DOC_FLAGS)] = np.where(problem > 0, causes.EFFECT_ELIGIBILITY, 0.0)
        no_visit = causes.no_face_to_face_rate(v, np.append(self.suppliers.no_visit, 0.2)[s])
        q[:, len(DOC_FLAGS) + 1] = 1 - no_visit
        e[:, len(DOC_FLAGS) + 1] = np.where(no_visit > 0, causes.EFFECT_NO_F2F, 0.0)
        ptype = np.where(v.ptype >= 0, v.ptype, 2)
        return Parts(ptype, known, cause_effects, q, e, doc_q, newly)

    def _same_or_similar(self, v: causes.View) -> np.ndarray:
        rt, lt = v.mods["RT"], v.mods["LT"]
        sides = np.column_stack([~lt | rt, ~rt | lt, np.ones(v.n, dtype=bool)])  # a side, or either side
        return self.history.earlier(v.patient, v.group, sides, v.day, causes.LIFETIME, len(causes.GROUPS))

    def _doc_q(
        self, v: causes.View, pa_required: np.ndarray, newly: np.ndarray, since: np.ndarray | None = None
    ) -> np.ndarray:
        """(n, DOC_FLAGS): P(on file) from the supplier's habit, the code and the payer's rules."""
        z = np.append(self.suppliers.doc_quality, 0.0)[v.supplier]
        a = {
            **{f: np.full(v.n, b) for f, b in _DOC_BASE.items()},
            "has_measurements": np.where(v.custom, 1.8, -1.2),
        }
        q = {f: sigmoid(a[f] + 0.9 * z) for f in a}
        habit = np.append(self.suppliers.pa_habit, 0.9)[v.supplier]
        since = self.change_day if since is None else since
        ramp = np.clip(0.2 + 0.8 * (v.day - since) / PA_RAMP_DAYS, 0.0, 1.0)
        learning = PA_UNREQUIRED_ON_FILE + (habit - PA_UNREQUIRED_ON_FILE) * ramp
        q["has_prior_auth"] = np.where(pa_required, np.where(newly, learning, habit), PA_UNREQUIRED_ON_FILE)
        return np.column_stack([q[f] for f in DOC_FLAGS]) if v.n else np.zeros((0, len(DOC_FLAGS)))

    def true_denial_probability(self, frame: pd.DataFrame) -> np.ndarray:
        """The world's probability of denial for each line of a normalised claim table (any rows)."""
        if self.base is None:
            raise ValueError("the world's base rates are not solved yet (simulate first)")
        parts = self.parts(frame)
        return marginal(self.base[parts.ptype] + parts.known, parts.latent_q, parts.latent_e)[0]


def marginal(known: np.ndarray, q: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[sigmoid(known + sum_l e_l (1 - fine_l))] over independent fine_l ~ Bernoulli(q_l), and its slope.

    Enumerated per pattern of latents in play (at most 2^8 assignments), over lines, not per line.
    """
    p = sigmoid(known)
    slope = p * (1 - p)
    play = e > 0
    mask = (play * (1 << np.arange(e.shape[1]))).sum(axis=1) if len(e) else np.zeros(0, dtype=np.int64)
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return p, slope
    for m in np.unique(mask[rows]):
        r = rows[mask[rows] == m]
        latents = [j for j in range(e.shape[1]) if m >> j & 1]
        acc = np.zeros(len(r))
        acc_s = np.zeros(len(r))
        for assign in range(1 << len(latents)):
            w = np.ones(len(r))
            add = known[r].copy()
            for t, j in enumerate(latents):
                fine = assign >> t & 1
                w *= q[r, j] if fine else 1 - q[r, j]
                if not fine:
                    add += e[r, j]
            pr = sigmoid(add)
            acc += w * pr
            acc_s += w * pr * (1 - pr)
        p[r] = acc
        slope[r] = acc_s
    return p, slope
