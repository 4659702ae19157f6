"""Why a line is at risk (`top_reasons`), what to fix (`recommended_actions`), and the likely
denial codes (`likely_denial_codes`).

`top_reasons` merges three sources, in a biller's words, `; `-separated:

1. **Findings** (`scoring.findings`): facts the line's columns, the code sets and the
   policy table make certain, and requirements with their source -- Medicare's dated
   rules, or what this payer's own remittances show. Shown for every line.
2. **The model's own attribution** per feature group (`model.feature_groups`):
   the risk drop when the group's features are set to their typical training
   values (`model.typical_values`), rescored on the feature matrix. It orders
   the findings (strongest group first) and adds a group that drives the risk
   by at least `DRIVER_MIN` but has no finding ("this payer denies many lines
   like this (raises the risk by 12 points)"). It explains the model's score; it never makes a fix.
3. **The likely CARC** from the model's reason classifier ("likely CO-4:
   procedure inconsistent with modifier").

`likely_denial_codes` (the top three CARCs given a denial) is given for every line. (3)
and the fixes are computed for lines at or above the model's medium-tier threshold,
(2) -- one rescoring per feature group, the dearest part -- for lines at or above the
high-tier threshold (medium lines keep their findings in severity order): that is where
the worklist is worked, and it keeps the cost of a 10M-line backlog down.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.biller.wording import (
    DOCUMENT_NAMES,
    DRIVER_POINTS,
    GROUP_DRIVERS,
    carc_words,
    dotted,
    rarc_words,
)
from denial_risk.contract import schema
from denial_risk.contract.certain import delivered
from denial_risk.contract.facts import LineFacts
from denial_risk.scoring import fixes
from denial_risk.scoring.findings import evidence_findings, findings
from denial_risk.scoring.fixes import join_by_position
from denial_risk.scoring.rulelayer import stage_findings

DRIVER_MIN = 0.05  # a feature group must move the risk by 5 points to be named without a finding
MAX_REASONS = 5
MAX_DRIVERS = 2
RESCORE_ROWS = 65_536  # edited rows rescored at once in `group_attributions`


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


# --------------------------------------------------------------------------- model attributions


def group_attributions(model, X: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Risk drop per feature group when the group is set to its typical values (rows × groups).

    Rows whose group is already typical are not rescored (their drop is 0). On the classifier's
    bins when it has them: the rows are binned once and each group's typical bins written in,
    which is what binning the edited rows would give, so the drops are the same. The edited rows
    of all groups are rescored together (`_Rescoring`): a row's score does not depend on the
    rows beside it, and one walk of the trees costs far less than one per group.
    """
    groups = {g: np.asarray(ix, dtype=np.int64) for g, ix in model.feature_groups.items() if len(ix)}
    out = np.zeros((len(X), len(groups)))
    if len(X) == 0:
        return pd.DataFrame(out, columns=list(groups))
    typical = np.asarray(model.typical_values, dtype=np.float64)
    B = model.binned(X)
    if B is not None:
        typical_bins, column = _kept_positions(model, typical)
        rescoring = _Rescoring(model, out, p)
    for j, ix in enumerate(groups.values()):
        if B is None:
            differs = np.flatnonzero((X[:, ix] != typical[ix]).any(axis=1))  # a typical group moves nothing
            if len(differs):
                Xg = X[differs]
                Xg[:, ix] = typical[ix]
                out[differs, j] = p[differs] - model.proba_from_matrix(Xg)
            continue
        kept = column[ix][column[ix] >= 0]  # columns the classifier dropped move nothing
        if not len(kept):
            continue
        differs = np.flatnonzero((B[:, kept] != typical_bins[kept]).any(axis=1))
        if len(differs):
            Bg = B[differs]
            Bg[:, kept] = typical_bins[kept]
            rescoring.add(j, differs, Bg)
    if B is not None:
        rescoring.flush()
    return pd.DataFrame(out, columns=list(groups))


