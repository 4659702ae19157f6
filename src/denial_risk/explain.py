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

(2), (3) and the fixes are computed only for lines at or above the model's
medium-tier threshold: that is where the worklist is worked, and it keeps the
cost of a 10M-line backlog down. Lower lines keep their findings only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk import actions, schema
from denial_risk.actions import LineFacts, dotted, group_words

DRIVER_MIN = 0.05  # a feature group must move the risk by 5 points to be named without a finding
MAX_REASONS = 5
MAX_DRIVERS = 2

CARC_WORDS = {
    "CO-4": "procedure inconsistent with modifier, or a required modifier missing",
    "CO-11": "diagnosis inconsistent with procedure",
    "CO-16": "claim lacks information or has billing errors",
    "CO-18": "exact duplicate claim/service",
    "CO-29": "time limit for filing has expired",
    "CO-50": "not deemed a medical necessity",
    "CO-97": "included in payment for another service",
    "CO-119": "benefit maximum for this period reached",
    "CO-151": "information does not support this many services",
    "CO-181": "procedure code invalid on the date of service",
    "CO-197": "precertification/authorization absent",
    "PR-204": "service not covered under the patient's benefit plan",
}

DOCUMENT_NAMES = {
    "has_prescription": "detailed written order",
    "has_medical_necessity_letter": "letter of medical necessity",
    "has_progress_notes": "treating practitioner's notes",
    "has_proof_of_delivery": "proof of delivery",
    "has_measurements": "body measurements",
    "has_photos": "photos",
}

PAYER_WORDS = {"medicare": "Medicare", "medicare_advantage": "Medicare Advantage", "medicaid": "Medicaid",
               "commercial": "commercial", "other": "this payer"}

# Wording for a feature group that drives the risk without a finding of its own
# (formatted with the line's values; see `_driver_texts`).
GROUP_DRIVERS = {
    "payer": "this payer{payer} denies many lines like this",
    "history": "past denials of {code} for this supplier or payer",
    "amount": "the billed amount ({billed}) is unusual for {code}",
    "code": "{code} is often denied",
    "diagnosis": "the diagnosis ({dx}) is often denied with {code}",
    "documentation": "the documentation on file ({docs})",
    "timing": "the filing timing ({lag})",
    "modifiers": "the modifiers on the line ({mods})",
    "extra": "the extra columns",
}


def _driver_values(clean: pd.DataFrame, pos: int) -> dict:
    row = clean.iloc[pos]

    def get(c):
        v = row[c] if c in row.index else None
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v

    docs = [name for flag, name in DOCUMENT_NAMES.items() if get(flag) is None]
    lag = None
    if get("submission_date") is not None and get("service_date") is not None:
        lag = (get("submission_date") - get("service_date")).days
    dx = get("diagnosis_codes") or ""
    return {
        "payer": f" ({get('payer_id')})" if get("payer_id") else "",
        "code": get("hcpcs_code") or "the code",
        "billed": f"${float(get('billed_amount')):,.2f}" if get("billed_amount") is not None else "unknown",
        "dx": ", ".join(dotted(c) for c in dx.split(schema.LIST_SEP) if c) or "none",
        "docs": ("not recorded: " + ", ".join(docs)) if docs else "as recorded",
        "lag": f"filed {lag} days after service" if lag is not None else "filing date unknown",
        "mods": (get("modifiers") or "").replace(schema.LIST_SEP, ", ") or "none",
    }


def carc_words(carc: str) -> str:
    if carc in CARC_WORDS:
        return CARC_WORDS[carc]
    from denial_risk import reference

    num = carc.split("-", 1)[-1]
    text = reference.carc_descriptions().get(num, "")
    text = text.split(". ")[0].rstrip(".")
    return text[:70].lower() if text else "denial reason"


# --------------------------------------------------------------------------- findings


