"""Certain findings on a line, in a biller's words, true for this payer.

A finding states a fact the line's own columns, the code sets and the policy table make
certain ("L1320 is not a valid HCPCS code", "no signed proof of delivery on file"), or a
requirement with its source: Medicare's dated rules (`contract.rules`, with the date),
or what this payer's own remittances show ("this payer denied 31 % of such lines
without prior authorization as CO-197; 2 % with it"). No finding says a payer requires
something without one or the other.

Each finding has the feature group it belongs to (so the model's attribution can order
it) and a severity (the order among equally strong findings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller import remedies
from denial_risk.biller.wording import DOCUMENT_NAMES, PAYER_WORDS, dotted, group_words, or_list
from denial_risk.contract import codefit, reference, rules, schema
from denial_risk.contract import policy as policy_mod
from denial_risk.contract.facts import LineFacts, same_or_similar

EVIDENCE_MIN_DIFF = 0.02  # a payer's remits show a requirement when its reason rate rises this much
# GA (CMS ABN form instructions, CMS-R-131; CMS IOM 100-04 ch. 30 sec. 50): an ABN binds Original
# Medicare only; a Medicare Advantage, Medicaid or commercial member is not made liable by it.
GA_MEDICARE = "GA: an expected denial with the ABN on file (Original Medicare: PR-50, M38: the patient owes)"
GA_OTHER = "GA on a {p} line: an ABN binds only Original Medicare, not this payer's member"
# Knee orthoses: 5 years unless policy article A52465 lists the code as not following it (Noridian JD DME,
# Knee Orthoses RUL Guidance in Policy Article A52465, 2023-07-20); which codes and how long: unconfirmed.
KNEE_LIFETIME = "useful lifetime (5 years, or shorter for some knee codes: policy article A52465)"


def _invalid_code_words(code: np.ndarray, validity: pd.DataFrame, pos: np.ndarray) -> list[str]:
    """'L0620 is not a valid HCPCS code', or why it was not on the date of service (hcpcs_validity)."""
    v = validity.iloc[pos]
    out = []
    for c, why, start, end, on, after in zip(
        code[pos], v["invalid_because"], v["valid_from"], v["valid_to"], v["checked_on"], v["after_file"]
    ):
        day = f"{pd.Timestamp(on):%Y-%m-%d}" if not pd.isna(on) else "the date of service"
        if why == "not_yet_added" and not pd.isna(start):
            out.append(f"{c} was not a valid HCPCS code on {day} (added {pd.Timestamp(start):%Y-%m-%d})")
        elif why == "terminated" and not pd.isna(end):
            out.append(f"{c} was not a valid HCPCS code on {day} (ended {pd.Timestamp(end):%Y-%m-%d})")
        elif bool(after) if not pd.isna(after) else False:
            out.append(
                f"{c} is not in the October 2025 HCPCS file (check the current file: CMS may have added it)"
            )
        else:
            out.append(f"{c} is not a valid HCPCS code")
    return out


def _since_month(day: float) -> str:
    """' since 2025-09' where the payer's figures start at a rule change in its remits
    (`modeling.changes`; the day, since the epoch, of the cell's estimate); '' for all its remits."""
    if np.isnan(day):
        return ""
    return " since " + str(np.datetime64(int(day), "D").astype("datetime64[M]"))


def _first(v) -> str:
    return str(v).split(schema.LIST_SEP, 1)[0] if isinstance(v, str) and v else ""


class _Findings:
    """Collects findings for a frame of normalised lines, one family at a time."""

    def __init__(self, clean: pd.DataFrame, facts: LineFacts, effects=None):
        self.clean, self.facts, self.effects, self.n = clean, facts, effects, len(clean)
        self.parts: list[pd.DataFrame] = []
        self.code = self.col("hcpcs_code", "string").fillna("").to_numpy(dtype=object)
        self.gw = self.per_unique(facts.policy["policy_group"], group_words)
        self.ptype = self.col("payer_type", "string")
        self.pw = self.per_unique(self.ptype, lambda t: PAYER_WORDS.get(t, t))
        self.medicare = self.ptype.eq("medicare").fillna(False).to_numpy(dtype=bool)
        self.units = self.col("units", "Float64").fillna(1.0).to_numpy(dtype=float)
        self.dates = self.col("service_date", "datetime64[ns]").to_numpy()
        self.cand = remedies.candidates(clean, facts) if effects is not None else None

    def add(self, mask: np.ndarray, group: str, severity: int, text, certain: bool = True) -> None:
        """`text`: a string, or a function of the positions giving one string per position. `certain`:
        a rule or a fact of the line (False: what the payer's remits show, learned evidence)."""
        pos = np.flatnonzero(mask)
        if len(pos):
            t = text(pos) if callable(text) else text
            self.parts.append(
                pd.DataFrame(
                    {"pos": pos, "group": group, "severity": severity, "text": t, "certain": certain}
                )
            )

    def col(self, name: str, dtype: str) -> pd.Series:
        if name in self.clean.columns:
            return self.clean[name].astype(dtype)
        return pd.Series(pd.array([pd.NA] * self.n, dtype=dtype), index=self.clean.index)

    @staticmethod
    def per_unique(values: pd.Series, fn) -> np.ndarray:
        codes, uni = pd.factorize(values.astype("string").fillna(""), use_na_sentinel=False)
        mapped = np.asarray([fn(u) for u in np.asarray(uni, dtype=object)] or [""], dtype=object)
        return mapped[codes] if len(codes) else np.empty(0, dtype=object)

    def since(self, rule: str, pos: np.ndarray) -> list[str]:
        """' since 2024-08-12' (or '', or a phased start in words) for the Medicare rule binding each line."""
        return rules.since_words(rule, pd.Series(self.code[pos], dtype="string"), pd.Series(self.dates[pos]))

    def evidence(self, remedy: str, pos: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(shown, words): where this payer's remits show the remedy's reasons rising without it."""
        if self.effects is None or len(pos) == 0:
            return np.zeros(len(pos), dtype=bool), [""] * len(pos)
        state = np.where(self.cand.present[remedy][pos], "present", "unknown")
        cells = self.cand.cells[remedy][pos]
        rate, rate0, since = (np.full(len(pos), np.nan) for _ in range(3))
        for s in ("present", "unknown"):
            hit = state == s
            if hit.any():
                fig = self.effects.lookup(remedy, s, cells[hit])
                rate[hit], rate0[hit] = fig["reason_rate"], fig["reason_rate_without"]
                since[hit] = fig["since"]
        shown = np.nan_to_num(rate - rate0) >= EVIDENCE_MIN_DIFF
        carcs = "/".join(remedies.REMEDIES[remedy].carcs[:2])
        words = [
            f"this payer denied {100 * r:.0f}% of such lines without it as {carcs}{_since_month(d)}"
            f" ({100 * r0:.0f}% with it)"
            if ok
            else ""
            for r, r0, d, ok in zip(rate, rate0, since, shown)
        ]
        return shown, words

    # ----------------------------------------------------------------- families, in display order

    def codes_and_diagnoses(self) -> None:
        facts, code = self.facts, self.code
        status = facts.hcpcs_status.to_numpy(dtype=object, na_value=None)
        self.add(
            status == "invalid", "code", 0, lambda pos: _invalid_code_words(code, facts.hcpcs_validity, pos)
        )
        kind = facts.invalid_dx_kind.to_numpy(dtype=object)
        first_bad = self.per_unique(facts.invalid_dx, _first)
        self.add(
            kind == "invalid",
            "diagnosis",
            1,
            lambda pos: "diagnosis " + first_bad[pos] + " is not a valid ICD-10-CM code",
        )
        self.add(
            kind == "not billable",
            "diagnosis",
            1,
            lambda pos: [
                f"diagnosis {dotted(c)} is not billable (it needs more characters)" for c in first_bad[pos]
            ],
        )
        dx_s = self.col("diagnosis_codes", "string").fillna("")
        self.add(dx_s.to_numpy(dtype=object) == "", "diagnosis", 1, "no diagnosis code on the line")

    def kx_evidence(self) -> None:
        """No KX on a Medicare Advantage line of a KX code, where this payer's remits show it (learned)."""
        if self.effects is None:
            return
        m = self.facts.mods
        ma = np.isin(self.ptype.fillna("").to_numpy(dtype=object), ["medicare_advantage"])
        ma_kx = np.flatnonzero(self.facts.medicare_list["kx_required"] & ma & ~m["KX"] & ~m["conflict"])
        self.shown_by_remits("add_kx", ma_kx, "modifiers", 2, "no KX: ")

    def no_prior_auth(self) -> np.ndarray:
        return self.col("has_prior_auth", "boolean").eq(False).fillna(False).to_numpy(dtype=bool)

    def pa_evidence(self, pa: np.ndarray) -> None:
        """No prior authorization on a line of another payer whose remits show it (learned)."""
        if self.effects is None:
            return
        others = np.flatnonzero(pa & ~self.medicare)
        self.shown_by_remits("obtain_prior_auth", others, "documentation", 3, "no prior authorization: ")

    def shown_by_remits(self, remedy: str, lines: np.ndarray, group: str, severity: int, prefix: str) -> None:
        """A learned finding (`evidence`) on those of `lines` where this payer's remits show the remedy."""
        shown, words = self.evidence(remedy, lines)
        self.add(
            np.isin(np.arange(self.n), lines[shown]),
            group,
            severity,
            lambda pos: [f"{prefix}{w}" for w in np.asarray(words, dtype=object)[shown]],
            certain=False,
        )

    def modifiers(self) -> None:
        f, m, gw, code = self.facts, self.facts.mods, self.gw, self.code
        kx = f.rules["kx_required"] & ~m["KX"] & ~m["conflict"]
        self.add(
            kx,
            "modifiers",
            2,
            lambda pos: [
                f"no KX: Medicare's {g} policy requires it when the coverage criteria are met and documented"
                " (CGS KX table)"
                for g in gw[pos]
            ],
        )
        self.kx_evidence()
        self.add(m["KX"] & m["conflict"], "modifiers", 2, "KX on the same line as GA/GY/GZ (they conflict)")
        self.add(
            f.rules["cg_required"] & ~m["CG"],
            "modifiers",
            2,
            lambda pos: [
                f"no CG on {c}: Medicare requires it on this spinal garment (Noridian)" for c in code[pos]
            ],
        )
        ga = m["GA"] & ~m["KX"]
        self.add(ga & self.medicare, "modifiers", 3, GA_MEDICARE)
        self.add(
            ga & ~self.medicare, "modifiers", 3, lambda pos: [GA_OTHER.format(p=p) for p in self.pw[pos]]
        )
        self.add(
            m["GZ"] & ~m["KX"], "modifiers", 3, "GZ: an expected denial without an ABN (the supplier's loss)"
        )
        side = m["RT"] | m["LT"] | m["50"]
        self.add(f.flag("sided") & ~side, "modifiers", 2, lambda pos: "no RT/LT on a sided " + gw[pos])
        both = m["RT"] & m["LT"]
        rtlt = f.rules["rt_lt_separate_lines"] & both
        self.add(
            rtlt,
            "modifiers",
            2,
            lambda pos: [
                f"RT and LT on one line: Medicare wants two lines, one unit each{s}"
                " (returned as unprocessable)"
                for s in self.since("rt_lt_separate_lines", pos)
            ],
        )
        self.add(both & ~rtlt & (self.units == 1.0), "modifiers", 2, "RT and LT on one line of one unit")

    def diagnosis_support(self) -> None:
        facts, gw = self.facts, self.gw
        dx_s = self.col("diagnosis_codes", "string").fillna("")
        sup = facts.support
        own = facts.policy["policy_group"]
        wrong, dx_group = codefit.mismatch(
            pd.Series(self.code, dtype=object), own, dx_s, sup["any_supports"], facts.hcpcs_status
        )
        own_np, dx_np = own.astype("string").fillna("").to_numpy(dtype=object), dx_s.to_numpy(dtype=object)
        self.add(
            wrong,
            "code",
            1,
            lambda pos: codefit.mismatch_words(self.code[pos], own_np[pos], dx_group[pos], dx_np[pos]),
        )
        none = sup["any_supports"].eq(False).fillna(False).to_numpy(dtype=bool) & ~wrong
        self.add(none, "diagnosis", 3, lambda pos: "none of the claim's diagnoses supports a " + gw[pos])
        not_first = (sup["primary_supports"].eq(False) & sup["any_supports"].eq(True)).fillna(False)
        primary = self.per_unique(dx_s, lambda v: dotted(_first(v)))
        self.add(
            not_first.to_numpy(dtype=bool),
            "diagnosis",
            3,
            lambda pos: "the primary diagnosis " + primary[pos] + " does not support a " + gw[pos],
        )

    def filing_and_authorization(self) -> None:
        rules_t = reference.payer_rules()
        limits = dict(zip(rules_t["payer_type"].astype(str), rules_t["filing_limit_days"].astype("Float64")))
        limit = self.per_unique(self.ptype, lambda t: float(limits.get(t, np.nan))).astype(float)
        lag = (
            self.col("submission_date", "datetime64[ns]") - self.col("service_date", "datetime64[ns]")
        ).dt.days
        lag_np = lag.to_numpy(dtype=float, na_value=np.nan)
        medicare, pw = self.medicare, self.pw
        self.add(
            lag_np > limit,
            "timing",
            2,
            lambda pos: [
                f"filed {lg:.0f} days after service, past {'Medicare' if m else p}'s"
                f" {lm:.0f}-day filing limit" + ("" if m else " (assumed: check this payer's contract)")
                for lg, lm, m, p in zip(lag_np[pos], limit[pos], medicare[pos], pw[pos])
            ],
        )
        pa = self.no_prior_auth()
        program = self.facts.rules["prior_auth"] & pa
        self.add(
            program,
            "documentation",
            2,
            lambda pos: [
                f"no prior authorization: Medicare requires it for {c}{s}"
                " (CMS Required Prior Authorization List)"
                for c, s in zip(self.code[pos], self.since("prior_auth", pos))
            ],
        )
        self.pa_evidence(pa)

    def documents(self) -> None:
        """Documents marked as not on file (facts), with the payer's evidence where its remits show it."""
        expected = self.facts.policy["expected_documents"].astype("string")
        codes, uni = pd.factorize(expected.fillna(""), use_na_sentinel=False)  # once for every document
        uni = np.asarray(uni, dtype=object)
        bits = np.zeros(self.n, dtype=np.int64)
        names = list(DOCUMENT_NAMES.values())
        for k, doc in enumerate(DOCUMENT_NAMES):
            exp = np.asarray([doc in v for v in uni] or [False], dtype=bool)[codes]
            no = self.col(doc, "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
            bits |= (exp & no).astype(np.int64) << k
        patterns = {
            int(b): "no " + or_list([nm for k, nm in enumerate(names) if b >> k & 1]) + " on file"
            for b in np.unique(bits[bits > 0])
        }
        self.add(bits > 0, "documentation", 4, lambda pos: [patterns[int(b)] for b in bits[pos]])

    def record(self) -> None:
        """Eligibility, the ordering practitioner, the order's and the visit's dates."""
        elig = self.col("eligibility_verified", "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
        self.add(elig, "record", 3, "eligibility not verified for the date of service")
        from denial_risk.contract.facts import npi_valid

        npi = npi_valid(self.col("ordering_npi", "string"))
        self.add(npi == 0.0, "record", 2, "the ordering NPI fails its check digit")
        order = self.col("order_date", "datetime64[ns]").to_numpy()
        f2f = self.col("face_to_face_date", "datetime64[ns]").to_numpy()
        wopd = self.facts.rules["face_to_face_wopd"]
        late = wopd & (order > self.dates)
        self.add(
            late,
            "record",
            2,
            lambda pos: [
                f"the order was signed after delivery: Medicare wants it before delivery for {c}{s}"
                " (WOPD list)"
                for c, s in zip(self.code[pos], self.since("face_to_face_wopd", pos))
            ],
        )
        ref = np.where(pd.isna(order), self.dates, order)
        gap = (ref - f2f).astype("timedelta64[D]").astype("float64")
        bad = wopd & ~pd.isna(f2f) & ((gap < 0) | (gap > 183))
        self.add(
            bad,
            "record",
            2,
            lambda pos: [
                f"the face-to-face visit is not within the 6 months before the order (Medicare F2F list, {c})"
                for c in self.code[pos]
            ],
        )
        missing = wopd & pd.isna(f2f)
        self.add(
            missing,
            "record",
            4,
            lambda pos: [
                "no face-to-face visit on record: Medicare requires one within 6 months before the order"
                f" for {c}"
                f" (F2F/WOPD list{s})"
                for c, s in zip(self.code[pos], self.since("face_to_face_wopd", pos))
            ],
        )

    def units_and_history(self) -> None:
        policy, units = self.facts.policy, self.units
        both = self.facts.mods["RT"] & self.facts.mods["LT"]
        limit_u = policy["unit_limit"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        sourced = self.per_unique(
            policy["policy_group"], lambda g: g in policy_mod.SOURCED_UNIT_LIMITS
        ).astype(bool)
        self.add(
            units > np.where(both, 2, 1) * limit_u,
            "code",
            4,
            lambda pos: [
                f"{u:.0f} units, above {'the policy' if ok else 'the project'}'s limit of {lm:.0f} a line"
                + ("" if ok else " (project judgement, not a payer's published limit)")
                for u, lm, ok in zip(units[pos], limit_u[pos], sourced[pos])
            ],
        )
        self.same_or_similar()

    def same_or_similar(self) -> None:
        """An earlier claim for the code inside its lifetime; not on a capped-rental month (RR with KH/KI/KJ),
        and on a sided line only if the earlier one was for the same side (the record does not say)."""
        m, policy = self.facts.mods, self.facts.policy
        prior = self.col("prior_same_code_12m", "Float64").to_numpy(dtype=float, na_value=np.nan)
        life = policy["useful_lifetime_years"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        side = np.where(m["RT"] & ~m["LT"], "RT", np.where(m["LT"] & ~m["RT"], "LT", ""))
        knee = self.per_unique(policy["policy_group"], lambda g: g == "knee_orthosis").astype(bool)
        self.add(
            same_or_similar(prior, self.facts),
            "history",
            4,
            lambda pos: [
                f"{k:.0f} earlier claim(s) for this code in the last 12 months, inside its "
                + (KNEE_LIFETIME if kn else f"{y:.0f}-year useful lifetime")
                + (
                    f", if the earlier one was for the same side ({sd}): the other side's is not"
                    if sd
                    else ""
                )
                + (" (same or similar: Medicare sends CO-151 with M3)" if mc else " (same or similar)")
                for k, y, kn, sd, mc in zip(prior[pos], life[pos], knee[pos], side[pos], self.medicare[pos])
            ],
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {"pos": pd.Series([], dtype=np.int64), "group": [], "severity": [], "text": [], "certain": []}
            )
        return pd.concat(self.parts, ignore_index=True)


def findings(clean: pd.DataFrame, facts: LineFacts | None = None, effects=None) -> pd.DataFrame:
    """Findings per line, long format: `pos`, `group` (feature group), `severity`, `text`, `certain`.

    `effects` (a model's `FixEffects`) lets a finding quote what this payer's remits show (learned
    evidence, `certain` False); without it every finding is certain (`scoring.rulelayer`).
    """
    f = _Findings(clean, facts or LineFacts.of(clean), effects)
    f.codes_and_diagnoses()  # the order of the families is the order of equally severe reasons
    f.modifiers()
    f.diagnosis_support()
    f.filing_and_authorization()
    f.documents()
    f.record()
    f.units_and_history()
    return f.frame()


def evidence_findings(clean: pd.DataFrame, facts: LineFacts, effects) -> pd.DataFrame:
    """Only what this payer's remits show (`certain` False): `findings` without the certain ones, for lines
    whose certain findings the rule layer has already found (`scoring.rulelayer.certain_findings`)."""
    f = _Findings(clean, facts, effects)
    f.kx_evidence()
    f.pa_evidence(f.no_prior_auth())
    return f.frame()
