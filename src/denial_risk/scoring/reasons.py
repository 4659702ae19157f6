"""Why a line is at risk (`top_reasons`) and what to fix (`recommended_actions`).

`top_reasons` merges three sources, in a biller's words, `; `-separated:

1. **Findings** the policy table and the code sets make certain: an invalid
   HCPCS code ("L1320 is not a valid HCPCS code"), an invalid or non-billable
   diagnosis, no KX where Medicare policy requires it, no RT/LT on a sided
   item, RT+LT on one unit, a diagnosis that does not support the item, a
   filing lag past the payer's limit, no prior authorization where the payer
   commonly requires it, expected documents marked as not on file, units above
   the policy's limit, a same-code claim inside the useful lifetime.
   Findings are shown for every line, whatever its risk.
2. **The model's own attribution** per feature group (`model.feature_groups`):
   the risk drop when the group's features are set to their typical training
   values (`model.typical_values`), rescored on the feature matrix. It orders
   the findings (strongest group first) and adds a group that drives the risk
   by at least `DRIVER_MIN` but has no finding ("this payer denies many lines
   like this (+12 points)").
3. **The predicted CARC** from the model's reason classifier ("likely CO-4:
   procedure inconsistent with modifier").

(3) and the fixes are computed only for lines at or above the model's
medium-tier threshold, (2) — one rescoring per feature group, the dearest
part — only for lines at or above the high-tier threshold (medium lines keep
their findings in severity order): that is where the worklist is worked, and
it keeps the cost of a 10M-line backlog down. Low lines keep their findings only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.facts import LineFacts
from denial_risk.contract.wording import (
    DOCUMENT_NAMES,
    GROUP_DRIVERS,
    PAYER_WORDS,
    carc_words,
    dotted,
    group_words,
    or_list,
)
from denial_risk.scoring import fixes
from denial_risk.scoring.fixes import join_by_position

DRIVER_MIN = 0.05  # a feature group must move the risk by 5 points to be named without a finding
MAX_REASONS = 5
MAX_DRIVERS = 2


def _driver_values(clean: pd.DataFrame, pos: np.ndarray) -> dict[str, np.ndarray]:
    """The values the driver texts quote, for the lines at `pos` (vectorised; one string per line)."""
    sub = clean.iloc[pos]
    n = len(sub)

    def text(c: str) -> np.ndarray:
        if c not in sub.columns:
            return np.full(n, "", dtype=object)
        return sub[c].astype("string").fillna("").to_numpy(dtype=object)

    payer = text("payer_id")
    code = text("hcpcs_code")
    billed = sub["billed_amount"].to_numpy(dtype=float)
    docs_unknown = [
        sub[flag].isna().to_numpy(dtype=bool) if flag in sub.columns else np.ones(n, dtype=bool)
        for flag in DOCUMENT_NAMES
    ]
    names = list(DOCUMENT_NAMES.values())
    if "submission_date" in sub.columns and "service_date" in sub.columns:
        lag = (sub["submission_date"] - sub["service_date"]).dt.days.to_numpy(dtype=float, na_value=np.nan)
    else:
        lag = np.full(n, np.nan)
    dx = text("diagnosis_codes")
    mods = text("modifiers")
    return {
        "payer": np.asarray([f" ({v})" if v else "" for v in payer], dtype=object),
        "code": np.asarray([v or "the code" for v in code], dtype=object),
        "billed": np.asarray([f"${v:,.2f}" for v in billed], dtype=object),
        "dx": np.asarray(
            [", ".join(dotted(c) for c in v.split(schema.LIST_SEP) if c) or "none" for v in dx], dtype=object
        ),
        "docs": np.asarray(
            [
                ("documents not recorded: " + ", ".join(nm for nm, u in zip(names, flags) if u))
                if any(flags)
                else "the documents on file for this item and payer"
                for flags in zip(*docs_unknown)
            ],
            dtype=object,
        )
        if n
        else np.empty(0, dtype=object),
        "lag": np.asarray(
            [f"filed {v:.0f} days after service" if not np.isnan(v) else "filing date unknown" for v in lag],
            dtype=object,
        ),
        "mods": np.asarray([v.replace(schema.LIST_SEP, ", ") or "none" for v in mods], dtype=object),
    }


# --------------------------------------------------------------------------- findings


class _Findings:
    """Collects certain findings for a frame of normalised lines, one family at a time."""

    def __init__(self, clean: pd.DataFrame, facts: LineFacts):
        self.clean, self.facts, self.n = clean, facts, len(clean)
        self.parts: list[pd.DataFrame] = []
        self.code = self.col("hcpcs_code", "string").fillna("").to_numpy(dtype=object)
        self.gw = self.per_unique(facts.policy["policy_group"], group_words)
        self.ptype = self.col("payer_type", "string")
        self.pw = self.per_unique(self.ptype, lambda t: PAYER_WORDS.get(t, t))
        self.units = self.col("units", "Float64").fillna(1.0).to_numpy(dtype=float)

    def add(self, mask: np.ndarray, group: str, severity: int, text) -> None:
        """`text`: a string, or a function of the positions giving one string per position."""
        pos = np.flatnonzero(mask)
        if len(pos):
            t = text(pos) if callable(text) else text
            self.parts.append(pd.DataFrame({"pos": pos, "group": group, "severity": severity, "text": t}))

    def col(self, name: str, dtype: str) -> pd.Series:
        if name in self.clean.columns:
            return self.clean[name].astype(dtype)
        return pd.Series(pd.array([pd.NA] * self.n, dtype=dtype), index=self.clean.index)

    @staticmethod
    def per_unique(values: pd.Series, fn) -> np.ndarray:
        codes, uni = pd.factorize(values.astype("string").fillna(""), use_na_sentinel=False)
        mapped = np.asarray([fn(u) for u in uni] or [""], dtype=object)
        return mapped[codes] if len(codes) else np.empty(0, dtype=object)

    def codes_and_diagnoses(self) -> None:
        facts, code = self.facts, self.code
        status = facts.hcpcs_status.to_numpy(dtype=object, na_value=None)
        self.add(status == "invalid", "code", 0, lambda pos: code[pos] + " is not a valid HCPCS code")
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

    def diagnosis_support(self) -> None:
        facts, gw = self.facts, self.gw
        dx_s = self.col("diagnosis_codes", "string").fillna("")
        sup = facts.support
        none = sup["any_supports"].eq(False).fillna(False).to_numpy(dtype=bool)
        self.add(none, "diagnosis", 3, lambda pos: "none of the claim's diagnoses supports a " + gw[pos])
        not_first = (sup["primary_supports"].eq(False) & sup["any_supports"].eq(True)).fillna(False)
        primary = self.per_unique(dx_s, lambda v: dotted(_first(v)))
        self.add(
            not_first.to_numpy(dtype=bool),
            "diagnosis",
            3,
            lambda pos: "the primary diagnosis " + primary[pos] + " does not support a " + gw[pos],
        )

    def modifiers(self) -> None:
        facts, mods, gw, pw = self.facts, self.facts.mods, self.gw, self.pw
        medicare = self.ptype.isin(schema.MEDICARE_TYPES).fillna(False).to_numpy(dtype=bool)
        self.add(
            facts.flag("kx_required_medicare") & medicare & ~mods["KX"],
            "modifiers",
            2,
            lambda pos: [f"no KX on a {g} ({p} requires it)" for g, p in zip(gw[pos], pw[pos])],
        )
        self.add(
            mods["KX"] & mods["conflict"], "modifiers", 2, "KX on the same line as GA/GY/GZ (they conflict)"
        )
        self.add(
            mods["GA"] & ~mods["KX"],
            "modifiers",
            3,
            "GA: the supplier expects a denial (ABN on file, the patient may owe)",
        )
        self.add(mods["GZ"] & ~mods["KX"], "modifiers", 3, "GZ: the supplier expects a denial (no ABN)")
        side = mods["RT"] | mods["LT"] | mods["50"]
        self.add(facts.flag("sided") & ~side, "modifiers", 2, lambda pos: "no RT/LT on a sided " + gw[pos])
        self.add(
            mods["RT"] & mods["LT"] & (self.units == 1.0), "modifiers", 2, "RT and LT on one line of one unit"
        )

    def filing_and_authorization(self) -> None:
        from denial_risk.contract import reference

        rules = reference.payer_rules()
        limits = dict(zip(rules["payer_type"].astype(str), rules["filing_limit_days"].astype("Float64")))
        limit = self.per_unique(self.ptype, lambda t: float(limits.get(t, np.nan))).astype(float)
        lag = (
            self.col("submission_date", "datetime64[ns]") - self.col("service_date", "datetime64[ns]")
        ).dt.days
        lag_np = lag.to_numpy(dtype=float, na_value=np.nan)
        self.add(
            lag_np > limit,
            "timing",
            2,
            lambda pos: [
                f"filed {lg:.0f} days after service, past the {lm:.0f}-day filing limit"
                for lg, lm in zip(lag_np[pos], limit[pos])
            ],
        )
        # prior authorization: explicitly absent where the payer type commonly requires it for this item
        pa_policy = dict(zip(rules["payer_type"].astype(str), rules["prior_auth_policy"].astype(str)))
        common = self.per_unique(self.ptype, lambda t: pa_policy.get(t) == "common").astype(bool)
        no_pa = self.col("has_prior_auth", "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
        pw, gw = self.pw, self.gw
        self.add(
            no_pa & common & self.facts.flag("prior_auth_prone"),
            "documentation",
            3,
            lambda pos: [
                f"no prior authorization ({p} plans commonly require it for a {g})"
                for p, g in zip(pw[pos], gw[pos])
            ],
        )

    def documents(self) -> None:
        """Expected documents marked as not on file: one bit per document, text per distinct pattern."""
        expected = self.facts.policy["expected_documents"].astype("string")
        bits = np.zeros(self.n, dtype=np.int64)
        names = list(DOCUMENT_NAMES.values())
        for k, doc in enumerate(DOCUMENT_NAMES):
            exp = self.per_unique(expected, lambda v, d=doc: d in v).astype(bool)
            no = self.col(doc, "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
            bits |= (exp & no).astype(np.int64) << k
        patterns = {
            int(b): "no " + or_list([nm for k, nm in enumerate(names) if b >> k & 1]) + " on file"
            for b in np.unique(bits[bits > 0])
        }
        self.add(bits > 0, "documentation", 4, lambda pos: [patterns[int(b)] for b in bits[pos]])

    def units_and_history(self) -> None:
        policy, units = self.facts.policy, self.units
        limit_u = policy["unit_limit"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        self.add(
            units > limit_u,
            "code",
            4,
            lambda pos: [
                f"{u:.0f} units, above the policy's limit of {lm:.0f}"
                for u, lm in zip(units[pos], limit_u[pos])
            ],
        )
        prior = self.col("prior_same_code_12m", "Float64").to_numpy(dtype=float, na_value=np.nan)
        life = policy["useful_lifetime_years"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        self.add(
            (prior > 0) & (life > 0),
            "history",
            4,
            lambda pos: [
                f"{k:.0f} earlier claim(s) for this code in the last 12 months ({y:.0f}-year useful lifetime)"
                for k, y in zip(prior[pos], life[pos])
            ],
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(
                {"pos": pd.Series([], dtype=np.int64), "group": [], "severity": [], "text": []}
            )
        return pd.concat(self.parts, ignore_index=True)


def findings(clean: pd.DataFrame, facts: LineFacts | None = None) -> pd.DataFrame:
    """Certain findings per line, long format: `pos`, `group` (feature group), `severity`, `text`.

    Vectorised: texts are built only for the lines a finding applies to, per distinct value where possible.
    """
    f = _Findings(clean, facts or LineFacts.of(clean))
    f.codes_and_diagnoses()  # the order of the families is the order of equally severe reasons
    f.modifiers()
    f.diagnosis_support()
    f.filing_and_authorization()
    f.documents()
    f.units_and_history()
    return f.frame()


def _first(v) -> str:
    return str(v).split(schema.LIST_SEP, 1)[0] if isinstance(v, str) and v else ""


# --------------------------------------------------------------------------- model attributions


def group_attributions(model, X: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Risk drop per feature group when the group is set to its typical values (rows × groups)."""
    groups = {g: np.asarray(ix, dtype=np.int64) for g, ix in model.feature_groups.items() if len(ix)}
    out = np.zeros((len(X), len(groups)))
    if len(X) == 0:
        return pd.DataFrame(out, columns=list(groups))
    typical = np.asarray(model.typical_values, dtype=np.float64)
    for j, ix in enumerate(groups.values()):
        differs = np.flatnonzero((X[:, ix] != typical[ix]).any(axis=1))  # a typical group moves nothing
        if len(differs):
            Xg = X[differs]
            Xg[:, ix] = typical[ix]
            out[differs, j] = p[differs] - model.proba_from_matrix(Xg)
    return pd.DataFrame(out, columns=list(groups))