def findings(clean: pd.DataFrame, facts: LineFacts | None = None) -> pd.DataFrame:
    """Certain findings per line, long format: `pos`, `group` (feature group), `severity`, `text`."""
    from denial_risk import reference

    facts = facts or LineFacts.of(clean)
    n = len(clean)
    parts: list[pd.DataFrame] = []

    def add(mask: np.ndarray, group: str, severity: int, text) -> None:
        pos = np.flatnonzero(mask)
        if len(pos):
            t = text[pos] if isinstance(text, np.ndarray) else text
            parts.append(pd.DataFrame({"pos": pos, "group": group, "severity": severity, "text": t}))

    def col(name: str, dtype: str) -> pd.Series:
        if name in clean.columns:
            return clean[name].astype(dtype)
        return pd.Series(pd.array([pd.NA] * n, dtype=dtype), index=clean.index)

    code = col("hcpcs_code", "string").fillna("").to_numpy(dtype=object)
    groups = facts.policy["policy_group"].astype("string")
    gw = np.asarray([group_words(g) for g in groups.fillna("").to_numpy(dtype=object)], dtype=object)
    ptype = col("payer_type", "string")
    ptype_np = ptype.fillna("").to_numpy(dtype=object)
    mods = facts.mods

    status = facts.hcpcs_status.to_numpy(dtype=object, na_value=None)
    add(status == "invalid", "code", 0, code + " is not a valid HCPCS code")

    kind = facts.invalid_dx_kind.to_numpy(dtype=object)
    first_bad = np.asarray([(_first(v)) for v in facts.invalid_dx.to_numpy(dtype=object)], dtype=object)
    add(kind == "invalid", "diagnosis", 1, "diagnosis " + first_bad + " is not a valid ICD-10-CM code")
    add(kind == "not billable", "diagnosis", 1,
        np.asarray([f"diagnosis {dotted(c)} is not billable (it needs more characters)" for c in first_bad],
                   dtype=object))
    dx = col("diagnosis_codes", "string").fillna("").to_numpy(dtype=object)
    add(dx == "", "diagnosis", 1, "no diagnosis code on the line")

    medicare = ptype.isin(actions.MEDICARE_TYPES).fillna(False).to_numpy(dtype=bool)
    add(facts.flag("kx_required_medicare") & medicare & ~mods["KX"], "modifiers", 2,
        np.asarray([f"no KX on a {g} ({PAYER_WORDS.get(p, p)} requires it)" for g, p in zip(gw, ptype_np)],
                   dtype=object))
    add(mods["KX"] & mods["conflict"], "modifiers", 2, "KX on the same line as GA/GY/GZ (they conflict)")
    add(mods["GA"] & ~mods["KX"], "modifiers", 3, "GA: the supplier expects a denial (ABN on file, the patient may owe)")
    add(mods["GZ"] & ~mods["KX"], "modifiers", 3, "GZ: the supplier expects a denial (no ABN)")
    side = mods["RT"] | mods["LT"] | mods["50"]
    add(facts.flag("sided") & ~side, "modifiers", 2, "no RT/LT on a sided " + gw)
    units = col("units", "Float64").fillna(1.0).to_numpy(dtype=float)
    add(mods["RT"] & mods["LT"] & (units == 1.0), "modifiers", 2, "RT and LT on one line of one unit")

    sup = facts.support
    none = sup["any_supports"].eq(False).fillna(False).to_numpy(dtype=bool)
    add(none, "diagnosis", 3, "none of the claim's diagnoses supports a " + gw)
    primary = np.asarray([dotted(_first(v)) for v in dx], dtype=object)
    not_first = (sup["primary_supports"].eq(False) & sup["any_supports"].eq(True)).fillna(False).to_numpy(dtype=bool)
    add(not_first, "diagnosis", 3, "the primary diagnosis " + primary + " does not support a " + gw)

    # timely filing (the payer type's configured limit)
    rules = reference.payer_rules()
    limits = dict(zip(rules["payer_type"].astype(str), rules["filing_limit_days"].astype("Float64")))
    limit = ptype.map(lambda t: limits.get(t, np.nan) if isinstance(t, str) else np.nan).astype("Float64")
    lag = (col("submission_date", "datetime64[ns]") - col("service_date", "datetime64[ns]")).dt.days
    late = (lag > limit).fillna(False).to_numpy(dtype=bool)
    lag_np = lag.to_numpy(dtype=float, na_value=np.nan)
    lim_np = limit.to_numpy(dtype=float, na_value=np.nan)
    add(late, "timing", 2, np.asarray(
        [f"filed {lg:.0f} days after service, past the {lm:.0f}-day filing limit" if ok else ""
         for lg, lm, ok in zip(lag_np, lim_np, late)], dtype=object))

    # prior authorization: explicitly absent where the payer type commonly requires it for this item
    pa_policy = dict(zip(rules["payer_type"].astype(str), rules["prior_auth_policy"].astype(str)))
    common = ptype.map(lambda t: pa_policy.get(t) == "common" if isinstance(t, str) else False).astype(bool)
    no_pa = col("has_prior_auth", "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
    add(no_pa & common.to_numpy(dtype=bool) & facts.flag("prior_auth_prone"), "documentation", 3, np.asarray(
        [f"no prior authorization ({PAYER_WORDS.get(p, p)} plans commonly require it for a {g})"
         for p, g in zip(ptype_np, gw)], dtype=object))

    # expected documents marked as not on file
    expected = facts.policy["expected_documents"].astype("string").fillna("").to_numpy(dtype=object)
    missing = [[] for _ in range(n)]
    for doc, name in DOCUMENT_NAMES.items():
        no = col(doc, "boolean").eq(False).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(no):
            if doc in expected[i]:
                missing[i].append(name)
    miss = np.asarray(["no " + _or_list(m) + " on file" if m else "" for m in missing], dtype=object)
    add(miss != "", "documentation", 4, miss)

    limit_u = facts.policy["unit_limit"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    over = units > limit_u
    add(over, "code", 4, np.asarray([f"{u:.0f} units, above the policy's limit of {lm:.0f}" if o else ""
                                      for u, lm, o in zip(units, limit_u, over)], dtype=object))

    prior = col("prior_same_code_12m", "Float64").to_numpy(dtype=float, na_value=np.nan)
    life = facts.policy["useful_lifetime_years"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    repl = (prior > 0) & (life > 0)
    add(repl, "history", 4, np.asarray(
        [f"{k:.0f} earlier claim(s) for this code in the last 12 months ({y:.0f}-year useful lifetime)" if r
         else "" for k, y, r in zip(prior, life, repl)], dtype=object))

    if not parts:
        return pd.DataFrame({"pos": pd.Series([], dtype=np.int64), "group": [], "severity": [], "text": []})
    return pd.concat(parts, ignore_index=True)


def _first(v) -> str:
    return str(v).split(schema.LIST_SEP, 1)[0] if isinstance(v, str) and v else ""


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# --------------------------------------------------------------------------- model attributions


def group_attributions(model, X: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Risk drop per feature group when the group is set to its typical values (rows × groups)."""
    groups = {g: np.asarray(ix, dtype=np.int64) for g, ix in model.feature_groups.items() if len(ix)}
    out = np.zeros((len(X), len(groups)))
    if len(X) == 0:
        return pd.DataFrame(out, columns=list(groups))
    typical = np.asarray(model.typical_values, dtype=np.float64)
    for j, ix in enumerate(groups.values()):
        Xg = X.copy()
        Xg[:, ix] = typical[ix]
        out[:, j] = p - model.proba_from_matrix(Xg)
    return pd.DataFrame(out, columns=list(groups))


def predicted_carcs(model, X: np.ndarray, k: int = 2) -> list[list[tuple[str, float]]]:
    """The k most likely CARCs per row (given a denial), excluding pooled 'other'/'unknown'."""
    tops = model.top_carcs(X, k=k + 2)
    return [[(c, q) for c, q in row if c not in ("other", "unknown", "nan", "")][:k] for row in tops]


# --------------------------------------------------------------------------- assembling


def explain_rows(model, clean: pd.DataFrame, X: np.ndarray, p: np.ndarray, *,
                 min_probability: float | None = None, with_fixes: bool = True) -> pd.DataFrame:
    """`top_reasons`, `recommended_actions` and `predicted_carcs` for normalised rows (aligned on clean.index).

    Attributions, CARCs and fixes are computed for lines with p >= `min_probability`
    (default: the model's medium-tier threshold); all lines get their findings.
    """
    n = len(clean)
    idx = clean.index
    if n == 0:
        empty = pd.Series([], index=idx, dtype="string")
        return pd.DataFrame({"top_reasons": empty, "recommended_actions": empty, "predicted_carcs": empty})
    p = np.asarray(p, dtype=float)
    threshold = model.tiers.get("medium", 0.2) if min_probability is None else min_probability
    deep = np.flatnonzero(p >= threshold)
    facts = LineFacts.of(clean)

    found = findings(clean, facts)
    drops = group_attributions(model, X[deep], p[deep]) if len(deep) else None

    items = [found.assign(score=-found["severity"].astype(float) / 100.0, kind=0)]
    carc_text = pd.Series("", index=idx, dtype=object)
    if drops is not None:
        # order findings by how much their group drives the line's risk
        where = np.full(n, -1, dtype=np.int64)
        where[deep] = np.arange(len(deep))
        fpos = found["pos"].to_numpy(dtype=np.int64)
        in_deep = where[fpos] >= 0
        gcol = {g: j for j, g in enumerate(drops.columns)}
        gj = np.asarray([gcol.get(g, -1) for g in found["group"]], dtype=np.int64)
        D = drops.to_numpy()
        score = items[0]["score"].to_numpy(dtype=float).copy()
        ok = in_deep & (gj >= 0)
        score[ok] = D[where[fpos[ok]], gj[ok]] - found["severity"].to_numpy(dtype=float)[ok] / 100.0
        items[0]["score"] = score

        # groups that drive the risk without a finding of their own
        have = set(zip(fpos.tolist(), found["group"].tolist()))
        rows, grp, txt, sc = [], [], [], []
        for j, g in enumerate(drops.columns):
            strong = np.flatnonzero(D[:, j] >= DRIVER_MIN)
            template = GROUP_DRIVERS.get(g, f"the line's {g.replace('_', ' ')}")
            for r in strong:
                pos = int(deep[r])
                if (pos, g) in have:
                    continue
                rows.append(pos), grp.append(g), sc.append(D[r, j])
                txt.append(f"{template.format(**_driver_values(clean, pos))} (+{100 * D[r, j]:.0f} points)")
        if rows:
            drv = pd.DataFrame({"pos": rows, "group": grp, "severity": 9, "text": txt, "score": sc, "kind": 1})
            drv = drv.sort_values(["pos", "score"], ascending=[True, False], kind="stable")
            drv = drv[drv.groupby("pos").cumcount() < MAX_DRIVERS]
            items.append(drv)

        tops = predicted_carcs(model, X[deep])
        carc_list = pd.Series("", index=idx, dtype=object)
        carc_list.iloc[deep] = [", ".join(f"{c} ({100 * q:.0f}%)" for c, q in row) for row in tops]
        carc_text.iloc[deep] = [f"likely {row[0][0]}: {carc_words(row[0][0])}" if row else "" for row in tops]
    else:
        carc_list = pd.Series("", index=idx, dtype=object)

    reasons = pd.concat(items, ignore_index=True)
    reasons = reasons.sort_values(["pos", "kind", "score"], ascending=[True, True, False], kind="stable")
    reasons = reasons[reasons.groupby("pos").cumcount() < MAX_REASONS - 1]
    joined = reasons.groupby("pos", sort=True)["text"].agg("; ".join)
    top = pd.Series("", index=idx, dtype=object)
    top.iloc[joined.index.to_numpy()] = joined.to_numpy()
    has_carc = carc_text != ""
    top = top.where(~has_carc, np.where(top == "", carc_text, top + "; " + carc_text))

    if with_fixes and len(deep):
        table = actions.fix_table(model, clean, X, p, deep, facts=facts)
        fixes = actions.recommended_actions(table, idx)
    else:
        fixes = pd.Series("", index=idx, dtype="string")
    return pd.DataFrame({"top_reasons": top.astype("string"), "recommended_actions": fixes.astype("string"),
                         "predicted_carcs": carc_list.astype("string")}, index=idx)
