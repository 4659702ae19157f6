"""Recommended actions: counterfactual fixes, each rescored by the model.

A fix is a change a biller can make to the claim line itself: add the side
modifier, add KX where the record backs the attestation, remove a KX that
conflicts with GA/GY/GZ, attach a missing document, obtain prior
authorization, put a supporting diagnosis from the claim first, drop an
invalid diagnosis, split a bilateral line. Never the payer, the patient or a
date of service: no fix here touches those columns (`FIXABLE_COLUMNS`).

Every scored fix is applied to the *normalised* row (`apply_fix`), the row is
re-featurised and rescored with the model, and the fix is listed only if it
lowers the risk by at least `MIN_DROP` (one percentage point). Because the
features are computed row by row at scoring time, the risk stated for a fix is
exactly what scoring the fixed line gives (tests check this to 1e-6).

Two advisories are not scored, because the right answer is not in the claim:
an invalid HCPCS code (the correct code for the item is unknown; a line with
an invalid code is denied whatever else is fixed, so it is listed first) and
"none of the claim's diagnoses supports the item" (listed last). They carry no
`→ risk` tail.

Cost: fixes are computed only for the rows asked for (the worklist asks for
lines at or above the medium tier), every fix type is rescored in one batch,
and only the feature groups whose input columns a fix changes are recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.facts import LineFacts, diagnosis_problems, split_list_value
from denial_risk.contract.wording import DOCUMENT_FIXES, dotted, group_words

MIN_DROP = 0.01  # a fix must lower the risk by at least one percentage point to be listed
MAX_ACTIONS = 4  # scored fixes listed per line (advisories come on top)
SIDES = ("RT", "LT")

# The only columns a fix may change.
FIXABLE_COLUMNS = ("modifiers", "diagnosis_codes", *DOCUMENT_FIXES, "has_prior_auth")

KIND_SCORED, KIND_ADVISORY = "scored", "advisory"


# --------------------------------------------------------------------------- applying fixes


def _add_modifier(mods: pd.Series, m: str) -> pd.Series:
    s = mods.astype("string").fillna("")
    return (s + np.where(s == "", "", schema.LIST_SEP) + m).astype("string")


def _remove_modifier(mods: pd.Series, m: str) -> pd.Series:
    s = mods.astype("string").fillna("")
    codes, uni = pd.factorize(s, use_na_sentinel=False)
    out = np.asarray(
        [schema.LIST_SEP.join(x for x in split_list_value(v) if x != m) for v in uni], dtype=object
    )
    return pd.Series(out[codes], index=mods.index, dtype="string")


def _primary_first(dx: pd.Series, code: str) -> pd.Series:
    def one(v):
        lst = split_list_value(v)
        return schema.LIST_SEP.join([code, *[c for c in lst if c != code]]) if code in lst else v

    return dx.astype("string").map(one).astype("string")


def apply_fix(frame: pd.DataFrame, action_id: str) -> pd.DataFrame:
    """The normalised rows with one fix applied (`action_id` as listed by `fix_table`).

    Ids: `add_modifier:RT`, `remove_modifier:KX`, `set:has_prior_auth`,
    `primary_dx:M1711`, `drop_invalid_dx`, `split_bilateral:RT` (keep RT, move LT to
    its own line). Only `FIXABLE_COLUMNS` change.
    """
    kind, _, arg = action_id.partition(":")
    out = frame.copy()
    if kind == "add_modifier":
        out["modifiers"] = _add_modifier(out["modifiers"], arg)
    elif kind == "remove_modifier":
        out["modifiers"] = _remove_modifier(out["modifiers"], arg)
    elif kind == "split_bilateral":
        other = "LT" if arg == "RT" else "RT"
        out["modifiers"] = _remove_modifier(out["modifiers"], other)
    elif kind == "set":
        if arg not in FIXABLE_COLUMNS:
            raise ValueError(f"not a fixable column: {arg}")
        out[arg] = pd.array([True] * len(out), dtype="boolean")
    elif kind == "primary_dx":
        out["diagnosis_codes"] = _primary_first(out["diagnosis_codes"], arg)
    elif kind == "drop_invalid_dx":
        out["diagnosis_codes"] = diagnosis_problems(out["diagnosis_codes"])[2].astype("string")
    else:
        raise ValueError(f"unknown action {action_id!r}")
    return out


def apply_fixes(frame: pd.DataFrame, action_ids) -> pd.DataFrame:
    """`apply_fix` with one id per row (same result as applying each row's fix to that row alone)."""
    ids = np.asarray(action_ids, dtype=object)
    if len(ids) and (ids == ids[0]).all():
        return apply_fix(frame, ids[0])
    kinds = {i.partition(":")[0] for i in ids}
    if kinds == {"primary_dx"}:
        out = frame.copy()
        dx = out["diagnosis_codes"].astype("string").to_numpy(dtype=object, na_value=None)
        new = []
        for v, i in zip(dx, ids):
            code = i.partition(":")[2]
            lst = split_list_value(v)
            new.append(schema.LIST_SEP.join([code, *[c for c in lst if c != code]]) if code in lst else v)
        out["diagnosis_codes"] = pd.array(new, dtype="string")
        return out
    parts = [apply_fix(frame.iloc[[k]], i) for k, i in enumerate(ids)]
    return pd.concat(parts) if parts else frame.copy()


# --------------------------------------------------------------------------- rescoring


def rescore(model, frame: pd.DataFrame, X: np.ndarray, changed: tuple[str, ...]) -> np.ndarray:
    """Probabilities of `frame` (already fixed), recomputing only the feature groups that read `changed`.

    `X` is the feature matrix of the rows *before* the fix. Features are row-independent
    at scoring time and the ColumnTransformer concatenates its groups, so this equals
    `model.predict_proba(frame)` (tests hold it to that).
    """
    ct = model.features
    slices = getattr(ct, "output_indices_", None)
    if slices is None or not hasattr(ct, "transformers_"):
        return model.predict_proba(frame)
    Xn = X.copy()
    for name, trans, cols in ct.transformers_:
        if name == "remainder" or trans in ("drop", "passthrough") or not set(cols) & set(changed):
            continue
        Xn[:, slices[name]] = np.asarray(trans.transform(frame[list(cols)]), dtype=np.float64)
    return model.proba_from_matrix(Xn)


@dataclass
class _Candidate:
    pos: np.ndarray  # positions (in the rows considered) the fix applies to
    action_ids: list  # alternatives (e.g. RT and LT; the worst risk is stated): an id, or one id per row
    text: object  # a string, or one string per row
    changed: tuple[str, ...]


def _candidates(sub: pd.DataFrame, facts: LineFacts) -> list[_Candidate]:
    """Every fix that applies to some of the lines, in display order for equal risks."""
    return [
        *_modifier_candidates(sub, facts),
        *_document_candidates(sub, facts),
        *_diagnosis_candidates(facts),
    ]


def _flag_is(sub: pd.DataFrame, col: str, value: bool) -> np.ndarray:
    if col not in sub.columns:
        return np.zeros(len(sub), dtype=bool)
    return sub[col].astype("boolean").eq(value).fillna(False).to_numpy(dtype=bool)


def _modifier_candidates(sub: pd.DataFrame, facts: LineFacts) -> list[_Candidate]:
    n = len(sub)
    out: list[_Candidate] = []
    mods = facts.mods
    medicare = (
        sub["payer_type"].astype("string").isin(schema.MEDICARE_TYPES).fillna(False).to_numpy(dtype=bool)
    )
    has_side = mods["RT"] | mods["LT"] | mods["50"]
    pos = np.flatnonzero(facts.flag("sided") & ~has_side)
    if len(pos):
        sides = ["add_modifier:RT", "add_modifier:LT"]
        out.append(_Candidate(pos, sides, "add RT or LT (the side fitted)", ("modifiers",)))
    units = sub["units"].astype("Float64").fillna(1.0).to_numpy(dtype=float) if "units" in sub else np.ones(n)
    pos = np.flatnonzero(mods["RT"] & mods["LT"] & (units == 1.0))
    if len(pos):
        text = "split the RT+LT line into one RT line and one LT line"
        out.append(_Candidate(pos, ["split_bilateral:RT", "split_bilateral:LT"], text, ("modifiers",)))
    # KX only where the record backs the attestation: prescription AND notes on file.
    backed = _flag_is(sub, "has_prescription", True) & _flag_is(sub, "has_progress_notes", True)
    kx_missing = facts.flag("kx_required_medicare") & medicare & ~mods["KX"] & ~mods["conflict"]
    pos = np.flatnonzero(kx_missing & backed)
    if len(pos):
        out.append(
            _Candidate(pos, ["add_modifier:KX"], "add KX (order and notes on file back it)", ("modifiers",))
        )
    pos = np.flatnonzero(mods["KX"] & mods["conflict"])
    if len(pos):
        text = "remove KX (it cannot stand with GA/GY/GZ)"
        out.append(_Candidate(pos, ["remove_modifier:KX"], text, ("modifiers",)))
    return out


def _document_candidates(sub: pd.DataFrame, facts: LineFacts) -> list[_Candidate]:
    out: list[_Candidate] = []
    expected = facts.policy["expected_documents"].astype("string")
    no_policy = facts.policy["policy_group"].isna().to_numpy(dtype=bool)
    for doc, text in DOCUMENT_FIXES.items():
        wanted = expected.str.contains(doc, regex=False).fillna(False).to_numpy(dtype=bool)
        if doc != "has_measurements":
            wanted |= no_policy
        pos = np.flatnonzero(wanted & ~_flag_is(sub, doc, True))
        if len(pos):
            out.append(_Candidate(pos, [f"set:{doc}"], text, (doc,)))
    pos = np.flatnonzero(~_flag_is(sub, "has_prior_auth", True))
    if len(pos):
        out.append(_Candidate(pos, ["set:has_prior_auth"], "obtain prior authorization", ("has_prior_auth",)))
    return out


def _diagnosis_candidates(facts: LineFacts) -> list[_Candidate]:
    out: list[_Candidate] = []
    # a supporting diagnosis on the claim but not first: one batch, a per-line id (the code to put first)
    sup = facts.support
    movable = (sup["primary_supports"].eq(False) & sup["any_supports"].eq(True)).fillna(False)
    pos = np.flatnonzero(movable.to_numpy(dtype=bool))
    if len(pos):
        codes = sup["first_supporting_code"].astype("string").to_numpy(dtype=object, na_value="")[pos]
        words = facts.policy["policy_group"].astype("string").to_numpy(dtype=object, na_value="")[pos]
        ids = np.asarray([f"primary_dx:{c}" for c in codes], dtype=object)
        texts = [
            f"put diagnosis {dotted(c)} first (it supports the {group_words(g)})"
            for c, g in zip(codes, words)
        ]
        out.append(_Candidate(pos, [ids], np.asarray(texts, dtype=object), ("diagnosis_codes",)))
    # an invalid / non-billable diagnosis beside valid ones: scored without it
    bad = facts.invalid_dx.to_numpy(dtype=object)
    left = facts.valid_dx_left.to_numpy(dtype=object)
    pos = np.flatnonzero((bad != "") & (left != ""))
    if len(pos):
        texts = [
            f"correct or remove diagnosis {', '.join(dotted(c) for c in split_list_value(b))} "
            "(scored without it)"
            for b in bad[pos]
        ]
        out.append(
            _Candidate(pos, ["drop_invalid_dx"], np.asarray(texts, dtype=object), ("diagnosis_codes",))
        )
    return out


def _advisories(sub: pd.DataFrame, facts: LineFacts) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(first, last) unscored advisories as (position, text)."""
    first, last = [], []
    status = facts.hcpcs_status.to_numpy(dtype=object, na_value=None)
    codes = sub["hcpcs_code"].astype("string").to_numpy(dtype=object, na_value=None)
    for i in np.flatnonzero(status == "invalid"):
        first.append(
            (
                int(i),
                f"replace invalid code {codes[i]} with the valid HCPCS code for the item "
                "(not scored: the right code is not on the claim)",
            )
        )
    none = facts.support["any_supports"].eq(False).fillna(False).to_numpy(dtype=bool)
    groups = facts.policy["policy_group"].astype("string").to_numpy(dtype=object, na_value=None)
    for i in np.flatnonzero(none):
        last.append(
            (
                int(i),
                f"none of the claim's diagnoses supports a {group_words(groups[i])}: "
                "get the supporting diagnosis from the prescriber (not scored)",
            )
        )
    return first, last


def fix_table(
    model,
    clean: pd.DataFrame,
    X: np.ndarray,
    p: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    facts: LineFacts | None = None,
    min_drop: float = MIN_DROP,
) -> pd.DataFrame:
    """Every fix considered for the chosen rows, rescored: one row per (line, fix).

    `rows`: boolean mask or positions into `clean` (default: all). Columns: `row` (the
    line's index label in `clean`), `pos` (its position), `action_id`, `text`, `kind`
    (`scored` / `advisory`), `probability` (current), `new_probability` (NaN for
    advisories), `listed` (the fix lowers the risk by at least `min_drop`, or is an
    advisory).
    """
    n = len(clean)
    pos_all = (
        np.arange(n)
        if rows is None
        else (np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64))
    )
    cols = ["row", "pos", "action_id", "text", "kind", "probability", "new_probability", "listed"]
    if len(pos_all) == 0:
        return pd.DataFrame({c: [] for c in cols})
    sub = clean.iloc[pos_all]
    facts = facts.subset(pos_all) if facts is not None else LineFacts.of(sub)
    Xs = X[pos_all]
    ps = np.asarray(p, dtype=float)[pos_all]
    parts = [_rescored(model, sub, Xs, ps, pos_all, cand) for cand in _candidates(sub, facts)]
    first, last = _advisories(sub, facts)
    for items, aid in ((first, "replace_code"), (last, "no_supporting_dx")):
        if items:
            where = np.array([i for i, _ in items], dtype=np.int64)
            parts.append(
                pd.DataFrame(
                    {
                        "pos": pos_all[where],
                        "action_id": aid,
                        "text": [t for _, t in items],
                        "kind": KIND_ADVISORY,
                        "probability": ps[where],
                        "new_probability": np.nan,
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: [] for c in cols})
    table = pd.concat(parts, ignore_index=True)
    table["row"] = clean.index.to_numpy()[table["pos"].to_numpy()]
    table["listed"] = (table["kind"] == KIND_ADVISORY) | (
        table["new_probability"] <= table["probability"] - min_drop
    )
    return table[cols]


def _rescored(
    model, sub: pd.DataFrame, Xs: np.ndarray, ps: np.ndarray, pos_all: np.ndarray, cand: _Candidate
) -> pd.DataFrame:
    """One candidate fix applied and rescored; of alternatives (which side), the worst risk is stated."""
    frame = sub.iloc[cand.pos]
    best_p = None
    best_id = None
    for aid in cand.action_ids:
        fixed = apply_fix(frame, aid) if isinstance(aid, str) else apply_fixes(frame, aid)
        q = rescore(model, fixed, Xs[cand.pos], cand.changed)
        if best_p is None:
            best_p, best_id = q, (np.full(len(q), aid, dtype=object) if isinstance(aid, str) else aid)
        else:
            worse = q > best_p
            best_p = np.where(worse, q, best_p)
            best_id = np.where(worse, aid, best_id)
    return pd.DataFrame(
        {
            "pos": pos_all[cand.pos],
            "action_id": best_id,
            "text": cand.text,
            "kind": KIND_SCORED,
            "probability": ps[cand.pos],
            "new_probability": best_p,
        }
    )


def join_by_position(pos: np.ndarray, text: np.ndarray, sep: str = "; ") -> tuple[np.ndarray, list[str]]:
    """Items already sorted by position (stable) -> (distinct positions, joined texts)."""
    if len(pos) == 0:
        return np.empty(0, dtype=np.int64), []
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    bounds = np.r_[starts, len(pos)].tolist()
    items = text.tolist()
    return pos[starts], [sep.join(items[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def format_risk(p: float) -> str:
    """0.0712 -> '7%'; below 1 %, one decimal ('0.4%')."""
    pct = 100.0 * float(p)
    return f"{pct:.1f}%" if pct < 1.0 else f"{pct:.0f}%"


def listed_fixes(table: pd.DataFrame, *, max_actions: int = MAX_ACTIONS) -> pd.DataFrame:
    """The fixes shown per line, in display order: invalid code, then scored (best first), then advisories."""
    if table.empty:
        return table.assign(order=[])
    t = table[table["listed"]].copy()
    order_key = np.where(
        t["action_id"] == "replace_code",
        -1.0,
        np.where(t["kind"] == KIND_ADVISORY, 2.0, t["new_probability"].to_numpy(dtype=float)),
    )
    t["order"] = order_key
    t = t.sort_values(["pos", "order"], kind="stable")
    scored = t["kind"] == KIND_SCORED
    rank = scored.groupby(t["pos"]).cumsum()
    return t[~scored | (rank <= max_actions)]


def recommended_actions(table: pd.DataFrame, index: pd.Index, *, max_actions: int = MAX_ACTIONS) -> pd.Series:
    """`; `-joined fixes per line (`obtain prior authorization → 7%`), aligned on `index` ('' = none)."""
    shown = listed_fixes(table, max_actions=max_actions)
    out = pd.Series("", index=index, dtype=object)
    if len(shown):
        text = np.where(
            shown["kind"] == KIND_SCORED,
            shown["text"] + " → " + shown["new_probability"].map(format_risk),
            shown["text"],
        )
        jpos, jtext = join_by_position(shown["pos"].to_numpy(dtype=np.int64), np.asarray(text, dtype=object))
        out.iloc[jpos] = jtext
    return out.astype("string")