def predicted_carcs(model, X: np.ndarray, k: int = 2) -> list[list[tuple[str, float]]]:
    """The k most likely CARCs per row (given a denial), excluding pooled 'other'/'unknown'."""
    tops = model.top_carcs(X, k=k + 2)
    return [[(c, q) for c, q in row if c not in ("other", "unknown", "nan", "")][:k] for row in tops]


# --------------------------------------------------------------------------- assembling


def explain_rows(
    model,
    clean: pd.DataFrame,
    X: np.ndarray,
    p: np.ndarray,
    *,
    min_probability: float | None = None,
    attribution_min_probability: float | None = None,
    with_fixes: bool = True,
) -> pd.DataFrame:
    """`top_reasons`, `recommended_actions`, `predicted_carcs` for normalised rows (on clean.index).

    CARCs and fixes are computed for lines with p >= `min_probability` (default: the
    model's medium-tier threshold), the model's group attributions (which order the
    findings and name drivers without a finding) for lines with p >=
    `attribution_min_probability` (default: the high-tier threshold; they cost one
    rescoring per feature group). All lines get their findings.
    """
    n = len(clean)
    idx = clean.index
    if n == 0:
        empty = pd.Series([], index=idx, dtype="string")
        return pd.DataFrame({"top_reasons": empty, "recommended_actions": empty, "predicted_carcs": empty})
    p = np.asarray(p, dtype=float)
    threshold = model.tiers.get("medium", 0.2) if min_probability is None else min_probability
    deep = np.flatnonzero(p >= threshold)
    attr_threshold = (
        model.tiers.get("high", 0.5) if attribution_min_probability is None else attribution_min_probability
    )
    attr = np.flatnonzero(p >= max(attr_threshold, threshold))
    facts = LineFacts.of(clean)

    found = findings(clean, facts)
    items = [found.assign(score=-found["severity"].astype(float) / 100.0, kind=0)]
    if len(attr):
        drops = group_attributions(model, X[attr], p[attr])
        items[0]["score"] = _scores_by_attribution(found, items[0]["score"], drops, attr, n)
        drivers = _driver_items(clean, found, drops, attr)
        if drivers is not None:
            items.append(drivers)
    carc_list, carc_text = _carc_columns(model, X, deep, idx)
    top = _joined_reasons(items, carc_text, idx)
    if with_fixes and len(deep):
        table = fixes.fix_table(model, clean, X, p, deep, facts=facts)
        actions = fixes.recommended_actions(table, idx)
    else:
        actions = pd.Series("", index=idx, dtype="string")
    return pd.DataFrame(
        {
            "top_reasons": top.astype("string"),
            "recommended_actions": actions.astype("string"),
            "predicted_carcs": carc_list.astype("string"),
        },
        index=idx,
    )


