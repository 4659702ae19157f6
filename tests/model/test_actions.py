"""Recommended fixes are true (rescored through the model) and only ever actionable; reasons read right."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import facts
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.scoring import fixes
from denial_risk.scoring import reasons as explain
from denial_risk.scoring.score import score_request

PRECISION = 1e-6


@pytest.fixture(scope="module")
def lines(claims_frame):
    """6k scorable lines without labels (a backlog), as the normaliser gives them."""
    return claims_frame.iloc[:6000].drop(
        columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"], errors="ignore"
    )


@pytest.fixture(scope="module")
def scored_fixes(denial_model, lines):
    X = denial_model.transform(lines)
    p = denial_model.proba_from_matrix(X)
    table = fixes.fix_table(denial_model, lines, X, p)  # every line, not only the medium tier
    return X, p, table


def _raw_from_normalised(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalised rows written back as a file would hold them (strings)."""
    out = pd.DataFrame(index=frame.index)
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif isinstance(s.dtype, pd.BooleanDtype):
            out[c] = s.map(lambda v: "" if pd.isna(v) else ("true" if v else "false"))
        else:
            out[c] = s.astype("string").fillna("")
    return out.reset_index(drop=True)


def test_every_fix_kind_is_exercised(scored_fixes):
    _, _, table = scored_fixes
    kinds = set(table.loc[table["listed"], "action_id"].str.split(":").str[0])
    assert {"set", "add_modifier"} <= kinds, kinds


def test_every_listed_fix_rescored_gives_the_stated_risk(denial_model, lines, scored_fixes):
    """Apply each listed fix to its line and rescore the whole frame through the model: same risk, 1e-6."""
    _, _, table = scored_fixes
    listed = table[table["listed"] & (table["kind"] == fixes.KIND_SCORED)]
    assert len(listed) > 100
    for aid, grp in listed.groupby("action_id"):
        fixed = fixes.apply_fix(lines.loc[grp["row"].to_numpy()], aid)
        q = denial_model.predict_proba(fixed)  # full re-featurisation, no shortcuts
        np.testing.assert_allclose(q, grp["new_probability"].to_numpy(), atol=PRECISION, rtol=0)
        assert (q <= grp["probability"].to_numpy() - fixes.MIN_DROP + PRECISION).all()


def test_fix_applied_to_the_raw_input_and_scored_end_to_end(denial_model, lines, scored_fixes):
    """From the raw strings through normalise, features and model (score_request): the stated risk."""
    _, _, table = scored_fixes
    listed = table[table["listed"] & (table["kind"] == fixes.KIND_SCORED)]
    sample = listed.groupby("action_id", group_keys=False).head(3).reset_index(drop=True)
    fixed = [fixes.apply_fix(lines.loc[[fix.row]], fix.action_id) for fix in sample.itertuples()]
    raw = _raw_from_normalised(pd.concat(fixed))
    raw["claim_id"] = [
        f"FIX{i}" for i in range(len(raw))
    ]  # one line per fix (an identifier, never a feature)
    got = score_request(denial_model, raw)["denial_probability"].astype(float).to_numpy()
    np.testing.assert_allclose(got, sample["new_probability"].to_numpy(), atol=PRECISION, rtol=0)


def test_scoring_is_row_independent(denial_model, lines):
    batch = denial_model.predict_proba(lines.iloc[:400])
    alone = np.array([denial_model.predict_proba(lines.iloc[[i]])[0] for i in range(0, 400, 37)])
    np.testing.assert_allclose(alone, batch[::37], atol=1e-12, rtol=0)
    shuffled = lines.iloc[:400].sample(frac=1.0, random_state=3)
    np.testing.assert_allclose(
        denial_model.predict_proba(shuffled),
        pd.Series(batch, index=lines.index[:400]).loc[shuffled.index].to_numpy(),
        atol=1e-12,
        rtol=0,
    )


def test_kx_advised_only_with_prescription_and_notes(lines, scored_fixes):
    _, _, table = scored_fixes
    kx = table[table["action_id"] == "add_modifier:KX"]
    assert len(kx), "the sample should have Medicare lines missing KX with both documents"
    rows = lines.loc[kx["row"].to_numpy()]
    assert rows["has_prescription"].eq(True).all() and rows["has_progress_notes"].eq(True).all()
    # and the lines missing KX without the documents never get the advice
    line_facts = facts.LineFacts.of(lines)
    unbacked = ~(lines["has_prescription"].eq(True) & lines["has_progress_notes"].eq(True)).fillna(False)
    assert not set(kx["row"]) & set(lines.index[unbacked.to_numpy(dtype=bool) & ~line_facts.mods["KX"]])


def test_kx_advice_never_appears_in_text_without_documents(denial_model, lines):
    out = explain.explain_rows(
        denial_model,
        lines,
        denial_model.transform(lines),
        denial_model.predict_proba(lines),
        min_probability=0.0,
    )
    advised = out["recommended_actions"].str.contains("add KX", regex=False).fillna(False)
    assert advised.any()
    backed = lines["has_prescription"].eq(True) & lines["has_progress_notes"].eq(True)
    assert backed[advised].all()


def test_fixes_that_do_not_lower_the_risk_are_not_listed(denial_model, lines, scored_fixes):
    _, p, table = scored_fixes
    scored = table[table["kind"] == fixes.KIND_SCORED]
    not_listed = scored[~scored["listed"]]
    assert len(not_listed), "some considered fixes should not help"
    assert (not_listed["new_probability"] > not_listed["probability"] - fixes.MIN_DROP).all()
    text = fixes.recommended_actions(table, lines.index)
    for _, fix in not_listed.head(200).iterrows():
        assert f"{fix['text']} →" not in text.loc[fix["row"]]