class _Rescoring:
    """Edited binned rows gathered across groups and scored together, `RESCORE_ROWS` at most at once
    (the memory of one batch: ~200 bytes a row); each drop written to `out[rows, group]`."""

    def __init__(self, model, out: np.ndarray, p: np.ndarray):
        self.model, self.out, self.p = model, out, p
        self.parts: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.rows = 0

    def add(self, j: int, rows: np.ndarray, binned: np.ndarray) -> None:
        self.parts.append((j, rows, binned))
        self.rows += len(rows)
        if self.rows >= RESCORE_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.parts:
            return
        q = self.model.proba_from_binned(np.concatenate([b for _, _, b in self.parts]))
        at = 0
        for j, rows, _ in self.parts:
            self.out[rows, j] = self.p[rows] - q[at : at + len(rows)]
            at += len(rows)
        self.parts, self.rows = [], 0


def _kept_positions(model, typical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the typical row's bins, each matrix column's position among the classifier's kept columns or -1)."""
    typical_bins = model.binned(typical[None, :])[0]
    keep = model.binned_columns()
    column = np.full(len(keep), -1, dtype=np.int64)
    column[keep] = np.arange(int(keep.sum()))
    return typical_bins, column


POOLED = ("other", "unknown", "nan", "")  # the reason model's pooled classes: not codes a biller can read
_HUNDREDTHS = np.asarray([f"{i / 100:.2f}" for i in range(101)], dtype=object)


def likely_denial_codes(model, X: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    """The k most likely CARCs per row given a denial, with their probabilities (pooled
    'other'/'unknown' classes are not codes and are left out)."""
    tops = model.top_carcs(X, k=k + 2)
    return [[(c, q) for c, q in row if c not in POOLED][:k] for row in tops]


def format_codes(row: list[tuple[str, float]]) -> str:
    """[("CO-197", 0.62), ("CO-16", 0.21)] -> 'CO-197 0.62|CO-16 0.21'."""
    return schema.LIST_SEP.join(f"{c} {q:.2f}" for c, q in row)


def _hundredths(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the nearest hundredth of each probability in [0, 1] as an index into `_HUNDREDTHS`, where it is
    within 1e-9 of a half-hundredth: there the float product could round the other way than
    Python's formatting does, which is asked instead)."""
    scaled = q * 100.0
    index = np.clip(np.rint(scaled), 0, 100).astype(np.int64)
    return index, np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-9


def _two_decimals(q: np.ndarray) -> np.ndarray:
    """f"{q:.2f}" for probabilities in [0, 1], vectorised (`_hundredths`)."""
    index, near_tie = _hundredths(q)
    out = _HUNDREDTHS[index]
    out[near_tie] = [f"{v:.2f}" for v in q[near_tie]]
    return out


def _pieces(classes: np.ndarray, top: np.ndarray, q: np.ndarray) -> np.ndarray:
    """f"{code} {q:.2f}" per row and rank (object), `top` the class indices: one string per class and
    hundredth, made once (`_hundredths`)."""
    table = np.asarray([[f"{c} {h}" for h in _HUNDREDTHS] for c in classes], dtype=object)
    index, near_tie = _hundredths(q)
    out = table[top, index]
    for r, j in zip(*np.nonzero(near_tie)):
        out[r, j] = f"{classes[top[r, j]]} {q[r, j]:.2f}"
    return out


class LikelyCodes:
    """`likely_denial_codes` for many rows at once: `text` per row (as `format_codes`) and `first`,
    the most likely code ('' when none), which the reasons quote. Same answers as
    `likely_denial_codes` + `format_codes`, without a Python list per line."""

    def __init__(self, text: np.ndarray, first: np.ndarray):
        self.text, self.first = text, first

    @classmethod
    def of(cls, model, X: np.ndarray, k: int = 3) -> LikelyCodes:
        n = len(X)
        if model.reason_model is None or n == 0:
            return cls(np.full(n, "", dtype=object), np.full(n, "", dtype=object))
        proba = model.reason_proba(X)
        classes = np.asarray(model.reason_model.classes_).astype(str)
        top = np.argsort(-proba, axis=1)[:, : k + 2]  # as `top_carcs`: the same order, ties included
        code = classes[top]
        keep = ~np.isin(code, POOLED)
        keep &= np.cumsum(keep, axis=1) <= k
        q = np.take_along_axis(proba, top, axis=1)
        pieces = _pieces(classes, top, q)  # "CO-197 0.62" per row and rank
        pieces[~keep] = None
        text = pc.binary_join_element_wise(
            *(pa.array(pieces[:, j], pa.string()) for j in range(top.shape[1])),
            schema.LIST_SEP,
            null_handling="skip",
        ).to_numpy(zero_copy_only=False)
        at = keep.argmax(axis=1)
        first = np.where(keep.any(axis=1), code[np.arange(n), at], "").astype(object)
        return cls(text, first)

    @classmethod
    def parse(cls, text: np.ndarray) -> LikelyCodes:
        """From the formatted column back (the first code is what the reasons need)."""
        text = np.asarray(text, dtype=object)
        first = np.asarray([t.split(" ", 1)[0] if t else "" for t in text], dtype=object)
        return cls(text, first)

    def take(self, pos: np.ndarray) -> LikelyCodes:
        return LikelyCodes(self.text[pos], self.first[pos])


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
    likely: LikelyCodes | None = None,
    facts: LineFacts | None = None,
    rule=None,
    as_of=None,
    certain: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`top_reasons`, `recommended_actions`, `likely_denial_codes` for normalised rows (on clean.index).

    Every line gets its findings and its likely denial codes. The likely CARC as a reason
    and the fixes are given for lines with p >= `min_probability` (default: the model's
    medium-tier threshold), the model's group attributions (which order the findings and
    name drivers without a finding) for lines with p >= `attribution_min_probability`
    (default: the high-tier threshold; they cost one rescoring per feature group).
    `likely`: the rows' likely codes when already computed (`LikelyCodes.of(model, X)`).
    Each line's answer depends on that line alone, so explaining a subset gives those lines
    what explaining every line gives them. Certain findings (`scoring.rulelayer`) come first, then
    what the payer's remits show, then the model's drivers. `facts`, `rule` (`RuleRisk`): of these
    rows, when already computed; `as_of`: the day that decides which lines are delivered (today);
    `certain`: the rows' certain findings (`scoring.rulelayer.certain_findings`), when the rule layer
    has found them: then only what the payer's remits show is found here.
    """
    n = len(clean)
    idx = clean.index
    if n == 0:
        empty = pd.Series([], index=idx, dtype="string")
        return pd.DataFrame(
            {"top_reasons": empty, "recommended_actions": empty, "likely_denial_codes": empty}
        )
    p = np.asarray(p, dtype=float)
    threshold = model.tiers.get("medium", 0.2) if min_probability is None else min_probability
    deep = np.flatnonzero((p >= threshold) | (rule.with_fix() if rule is not None else False))
    attr_threshold = (
        model.tiers.get("high", 0.5) if attribution_min_probability is None else attribution_min_probability
    )
    attr = np.flatnonzero(p >= max(attr_threshold, threshold))
    facts = LineFacts.of(clean) if facts is None else facts
    effects = getattr(model, "fix_effects", None)
    found = _findings(clean, facts, effects, as_of, certain)
    kind = np.where(found["certain"].astype(bool).to_numpy(), 0, 1)  # certain, then the remits' evidence
    items = [found.assign(score=-found["severity"].astype(float) / 100.0, kind=kind)]
    if len(attr):
        drops = group_attributions(model, X[attr], p[attr])
        items[0]["score"] = _scores_by_attribution(found, items[0]["score"], drops, attr, n)
        drivers = _driver_items(clean, found, drops, attr)
        if drivers is not None:
            items.append(drivers)
    likely = LikelyCodes.of(model, X) if likely is None else likely
    carc_list, carc_text = _carc_columns(likely, deep, idx, model.info.get("carc_remarks", {}))
    top = _joined_reasons(items, carc_text, idx)
    if with_fixes and len(deep):
        table = fixes.fix_table(model, clean, p, deep, facts=facts, rule=rule, as_of=as_of)
        actions = fixes.recommended_actions(table, idx)
    else:
        actions = pd.Series("", index=idx, dtype="string")
    return pd.DataFrame(
        {
            "top_reasons": top.astype("string"),
            "recommended_actions": actions.astype("string"),
            "likely_denial_codes": carc_list.astype("string"),
        },
        index=idx,
    )


def _findings(clean, facts, effects, as_of, certain: pd.DataFrame | None) -> pd.DataFrame:
    """Certain findings (stage findings last), then what the payer's remits show: their order among a
    line's equally ranked reasons of one kind (`_joined_reasons` sorts stably)."""
    if certain is None:
        found = findings(clean, facts, effects)
        return pd.concat([found, stage_findings(clean, facts, delivered(clean, as_of))], ignore_index=True)
    if effects is None:
        return certain
    evidence = evidence_findings(clean, facts, effects)
    return pd.concat([certain, evidence], ignore_index=True) if len(evidence) else certain


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
    fpos, fgroup = found["pos"].to_numpy(dtype=np.int64), found["group"].to_numpy(dtype=object)
    strong_any = np.flatnonzero((D >= DRIVER_MIN).any(axis=1))
    values = _driver_values(clean, attr[strong_any]) if len(strong_any) else {}
    at = np.full(len(attr), -1, dtype=np.int64)
    at[strong_any] = np.arange(len(strong_any))
    frames = []
    for j, g in enumerate(drops.columns):
        strong = np.flatnonzero(D[:, j] >= DRIVER_MIN)
        pos = attr[strong]
        has = np.zeros(len(clean), dtype=bool)  # lines with a finding of this group
        has[fpos[fgroup == g]] = True
        keep = ~has[pos]
        strong, pos = strong[keep], pos[keep]
        if not len(strong):
            continue
        template = GROUP_DRIVERS.get(g, f"the line's {g.replace('_', ' ')}")
        fields = {name: arr[at[strong]] for name, arr in values.items()}
        pts = D[strong, j]
        txt = [
            template.format(**{name: fields[name][i] for name in fields})
            + DRIVER_POINTS.format(points=100 * pts[i])
            for i in range(len(strong))
        ]
        frames.append(
            pd.DataFrame({"pos": pos, "group": g, "severity": 9, "text": txt, "score": pts, "kind": 2})
        )
    if not frames:
        return None
    drv = pd.concat(frames, ignore_index=True)
    drv = drv.sort_values(["pos", "score"], ascending=[True, False], kind="stable")
    return drv[drv.groupby("pos").cumcount() < MAX_DRIVERS]


def _carc_columns(
    likely: LikelyCodes, deep: np.ndarray, idx: pd.Index, remarks: dict
) -> tuple[pd.Series, pd.Series]:
    """(`likely_denial_codes` for every line, the 'likely CO-x: words' reason for the lines at `deep`)."""
    carc_list = pd.Series(likely.text, index=idx, dtype=object)
    carc_text = pd.Series("", index=idx, dtype=object)
    if len(deep):
        first = likely.first[deep]
        words = {c: _likely_words(c, remarks) for c in set(first) if c}
        carc_text.iloc[deep] = [words.get(c, "") for c in first]
    return carc_list, carc_text


def _likely_words(carc: str, remarks: dict) -> str:
    """'likely CO-16: claim lacks information (with MA130 on 62% of them: returned as unprocessable...)'."""
    text = f"likely {carc}: {carc_words(carc)}"
    if carc in remarks:
        rarc, share = remarks[carc]
        text += f" (with {rarc} on {100 * share:.0f}% of them: {rarc_words(rarc)})"
    return text


def _joined_reasons(items: list[pd.DataFrame], carc_text: pd.Series, idx: pd.Index) -> pd.Series:
    """Certain findings first, then the remits' evidence (strongest first within each), then drivers, at
    most `MAX_REASONS - 1`, then the likely CARC."""
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