def _scores_by_attribution(
    found: pd.DataFrame, score: pd.Series, drops: pd.DataFrame, attr: np.ndarray, n: int
) -> np.ndarray:
    """Order a line's findings by how much their feature group drives its risk (attributed lines only)."""
    where = np.full(n, -1, dtype=np.int64)
    where[attr] = np.arange(len(attr))
    fpos = found["pos"].to_numpy(dtype=np.int64)
    gcol = {g: j for j, g in enumerate(drops.columns)}
    gj = np.asarray([gcol.get(g, -1) for g in found["group"]], dtype=np.int64)
    out = score.to_numpy(dtype=float).copy()
    ok = (where[fpos] >= 0) & (gj >= 0)
    out[ok] = drops.to_numpy()[where[fpos[ok]], gj[ok]] - found["severity"].to_numpy(dtype=float)[ok] / 100.0
    return out


def _driver_items(
    clean: pd.DataFrame, found: pd.DataFrame, drops: pd.DataFrame, attr: np.ndarray
) -> pd.DataFrame | None:
    """Feature groups that drive a line's risk by `DRIVER_MIN` or more without a finding of their own."""
    D = drops.to_numpy()
    have = pd.MultiIndex.from_arrays(
        [found["pos"].to_numpy(dtype=np.int64), found["group"].to_numpy(dtype=object)]
    )
    strong_any = np.flatnonzero((D >= DRIVER_MIN).any(axis=1))
    values = _driver_values(clean, attr[strong_any]) if len(strong_any) else {}
    at = np.full(len(attr), -1, dtype=np.int64)
    at[strong_any] = np.arange(len(strong_any))
    frames = []
    for j, g in enumerate(drops.columns):
        strong = np.flatnonzero(D[:, j] >= DRIVER_MIN)
        pos = attr[strong]
        keep = ~pd.MultiIndex.from_arrays([pos, np.full(len(pos), g, dtype=object)]).isin(have)
        strong, pos = strong[keep], pos[keep]
        if not len(strong):
            continue
        template = GROUP_DRIVERS.get(g, f"the line's {g.replace('_', ' ')}")
        fields = {name: arr[at[strong]] for name, arr in values.items()}
        pts = D[strong, j]
        txt = [
            template.format(**{name: fields[name][i] for name in fields}) + f" (+{100 * pts[i]:.0f} points)"
            for i in range(len(strong))
        ]
        frames.append(
            pd.DataFrame({"pos": pos, "group": g, "severity": 9, "text": txt, "score": pts, "kind": 1})
        )
    if not frames:
        return None
    drv = pd.concat(frames, ignore_index=True)
    drv = drv.sort_values(["pos", "score"], ascending=[True, False], kind="stable")
    return drv[drv.groupby("pos").cumcount() < MAX_DRIVERS]


