"""A claim's `top_reasons` and `recommended_actions`, merged from its lines' (docs/claims_worklist.md).

Each finding and each fix is said once, with the lines it concerns
(`no standard written order on file (lines 1-3)`):

* reasons: a claim's rejected lines first (`line 3 rejected: service_date: unparseable`), then
  the findings the lines' columns make certain, then what the model says (an attribution
  `(+12 points)`, the likely CARC); within each, by the best place the finding held in any of
  its lines' lists (the lines give their strongest first), then by how many lines it concerns;
* fixes: best first, each with the claim risk it would leave, computed as the claim's
  probability with the fixed lines at the risk their own fixes state (`claim_probability`);
  advice without a stated risk follows, marked `advice:` as on the lines (`scoring.fixes`).

Texts are the lines' texts split at `wording.FIX_SEP` (`; `, the contract's separator); a fix and
its risk are joined by `wording.RISK_ARROW`, as `scoring.fixes` joins them.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from denial_risk.biller.wording import ADVICE_PREFIX, FIX_SEP, RISK_ARROW
from denial_risk.modeling.claim_risk import P_TOP, claim_probability
from denial_risk.scoring.fixes import format_risk

SEP = FIX_SEP
MAX_CLAIM_REASONS = 8  # project judgement: a claim's reasons stay readable on one worklist row
MAX_CLAIM_ACTIONS = 5
_RISK_LEFT = re.compile(rf"^(?P<text>.*){re.escape(RISK_ARROW)}(?P<pct>\d+(?:\.\d+)?)%$")
_MODEL_SAYS = re.compile(r"\(\+\d+ points\)$|^likely [A-Z]{2}-")
# A partition's explained lines repeat few texts (1M lines: ~16k distinct reason texts among ~98k
# explained lines a partition, ~9k distinct items), so each text is split and read once, not once
# a line: these caches are pure functions of the text, bounded, and emptied after each partition.
TEXT_CACHE = 16_384


@functools.lru_cache(maxsize=TEXT_CACHE)
def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(SEP))


@functools.lru_cache(maxsize=TEXT_CACHE)
def _model_says(item: str) -> bool:
    return bool(_MODEL_SAYS.search(item))


@functools.lru_cache(maxsize=TEXT_CACHE)
def _ranked_items(reasons: str) -> tuple[str, ...]:
    """A line's reasons, each once at its first place, what the model says after the findings; the
    first `MAX_CLAIM_REASONS`."""
    items = list(dict.fromkeys(_split(reasons)))
    model = [_model_says(item) for item in items]
    ranked = [i for i, m in zip(items, model) if not m] + [i for i, m in zip(items, model) if m]
    return tuple(ranked[:MAX_CLAIM_REASONS])


@functools.lru_cache(maxsize=TEXT_CACHE)
def _fix_item(item: str) -> tuple[str, float | None, float]:
    """A line's fix: (its text without the risk, the risk it leaves or None for advice, that risk's
    log-survival or NaN)."""
    m = _RISK_LEFT.match(item)
    if not m:
        return _as_advice(item), None, math.nan
    left = float(m["pct"]) / 100.0
    return m["text"], left, _log_survival(left)


@functools.lru_cache(maxsize=TEXT_CACHE)
def _line_fixes(actions: str) -> tuple[tuple[str, float | None, float], ...]:
    """`_fix_item` of each of a line's fixes, each name once (at its first place, its last stated risk)."""
    left_of: dict[str, tuple[str, float | None, float]] = {}
    for item in _split(actions):
        fix = _fix_item(item)
        left_of[fix[0]] = fix
    return tuple(left_of.values())


def clear_text_caches() -> None:
    """Empty the caches above (a partition built: its texts are not needed again)."""
    for cached in (_split, _model_says, _ranked_items, _fix_item, _line_fixes):
        cached.cache_clear()


