"""Fixes for certain rules without a learned effect, and every fix as it can be done at the line's stage.

**Certain rules** (`contract.certain`): where a rule binds the line and its fix is truthful
(two lines for RT+LT, prior authorization before delivery, KX where the record meets the policy),
the fix is listed even when the remits hold no effect for the line's cell, or not one that clears
the listing rule: the rule says the denial goes with the defect. The risk it states is the risk
left once the rule is met (`modeling.rule_risk.RuleRisk.risk_without`); a learned fix that is
already listed keeps its learned figure.

**Stages** (`contract.certain.delivered`, against `score --as-of`): what must precede delivery
is asked for only before it; after it, only what may already exist can be shown:

* prior authorization: before delivery "obtain prior authorization before delivery"; delivered,
  "add the UTN of the affirmation, if one was obtained before delivery" where the record does not
  say, and nothing where it shows none was obtained (the reasons say the line cannot be fixed);
* the written order of an F2F/WOPD item: "get the written order before delivery"; delivered,
  "attach the order, if it was written before delivery", nothing when it is dated after delivery;
* proof of delivery: delivered, "attach the delivery slip or carrier tracking, if one was kept";
  before delivery, "keep the signed delivery slip or carrier tracking at delivery".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.biller.wording import REMEDY_TEXT, UNKNOWN_SUFFIX
from denial_risk.contract.certain import CERTAIN_RULES
from denial_risk.contract.facts import LineFacts

STAGE_TEXT = {
    ("obtain_prior_auth", False): "obtain prior authorization before delivery",
    ("obtain_prior_auth", True): "add the UTN of the affirmation, if one was obtained before delivery",
    ("wopd_order", False): "get the written order before delivery",
    ("wopd_order", True): "attach the order, if it was written before delivery",
    ("attach:has_proof_of_delivery", False): "keep the signed delivery slip or carrier tracking at delivery",
    ("attach:has_proof_of_delivery", True): "attach the delivery slip or carrier tracking, if one was kept",
}
RULE_REMEDIES = {r.remedy: r.name for r in CERTAIN_RULES.values() if r.remedy}
STAGE_REMEDY = {"wopd_order": "attach:has_prescription"}  # a stage's kind -> the remedy it words


def remedy_of_stage_text(words: str) -> str | None:
    """The remedy a fix worded for its stage names ('attach the order, if it was written before
    delivery' -> 'attach:has_prescription'), or None when the words are not a stage's."""
    for (kind, _), text in STAGE_TEXT.items():
        if words.startswith(text):
            return STAGE_REMEDY.get(kind, kind)
    return None


def _flag(sub: pd.DataFrame, col: str) -> np.ndarray:
    if col not in sub:
        return np.full(len(sub), np.nan)
    return sub[col].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)


def rule_fixes(
    table: pd.DataFrame, ps: np.ndarray, rule, truthful: dict, *, min_drop: float, kind: str
) -> pd.DataFrame:
    """The fix table (positions into the lines) with each certain rule's fix listed where the rule binds.

    `rule`: the lines' `RuleRisk`; `truthful`: per remedy, where it is truthful (`Candidates.truthful`);
    a fix is listed when it lowers the risk by `min_drop` (`scoring.fixes.MIN_DROP`)."""
    add = []
    for remedy, name in RULE_REMEDIES.items():
        if remedy not in truthful:
            continue  # an advisory (an invalid code): its risk is given by `advisory_risk`
        mask = rule.masks[name] & truthful[remedy]
        if not mask.any():
            continue
        after = rule.risk_without(name, ps)
        here = (table["remedy"] == remedy).to_numpy(dtype=bool) if len(table) else np.zeros(0, dtype=bool)
        have = np.zeros(len(ps), dtype=bool)
        if here.any():
            rows = np.flatnonzero(here & mask[table["pos"].to_numpy(dtype=np.int64)])
            p_rows = table["pos"].to_numpy(dtype=np.int64)[rows]
            have[p_rows] = True
            redo = rows[~table["listed"].to_numpy(dtype=bool)[rows]]
            p_redo = table["pos"].to_numpy(dtype=np.int64)[redo]
            table.loc[redo, "new_probability"] = after[p_redo]
            table.loc[redo, "low_drop"] = ps[p_redo] - after[p_redo]
            table.loc[redo, "listed"] = (ps[p_redo] - after[p_redo]) >= min_drop
            table.loc[redo, "basis"] = "rule"
        new = np.flatnonzero(mask & ~have)
        if len(new):
            add.append(
                pd.DataFrame(
                    {
                        "pos": new,
                        "remedy": remedy,
                        "text": REMEDY_TEXT[remedy],
                        "kind": kind,
                        "probability": ps[new],
                        "new_probability": after[new],
                        "low_drop": ps[new] - after[new],
                        "listed": (ps[new] - after[new]) >= min_drop,
                        "basis": "rule",
                    }
                )
            )
    return pd.concat([table, *add], ignore_index=True) if add else table


def advisory_risk(table: pd.DataFrame, ps: np.ndarray, rule) -> pd.DataFrame:
    """An invalid code's advice states the risk left once the code is corrected (the rule met)."""
    if not len(table):
        return table
    at = np.flatnonzero((table["remedy"] == "replace_code").to_numpy(dtype=bool))
    if len(at):
        pos = table["pos"].to_numpy(dtype=np.int64)[at]
        after = rule.risk_without("invalid_code", ps)[pos]
        table.loc[at, "new_probability"] = after
    return table


def at_stage(table: pd.DataFrame, sub: pd.DataFrame, facts: LineFacts, delivered: np.ndarray) -> pd.DataFrame:
    """Each fix in the words of what can be done at the line's stage; those that cannot, dropped."""
    if not len(table):
        return table
    pos = table["pos"].to_numpy(dtype=np.int64)
    remedy = table["remedy"].to_numpy(dtype=object)
    done = delivered[pos]
    text = table["text"].to_numpy(dtype=object).copy()
    possible = np.ones(len(table), dtype=bool)
    no_pa = (_flag(sub, "has_prior_auth") == 0.0)[pos]
    wopd = facts.rules["face_to_face_wopd"][pos]
    late_order = (
        (sub["order_date"] > sub["service_date"]).fillna(False).to_numpy(dtype=bool)[pos]
        if "order_date" in sub and "service_date" in sub
        else np.zeros(len(pos), dtype=bool)
    )
    for key, kind, hit, cannot in (
        ("obtain_prior_auth", "obtain_prior_auth", remedy == "obtain_prior_auth", done & no_pa),
        (
            "attach:has_prescription",
            "wopd_order",
            (remedy == "attach:has_prescription") & wopd,
            done & late_order,
        ),
        (
            "attach:has_proof_of_delivery",
            "attach:has_proof_of_delivery",
            remedy == "attach:has_proof_of_delivery",
            np.zeros(len(pos), dtype=bool),
        ),
    ):
        for stage in (False, True):
            at = np.flatnonzero(hit & (done == stage))
            if len(at):
                text[at] = [_restated(t, key, STAGE_TEXT[(kind, stage)], stage) for t in text[at]]
        possible &= ~(hit & cannot)
    # a fix that cannot be done at the stage is not a fix at all: not listed, and not counted as one
    # a biller could have made (`testing.fix_truth`'s recall)
    return table.assign(text=text)[possible].reset_index(drop=True)


def _restated(text: str, remedy: str, words: str, conditional: bool) -> str:
    """The fix's words at its stage, keeping what the first words qualified (a program, its date)."""
    base = REMEDY_TEXT[remedy]
    rest = text[len(base) :] if text.startswith(base) else ""
    if conditional:  # "if one was kept" already says the record may not show it
        rest = rest.replace(UNKNOWN_SUFFIX, "")
    return words + rest