def test_text_format_and_order(lines, scored_fixes):
    _, _, table = scored_fixes
    text = fixes.recommended_actions(table, lines.index)
    shown = text[text != ""]
    assert len(shown)
    for s in shown.head(500):
        risks = []
        for item in s.split("; "):
            m = re.search(r" → (\d+(?:\.\d+)?)%$", item)
            if m:
                risks.append(float(m.group(1)))
            else:
                assert "not scored" in item, item
        assert risks == sorted(risks), s  # best first


def test_fixes_never_touch_payer_patient_or_dates(lines, scored_fixes):
    _, _, table = scored_fixes
    for aid, grp in table[table["kind"] == fixes.KIND_SCORED].groupby("action_id"):
        before = lines.loc[grp["row"].to_numpy()]
        after = fixes.apply_fix(before, aid)
        changed = [c for c in before.columns if not before[c].equals(after[c])]
        assert set(changed) <= set(fixes.FIXABLE_COLUMNS), (aid, changed)
    words = " ".join(table["text"].unique()).lower()
    for forbidden in ("payer", "patient", "date of service", "service date", "change the"):
        assert forbidden not in words


def _line(**over) -> dict:
    base = {
        "claim_id": "C1",
        "line_number": "1",
        "service_date": "2025-03-01",
        "submission_date": "2025-03-05",
        "payer_type": "medicare",
        "payer_id": "MCRJD",
        "provider_id": "1234567893",
        "hcpcs_code": "L1833",
        "modifiers": "KX|RT|NU",
        "diagnosis_codes": "M17.11",
        "billed_amount": "850.00",
        "units": "1",
        "has_prescription": "true",
        "has_medical_necessity_letter": "true",
        "has_progress_notes": "true",
        "has_measurements": "true",
        "has_photos": "false",
        "has_proof_of_delivery": "true",
        "has_prior_auth": "true",
        "prior_same_code_12m": "0",
    }
    base.update(over)
    return base


def test_certain_findings_in_a_billers_words(denial_model):
    raw = pd.DataFrame(
        [
            _line(
                claim_id="A",
                hcpcs_code="L1320",  # not a Level II code before 2024-04-01
                modifiers="",
                service_date="2024-03-01",
                submission_date="2024-03-05",
            ),
            _line(claim_id="B", diagnosis_codes="M48X"),
            _line(claim_id="C", modifiers="NU"),  # medicare knee orthosis: no KX, no side
            _line(claim_id="D", submission_date="2026-06-01"),
            _line(claim_id="E", modifiers="KX|RT|LT|NU"),
        ]
    )
    clean, _ = normalize_chunk(raw)
    found = explain.findings(clean)
    by = found.groupby("pos")["text"].apply(list)
    assert "L1320 is not a valid HCPCS code" in by[0]
    assert "diagnosis M48X is not a valid ICD-10-CM code" in by[1]
    assert "no RT/LT on a sided knee orthosis" in by[2]
    assert any(t.startswith("no KX on a knee orthosis") for t in by[2])
    assert any("past the 365-day filing limit" in t for t in by[3])
    assert "RT and LT on one line of one unit" in by[4]


def test_side_kx_and_split_fixes_on_crafted_lines(denial_model):
    raw = pd.DataFrame(
        [
            _line(claim_id="C", modifiers="NU"),  # no KX and no side, documents on file
            _line(claim_id="N", modifiers="NU", has_progress_notes="false"),  # KX not backed
            _line(claim_id="E", modifiers="KX|RT|LT|NU"),
            _line(
                claim_id="A",
                hcpcs_code="L1320",  # not a Level II code before 2024-04-01
                modifiers="",
                service_date="2024-03-01",
                submission_date="2024-03-05",
            ),
        ]
    )
    clean, _ = normalize_chunk(raw)
    X = denial_model.transform(clean)
    p = denial_model.proba_from_matrix(X)
    table = fixes.fix_table(denial_model, clean, X, p, min_drop=-1.0)  # list everything considered
    ids = table.groupby("pos")["action_id"].apply(set)
    assert {"add_modifier:KX"} <= ids[0] and ids[0] & {"add_modifier:RT", "add_modifier:LT"}
    assert "add_modifier:KX" not in ids[1]
    assert ids[2] & {"split_bilateral:RT", "split_bilateral:LT"}
    assert "replace_code" in ids[3]
    advice = table[(table["pos"] == 3) & (table["action_id"] == "replace_code")]["text"].iloc[0]
    assert (
        "L1320" in advice and np.isnan(table[table["action_id"] == "replace_code"]["new_probability"]).all()
    )
    # the side fix states the worse of RT and LT
    side = table[
        (table["pos"] == 0)
        & table["action_id"].str.startswith("add_modifier:")
        & (table["action_id"] != "add_modifier:KX")
    ].iloc[0]
    both = [
        denial_model.predict_proba(fixes.apply_fix(clean.iloc[[0]], f"add_modifier:{s}"))[0]
        for s in ("RT", "LT")
    ]
    assert side["new_probability"] == pytest.approx(max(both), abs=PRECISION)


def test_reasons_and_actions_columns(denial_model, lines):
    X = denial_model.transform(lines)
    p = denial_model.proba_from_matrix(X)
    out = explain.explain_rows(denial_model, lines, X, p)
    assert list(out.columns) == ["top_reasons", "recommended_actions", "predicted_carcs"]
    assert out.index.equals(lines.index)
    high = p >= denial_model.tiers["medium"]
    assert (out["top_reasons"][high] != "").mean() > 0.9
    assert out["top_reasons"][high].str.contains(r"likely (?:CO|PR|OA|PI)-\d+", regex=True).mean() > 0.5
    assert (out["recommended_actions"][~high] == "").all()  # fixes only where they matter