def line_ranges(lines) -> str:
    """[1, 2, 3, 5] -> 'lines 1-3, 5'; [2] -> 'line 2'."""
    if len(lines) == 1:
        return f"line {int(lines[0])}"
    nums = sorted({int(v) for v in lines})
    runs: list[str] = []
    start = prev = nums[0]
    for v in [*nums[1:], None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(
            f"{start}-{prev}" if prev > start + 1 else f"{start}, {prev}" if prev > start else f"{start}"
        )
        if v is not None:
            start = prev = v
    return ("lines " if len(nums) > 1 else "line ") + ", ".join(runs)


def _items(texts, lines) -> dict[str, list]:
    """item -> [its lines, its best position in any line's list], in first-seen order."""
    seen: dict[str, list] = {}
    for text, line in zip(texts, lines):
        if not isinstance(text, str) or not text:
            continue
        line = int(line)
        for pos, item in enumerate(_split(text)):
            got = seen.get(item)
            if got is None:
                seen[item] = [[line], pos]
                continue
            if line not in got[0]:
                got[0].append(line)
            if pos < got[1]:
                got[1] = pos
    return seen


def claim_reasons(line_numbers, reasons, rejected: list[tuple[str, str]] = ()) -> str:
    """The claim's `top_reasons` from its lines' (and its rejected lines, first)."""
    items = _items(reasons, line_numbers)
    ranked = sorted(
        (_model_says(item), pos, -len(lines), k, item, lines)
        for k, (item, (lines, pos)) in enumerate(items.items())
    )
    said = [f"{r[4]} ({line_ranges(r[5])})" for r in ranked[:MAX_CLAIM_REASONS]]
    return SEP.join([*(f"line {ln} rejected: {why}" for ln, why in rejected), *said])


def one_line_reasons(line: int, reasons) -> str:
    """`claim_reasons([line], [reasons])`: a claim with one explained line and no rejected one, without
    the merge (each item is said once at its first place; what the model says after the findings)."""
    if not isinstance(reasons, str) or not reasons:
        return ""
    where = f" (line {int(line)})"
    return (where + SEP).join(_ranked_items(reasons)) + where


def one_line_plan(
    line: int, actions, p_line: float, log_survival_sum: float
) -> list[tuple[str, float | None]]:
    """`plan_actions([line], [actions], [p_line], log_survival_sum)` for one line, without the merge."""
    if not isinstance(actions, str) or not actions:
        return []
    where, base = f" (line {int(line)})", _log_survival(float(p_line))
    return [
        (name + where, None if left is None else log_survival_sum + (log_left - base))
        for name, left, log_left in _line_fixes(actions)
    ]


def plan_actions(line_numbers, actions, p_line, log_survival_sum: float) -> list[tuple[str, float | None]]:
    """A claim's fixes, each once with its lines: (text without the risk, the claim's log-survival sum
    once its lines are at the risk their fixes state; None for advice), in first-seen order."""
    p_of = {int(ln): float(p) for ln, p in zip(line_numbers, p_line)}
    fixes: dict[str, dict[int, float | None]] = {}
    for text, line in zip(actions, line_numbers):
        if not isinstance(text, str) or not text:
            continue
        for item in _split(text):
            name, left, log_left = _fix_item(item)
            fixes.setdefault(name, {})[int(line)] = (left, log_left)
    plans = []
    for name, by_line in fixes.items():
        stated = [(ln, log_left) for ln, (left, log_left) in by_line.items() if left is not None]
        moved = sum(log_left - _log_survival(p_of[ln]) for ln, log_left in stated)
        plans.append((f"{name} ({line_ranges(list(by_line))})", log_survival_sum + moved if stated else None))
    return plans


def format_actions(plans: list[tuple[str, float | None]], risks) -> str:
    """`recommended_actions` from `plan_actions` and each plan's claim risk (NaN for advice): best first."""
    scored = sorted(
        (r, k, f"{text}{RISK_ARROW}{format_risk(r)}")
        for k, ((text, s), r) in enumerate(zip(plans, risks))
        if s is not None
    )
    advice = [text for text, s in plans if s is None]
    return SEP.join(([t for _, _, t in scored] + advice)[:MAX_CLAIM_ACTIONS])


def claim_actions(line_numbers, actions, p_line, calibration, log_survival_sum: float, lines: int) -> str:
    """The claim's `recommended_actions`: each fix once, best first, with the claim risk it leaves."""
    plans = plan_actions(line_numbers, actions, p_line, log_survival_sum)
    sums = np.array([np.nan if s is None else s for _, s in plans], dtype=float)
    risks = claim_probability(calibration, np.nan_to_num(sums), np.full(len(plans), lines))
    return format_actions(plans, risks)


def _as_advice(item: str) -> str:
    """A fix without a stated risk is advice, and says so (a line's already does)."""
    return item if item.startswith(ADVICE_PREFIX) else ADVICE_PREFIX + item


def _log_survival(p: float) -> float:
    """`modeling.claim_risk.log_survival` for one number (no array overhead; the same clip, NaN kept)."""
    if p < 0.0:
        p = 0.0
    elif p > P_TOP:
        p = P_TOP
    return math.log1p(-p)