def _carc_columns(model, X: np.ndarray, deep: np.ndarray, idx: pd.Index) -> tuple[pd.Series, pd.Series]:
    """(`predicted_carcs` list, the 'likely CO-x: words' reason) for the lines at `deep`."""
    carc_list = pd.Series("", index=idx, dtype=object)
    carc_text = pd.Series("", index=idx, dtype=object)
    if len(deep):
        tops = predicted_carcs(model, X[deep])
        carc_list.iloc[deep] = [", ".join(f"{c} ({100 * q:.0f}%)" for c, q in row) for row in tops]
        carc_text.iloc[deep] = [f"likely {row[0][0]}: {carc_words(row[0][0])}" if row else "" for row in tops]
    return carc_list, carc_text


def _joined_reasons(items: list[pd.DataFrame], carc_text: pd.Series, idx: pd.Index) -> pd.Series:
    """Findings first (strongest first), then drivers, at most `MAX_REASONS - 1`, then the likely CARC."""
    reasons = pd.concat(items, ignore_index=True)
    reasons = reasons.sort_values(["pos", "kind", "score"], ascending=[True, True, False], kind="stable")
    reasons = reasons[reasons.groupby("pos").cumcount() < MAX_REASONS - 1]
    jpos, jtext = join_by_position(
        reasons["pos"].to_numpy(dtype=np.int64), reasons["text"].to_numpy(dtype=object)
    )
    top = pd.Series("", index=idx, dtype=object)
    top.iloc[jpos] = jtext
    has_carc = carc_text != ""
    return top.where(~has_carc, np.where(top == "", carc_text, top + "; " + carc_text))
