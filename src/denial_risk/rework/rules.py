"""What to do with a denied line, and by when: the sourced rules of `reference_data/rework_rules.csv`.

Each rule names a payer type (or `*`), optionally a payer id, the CARCs it covers
(`CO-16`, `*-18` for any group, `*` for any), the RARCs that must be present, a
condition (`timely_filing_proof` / `no_timely_filing_proof`), the action, the clock
its deadline runs from and the window (`120d`, `12m`, `1y`; `payer`: the payer's own
window in `rework_windows.csv`; `filing_limit`: the payer type's filing limit in
`payer_rules.csv`). Every row carries its source and says which of its parts are
project judgement. A payer's own rows (`payer_id`) are tried first, then the rest in the
file's order (specific rules first, a catch-all per payer type, then `*`). A deadline already past turns the
action into `no_rework`, with the reason. Sources: docs/domain.md, "Reworking a denial".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from denial_risk.biller import wording
from denial_risk.contract import reference

ACTIONS = ("corrected_claim", "reopening", "appeal", "bill_patient", "no_rework")
CLOCKS = ("determination", "receipt", "service", "")
RULES_FILE = "rework_rules.csv"
WINDOWS_FILE = "rework_windows.csv"
# 42 CFR 405.942(a)(1): receipt of the initial determination is presumed 5 days after its date.
RECEIPT_DAYS = 5
# When a table has no adjudication date, the determination is dated this many days after the
# later of the submission and service dates (project judgement: DME MACs pay clean claims in
# 14-30 days, 42 CFR 405.922; the queue says it assumed one).
ASSUMED_ADJUDICATION_DAYS = 30
_WHAT = {  # what a reopening or corrected claim corrects, by CARC number (X12 wording, shortened)
    "4": "modifiers",
    "11": "diagnosis coding",
    "16": "missing or wrong claim data",
    "31": "patient's member identifier",
    "151": "units",
    "181": "procedure code",
}


@dataclass(frozen=True)
class Rule:
    rule: str
    payer_type: str
    payer_id: str
    carcs: tuple[str, ...]
    remarks: tuple[str, ...]
    when: str
    action: str
    clock: str
    window: str
    action_text: str
    prior_recovery: float
    source: str
    judgement: str

    def matches_carc(self, carc: str) -> bool:
        group, _, number = carc.partition("-")
        return any(c == "*" or c == carc or (c.startswith("*-") and c[2:] == number) for c in self.carcs)


def _split(text: str) -> tuple[str, ...]:
    return tuple(t.strip().upper() for t in text.split("|") if t.strip())


@lru_cache(maxsize=8)
def _load(ref_dir: str) -> tuple[tuple[Rule, ...], dict[tuple[str, str], str]]:
    df = pd.read_csv(Path(ref_dir) / RULES_FILE, dtype=str, keep_default_na=False)
    rules = []
    for r in df.to_dict("records"):
        if r["action"] not in ACTIONS or r["clock"] not in CLOCKS:
            raise ValueError(f"{RULES_FILE}: rule {r['rule']}: unknown action or clock")
        rules.append(
            Rule(
                rule=r["rule"],
                payer_type=r["payer_type"].strip().lower() or "*",
                payer_id=r["payer_id"].strip(),
                carcs=_split(r["carc"]) or ("*",),
                remarks=_split(r["remarks"]),
                when=r["when"].strip(),
                action=r["action"],
                clock=r["clock"],
                window=r["window"].strip(),
                action_text=r["action_text"],
                prior_recovery=float(r["prior_recovery"] or 0),
                source=r["source"],
                judgement=r["judgement"],
            )
        )
    win = pd.read_csv(Path(ref_dir) / WINDOWS_FILE, dtype=str, keep_default_na=False)
    windows = {
        (w["payer_type"].strip().lower(), w["payer_id"].strip()): w["window"].strip()
        for _, w in win.iterrows()
    }
    return tuple(rules), windows


def rules() -> tuple[Rule, ...]:
    """The rework rules, in the order they are tried (reference_data/rework_rules.csv)."""
    return _load(str(reference.reference_dir()))[0]


@lru_cache(maxsize=8)
def _ordered(ref_dir: str) -> tuple[Rule, ...]:
    """A payer's own rows first, then the file's order (a stable sort)."""
    return tuple(sorted(_load(ref_dir)[0], key=lambda r: 0 if r.payer_id else 1))


def payer_window(payer_type: str, payer_id: str) -> str:
    """The payer's own window: its payer-id row, else its payer type's, else `other`'s."""
    windows = _load(str(reference.reference_dir()))[1]
    for key in ((payer_type, payer_id), ("*", payer_id), (payer_type, ""), ("other", "")):
        if key in windows:
            return windows[key]
    return "60d"


@lru_cache(maxsize=8)
def _filing_limits(ref_dir: str) -> dict[str, int]:
    table = reference.payer_rules()
    return {
        str(t): int(d)
        for t, d in zip(table["payer_type"], table["filing_limit_days"], strict=True)
        if not pd.isna(d)
    }


def filing_limit_days(payer_type: str) -> int:
    """The payer type's filing limit (`payer_rules.csv`); `other`'s for an unknown type."""
    limits = _filing_limits(str(reference.reference_dir()))
    return limits.get(payer_type, limits.get("other", 90))


def add_window(start: pd.Timestamp, window: str) -> pd.Timestamp:
    """`start` + `120d` / `12m` / `1y`."""
    n, unit = int(window[:-1]), window[-1]
    if unit == "d":
        return start + pd.Timedelta(days=n)
    if unit == "m":
        return start + pd.DateOffset(months=n)
    if unit == "y":
        return start + pd.DateOffset(years=n)
    raise ValueError(f"window {window!r}: use Nd, Nm or Ny")


