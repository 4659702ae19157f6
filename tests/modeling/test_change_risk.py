"""A payer's rule change the classifier has not learned reaches its cell's lines; small payer cells borrow
from their peers; the stated shrink is chosen on held-out lines (issue 20)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from denial_risk.modeling import change_risk, effect_pool, latest
from denial_risk.testing import lines as make_lines


def _lines(n: int, payer: str, day: str, has_pa: bool) -> pd.DataFrame:
    row = dict(
        hcpcs_code="L1833",
        diagnosis_codes="M1711",
        payer_id=payer,
        payer_type="commercial",
        service_date=day,
        has_prior_auth=has_pa,
    )
    return make_lines(*[row] * n)


CHANGE = {
    "remedy": "obtain_prior_auth",
    "state": "present",
    "cell": "COM303|knee_orthosis",
    "payer": "COM303",
    "scope": "knee_orthosis",
    "month": "2025-09",
    "since_day": int(np.datetime64("2025-09-01", "D").astype(np.int64)),
    "direction": "started",
}


def test_the_change_lifts_only_its_cells_lines_since_its_month_and_to_the_remits_rate():
    lift = CHANGE | {"remits_rate": 0.4, "model_mean": 0.1, "chance": (0.4 - 0.1) / 0.9, "lines": 100}
    info = {change_risk.INFO_KEY: [lift]}
    lines = pd.concat(
        [
            _lines(3, "COM303", "2025-10-01", False),  # the change's lines
            _lines(1, "COM303", "2025-08-01", False),  # before it
            _lines(1, "COM303", "2025-10-01", True),  # prior authorization obtained
            _lines(1, "COM301", "2025-10-01", False),  # another payer
        ],
        ignore_index=True,
    )
    p = np.array([0.05, 0.1, 0.15, 0.1, 0.1, 0.1])
    out, lifted = change_risk.lift(info, lines, p)
    assert lifted.tolist() == [True, True, True, False, False, False]
    assert np.allclose(out[3:], p[3:], atol=1e-12)
    # noisy-OR: a line at the classifier's cell mean reaches the remits' rate; the order is kept
    assert out[1] == pytest.approx(0.4, abs=1e-9)
    assert out[0] < out[1] < out[2]
    assert change_risk.lift({}, lines, p)[1].sum() == 0  # a model fitted before: left as it is


def test_a_change_the_classifier_already_learned_adds_nothing():
    class Model:
        def rule_risk(self, frame):
            return type("R", (), {"p_floored": np.full(len(frame), 0.45)})()

    lines = _lines(60, "COM303", "2025-10-01", False).assign(denied=pd.array([True] * 24 + [False] * 36))
    assert change_risk.fit_change_risk(Model(), lines, [CHANGE]) == []  # mean 0.45 >= rate 0.40

    class Unaware(Model):
        def rule_risk(self, frame):
            return type("R", (), {"p_floored": np.full(len(frame), 0.05)})()

    (entry,) = change_risk.fit_change_risk(Unaware(), lines, [CHANGE])
    assert entry["remits_rate"] == pytest.approx(0.4, abs=1e-4)
    assert entry["chance"] == pytest.approx((0.4 - 0.05) / 0.95, abs=1e-3)
    words = change_risk.describe_lift(entry)
    assert words.startswith(
        "COM303 denies knee orthoses without prior authorization since 2025-09 in its remits"
    )


def _main(values):
    return {
        ("attach:x", "present", f"P{i}|hospital_bed", ""): (b, se, False, np.nan)
        for i, (b, se) in enumerate(values)
    }


def test_a_small_cell_borrows_from_its_peers_and_a_large_one_barely_moves():
    main = _main([(1.2, 0.45), (1.1, 0.1), (1.0, 0.1), (1.2, 0.1), (0.9, 0.1)])
    out = effect_pool.pooled(main)
    (b0, s0, *_), (b1, s1, *_) = out[next(iter(main))], out[list(main)[1]]
    assert s0 < 0.45 and 0.9 < b0 < 1.2  # narrower, toward the peers
    assert abs(b1 - 1.1) < 0.05 and s1 <= 0.1 + 1e-9  # a large cell keeps its own estimate
    assert 1.2 - 2.33 * 0.45 < 0.25 < b0 - 2.33 * s0  # the listing's lower bound now clears


def test_a_payer_whose_rule_differs_keeps_its_own_and_changed_cells_are_not_peers():
    main = _main([(-0.4, 0.25), (1.1, 0.1), (1.0, 0.1), (1.2, 0.1), (0.9, 0.1)])
    out = effect_pool.pooled(main)
    b, se, *_ = out[next(iter(main))]
    assert b - 2.33 * se < 0.25  # not listed: the peers do not make it so
    changed = dict(main)
    key = next(iter(main))
    changed[key] = (2.5, 0.4, True, 20332.0)
    assert effect_pool.pooled(changed)[key] == changed[key]
    few = dict(list(main.items())[:3])
    assert effect_pool.pooled(few) == few  # too few payers to read a spread


def test_the_stated_shrink_makes_the_mean_statement_the_mean_outcome(monkeypatch):
    rng = np.random.default_rng(0)
    logit = rng.normal(0.0, 1.0, 2000)
    beta = np.full(2000, 1.5)
    y = rng.random(2000) < 1 / (1 + np.exp(-(logit - 0.8 * 1.5)))
    monkeypatch.setattr(latest, "shrink_sample", lambda model, hold: (logit, beta, y))
    kappa, n = latest.fit_stated_shrink(None, None)
    assert n == 2000 and latest.SHRINK_RANGE[0] <= kappa <= latest.SHRINK_RANGE[1]
    stated = np.mean(1 / (1 + np.exp(-(logit - kappa * beta))))
    assert stated == pytest.approx(np.mean(y), abs=1e-3)
    monkeypatch.setattr(latest, "shrink_sample", lambda model, hold: (logit[:10], beta[:10], y[:10]))
    assert latest.fit_stated_shrink(None, None) == (latest.STATED_SHRINK, 10)