@dataclass(frozen=True)
class Decision:
    action: str
    action_text: str
    deadline: pd.Timestamp | None
    rule: str
    rule_action: str  # the rule's action before a passed deadline made it no_rework
    prior_recovery: float


def choose_rule(line: dict) -> Rule:
    """The first rule that fits the line: a payer's own rows first, then the file's order."""
    carc = line["carc"]
    remarks = set(line["remarks"])
    ptype, pid = line["payer_type"], line["payer_id"]
    for r in _ordered(str(reference.reference_dir())):
        if r.payer_id and r.payer_id != pid:
            continue
        if r.payer_type != "*" and r.payer_type != ptype:
            continue
        if not r.matches_carc(carc) or not set(r.remarks) <= remarks:
            continue
        if r.when and r.when != line["timely"]:
            continue
        return r
    raise ValueError(f"{RULES_FILE}: no rule fits {carc} ({ptype}); the file needs a catch-all row")


def _deadline(rule: Rule, line: dict) -> pd.Timestamp | None:
    if rule.action == "no_rework" or not rule.clock:
        return None
    window = rule.window
    if window == "payer":
        window = payer_window(line["payer_type"], line["payer_id"])
    elif window == "filing_limit":
        window = f"{filing_limit_days(line['payer_type'])}d"
    if rule.clock == "service":
        start = line["service_date"]
    elif rule.clock == "receipt":
        start = line["determination"] + pd.Timedelta(days=RECEIPT_DAYS)
    else:
        start = line["determination"]
    if start is None or pd.isna(start):
        start = line["determination"]
    if start is None or pd.isna(start):
        return None  # no date to count from: the queue shows no deadline
    return add_window(pd.Timestamp(start), window)


def _text(rule: Rule, line: dict) -> str:
    return rule.action_text.format(
        what=_WHAT.get(wording.carc_number(line["carc"]), "claim data"),
        limit=line["limit"],
        lag=line["lag"] if line["lag"] is not None else "?",
        proof=line["proof"],
    )


def decide(line: dict, as_of: pd.Timestamp) -> Decision:
    """The action, its words and its deadline for one denied line (see `line_facts`)."""
    rule = choose_rule(line)
    deadline = _deadline(rule, line)
    text = _text(rule, line)
    if deadline is not None and deadline < as_of:
        return Decision(
            "no_rework",
            f"the {rule.action.replace('_', ' ')} deadline {deadline.date()} has passed ({text})",
            None,
            rule.rule,
            rule.action,
            0.0,
        )
    return Decision(rule.action, text, deadline, rule.rule, rule.action, rule.prior_recovery)


def _timely(ptype: str, service, submitted) -> tuple[str, int, int | None, str]:
    limit = filing_limit_days(ptype)
    if service is None or submitted is None or pd.isna(service) or pd.isna(submitted):
        return "timely_filing_proof", limit, None, ", if you hold one (no submission date on record)"
    lag = int((pd.Timestamp(submitted) - pd.Timestamp(service)).days)
    if lag > limit:
        return "no_timely_filing_proof", limit, lag, ""
    return "timely_filing_proof", limit, lag, f" (first sent {pd.Timestamp(submitted).date()}, day {lag})"


def line_facts(row: dict) -> dict:
    """What the rules read from one row of the contract table (normalised)."""
    reason = str(row.get("denial_reason") or "").strip().upper()
    remarks = row.get("remark_codes")
    remarks = [] if remarks is None or pd.isna(remarks) else _split(str(remarks))
    ptype = row.get("payer_type")
    ptype = "other" if ptype is None or pd.isna(ptype) else str(ptype)
    pid = row.get("payer_id")
    pid = "" if pid is None or pd.isna(pid) else str(pid)
    service, submitted = row.get("service_date"), row.get("submission_date")
    determination = row.get("adjudication_date")
    if determination is None or pd.isna(determination):
        base = [d for d in (service, submitted) if d is not None and not pd.isna(d)]
        determination = max(base) + pd.Timedelta(days=ASSUMED_ADJUDICATION_DAYS) if base else pd.NaT
    timely, limit, lag, proof = _timely(ptype, service, submitted)
    return {
        "carc": reason if "-" in reason or not reason else f"CO-{reason}",  # none: only `*` rules fit
        "remarks": remarks,
        "payer_type": ptype,
        "payer_id": pid,
        "service_date": service,
        "determination": pd.Timestamp(determination) if not pd.isna(determination) else pd.NaT,
        "timely": timely,
        "limit": limit,
        "lag": lag,
        "proof": proof,
    }


def decide_frame(frame: pd.DataFrame, as_of: pd.Timestamp, facts: list[dict] | None = None) -> pd.DataFrame:
    """`decide` for every row: action, action_text, deadline, days_left, rule, rule_action, prior
    (`facts`: the rows' `line_facts`, when already made)."""
    out = []
    if facts is None:
        facts = [line_facts(row) for row in frame.to_dict("records")]
    for f in facts:
        d = decide(f, as_of)
        out.append(
            {
                "action": d.action,
                "action_text": d.action_text,
                "deadline": d.deadline,
                "rule": d.rule,
                "rule_action": d.rule_action,
                "prior_recovery": d.prior_recovery,
            }
        )
    res = pd.DataFrame(
        out,
        index=frame.index,
        columns=["action", "action_text", "deadline", "rule", "rule_action", "prior_recovery"],
    )
    res["deadline"] = pd.to_datetime(res["deadline"])
    res["days_left"] = pd.array(
        np.where(res["deadline"].isna(), pd.NA, (res["deadline"] - as_of).dt.days), dtype="Int64"
    )
    return res
