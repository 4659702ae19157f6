"""Fixes: listed only where the learned effect's lower bound lowers the risk, only what a biller can
truthfully do, and true in the simulated world (floors on a small world; benchmarks/bench_fixes.py
has the held-out figures)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from denial_risk.biller import remedies
from denial_risk.biller.wording import ADVICE_PREFIX, FIX_SEP, REMEDY_TEXT, UNKNOWN_SUFFIX
from denial_risk.contract import schema
from denial_risk.contract.facts import LineFacts
from denial_risk.contract.normalize import normalize_chunk
from denial_risk.scoring import fixes, stagefix
from denial_risk.scoring.findings import findings
from denial_risk.scoring.reasons import explain_rows
from denial_risk.testing import fix_truth

FIXABLE = {
    "modifiers",
    "units",
    "diagnosis_codes",
    *remedies.DOCUMENTS,
    "has_prior_auth",
    "eligibility_verified",
    "ordering_npi",
    "face_to_face_date",
}


@pytest.fixture(scope="module")
def lines(claims_frame):
    """6k scorable lines without labels (a backlog), as the normaliser gives them."""
    return claims_frame.iloc[:6000].drop(columns=list(schema.OUTCOME_COLUMNS), errors="ignore")


@pytest.fixture(scope="module")
def table(denial_model, lines):
    p = denial_model.predict_proba(lines)
    return fixes.fix_table(denial_model, lines, p), p


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def test_stated_risk_is_the_line_risk_without_the_learned_effect(denial_model, lines, table):
    t, p = table
    scored = t[(t["kind"] == fixes.KIND_SCORED) & t["listed"] & (t["basis"] == "learned")]
    assert len(scored) > 50
    effects = denial_model.fix_effects
    cand = remedies.candidates(lines, LineFacts.of(lines))
    for name, part in scored.groupby("remedy"):
        pos = part["pos"].to_numpy()
        state = np.where(cand.present[name][pos], "present", "unknown")
        figs = [effects.lookup(name, s, cand.cells[name][[i]], lines.iloc[[i]]) for s, i in zip(state, pos)]
        # the effect the statement removes: kappa times the line's (sub-)cell effect
        beta, se, rate, stated = (
            np.array([f[k][0] for f in figs]) for k in ("beta", "se", "rate", "beta_stated")
        )
        start = np.minimum(p[pos], fixes.P_CAP)
        expected = 1 / (1 + np.exp(-(_logit(start) - stated)))
        # A defect only possible (status unknown, or an uncertain remedy): a chance of a denial removed.
        chance = (state == "unknown") | remedies.REMEDIES[name].uncertain
        expected = np.where(chance, fixes._chance_removed(start, beta, se, rate, stated)[0], expected)
        np.testing.assert_allclose(part["new_probability"].to_numpy(), expected, rtol=0, atol=1e-9)


def test_a_fix_is_listed_only_when_its_lower_bound_lowers_the_risk_a_point(table):
    t, _ = table
    scored = t[t["kind"] == fixes.KIND_SCORED]
    listed, unlisted = scored[scored["listed"]], scored[~scored["listed"]]
    assert len(listed) and len(unlisted), "some considered fixes help and some do not"
    assert (listed["low_drop"] >= fixes.MIN_DROP).all()
    assert (listed["new_probability"] < listed["probability"]).all()
    # unlisted: no effect learned, a lower bound short of a point, or reasons that contradict it
    assert (unlisted["low_drop"].isna() | (unlisted["low_drop"] < fixes.MIN_DROP)).mean() > 0.9


def test_fixes_change_only_the_line_never_payer_patient_or_dates(lines, table):
    t, _ = table
    for name in t.loc[t["kind"] == fixes.KIND_SCORED, "remedy"].unique():
        pos = t.loc[t["remedy"] == name, "pos"].to_numpy()[:200]
        before = lines.iloc[pos]
        for alt in remedies.REMEDIES[name].alternatives:
            after = remedies.apply(before, name, alt)
            changed = {c for c in before.columns if not before[c].equals(after[c])}
            assert changed and changed <= FIXABLE, (name, changed)
    words = " ".join(t["text"].unique()).lower()
    for forbidden in ("change the payer", "patient's date", "date of service to", "record the"):
        assert forbidden not in words


def test_kx_only_when_the_record_meets_the_policy(lines, table):
    t, _ = table
    kx = t[t["remedy"] == "add_kx"]
    assert len(kx), "the sample has Medicare-list lines missing KX with both documents"
    rows = lines.iloc[kx["pos"].to_numpy()]
    assert rows["has_prescription"].eq(True).all() and rows["has_progress_notes"].eq(True).all()


def test_fixes_read_as_what_the_record_holds(table):
    t, _ = table
    texts = set(t["text"])
    meas = [x for x in texts if "measurements" in x]
    assert meas and all("if they were recorded" in x for x in meas)
    dx = [x for x in texts if "supports the" in x and x.startswith("check")]
    assert dx and all("whether the record documents" in x for x in dx)


def _raw(**over) -> dict:
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


def _crafted(*rows: dict) -> pd.DataFrame:
    clean, rejects = normalize_chunk(pd.DataFrame([_raw(claim_id=f"X{i}", **r) for i, r in enumerate(rows)]))
    assert rejects.empty
    return clean


@pytest.mark.parametrize(("date", "program"), [("2024-09-16", True), ("2024-06-17", False)])
def test_medicare_prior_auth_follows_the_program_on_the_date_of_service(denial_model, date, program):
    """L0637 joined Medicare's Required Prior Authorization List on 2024-08-12."""
    clean = _crafted(
        dict(
            hcpcs_code="L0637",
            modifiers="",
            diagnosis_codes="M54.50",
            has_prior_auth="false",
            service_date=date,
            submission_date=date,
        )
    )
    found = " ".join(findings(clean, effects=denial_model.fix_effects)["text"])
    t = fixes.fix_table(denial_model, clean, np.array([0.5]), as_of="2024-01-01")  # before delivery
    pa = t[t["remedy"] == "obtain_prior_auth"]
    if program:
        assert "Medicare requires it for L0637 since 2024-08-12" in found
        # one wording (the Medicare list is named in the reason), at the line's stage: before delivery
        assert len(pa) == 1 and pa["text"].iloc[0] == "obtain prior authorization before delivery"
        assert pa["listed"].iloc[0], "the program's effect is learned in the training remits"
        # once delivered, with no authorization on record, nothing can be done for it
        later = fixes.fix_table(denial_model, clean, np.array([0.5]), as_of="2026-01-01")
        assert "obtain_prior_auth" not in set(later["remedy"])
    else:
        assert "prior authorization" not in found
        assert pa.empty


def test_no_prior_authorization_for_a_medicare_code_outside_the_program(denial_model):
    clean = _crafted(dict(hcpcs_code="L0634", modifiers="", diagnosis_codes="M54.50", has_prior_auth="false"))
    t = fixes.fix_table(denial_model, clean, np.array([0.6]))
    assert "obtain_prior_auth" not in set(t["remedy"])
    assert "prior authorization" not in " ".join(findings(clean, effects=denial_model.fix_effects)["text"])


def test_rtlt_on_one_line_of_two_units_gets_the_split(denial_model):
    clean = _crafted(dict(modifiers="KX|RT|LT|NU", units="2"))
    found = " ".join(findings(clean)["text"])
    assert "RT and LT on one line: Medicare wants two lines, one unit each since 2019-03-01" in found
    t = fixes.fix_table(denial_model, clean, np.array([0.5]))
    split = t[t["remedy"] == "split_rtlt"]
    assert len(split) == 1 and "two lines" in split["text"].iloc[0]
    after = remedies.apply(clean, "split_rtlt", "RT")
    assert after["modifiers"].iloc[0] == "KX|RT|NU" and after["units"].iloc[0] == 1


def test_a_ga_line_is_likely_denied_pr_50(denial_model):
    clean = _crafted(dict(modifiers="GA|RT|NU", diagnosis_codes="M17.11"))
    out = explain_rows(denial_model, clean, denial_model.transform(clean), np.array([0.9]))
    assert out["likely_denial_codes"].iloc[0].startswith("PR-50 ")


def test_likely_denial_codes_for_every_line(denial_model, lines):
    X = denial_model.transform(lines)
    out = explain_rows(denial_model, lines, X, denial_model.proba_from_matrix(X))
    codes = out["likely_denial_codes"]
    item = r"(?:CO|PR|OA|PI)-\d{1,3} [01]\.\d\d"
    assert codes.str.fullmatch(rf"{item}(?:\|{item}){{2}}").all()
    shares = codes.str.findall(r" ([01]\.\d\d)").map(lambda v: [float(x) for x in v])
    assert (shares.map(sum) <= 1.0 + 0.015).all() and shares.map(lambda v: v == sorted(v, reverse=True)).all()


def test_no_finding_claims_a_requirement_without_a_source_or_the_payers_remits(denial_model, lines):
    found = findings(lines, effects=denial_model.fix_effects)
    requires = found[found["text"].str.contains(r"\brequires?\b|\bwants\b", regex=True)]
    assert len(requires)
    sourced = requires["text"].str.contains(r"Medicare", regex=False) & requires["text"].str.contains(
        r"CMS|CGS|Noridian|since 20\d\d|list|LCD", regex=True
    )
    assert sourced.all(), requires.loc[~sourced, "text"].unique()[:5]
    evidence = found["text"].str.contains("this payer denied", regex=False)
    assert evidence.any()
    assert (
        found.loc[evidence, "text"]
        .str.fullmatch(
            r".*this payer denied \d+% of such lines without it as [A-Z]{2}-\d+(?:/[A-Z]{2}-\d+)?"
            r"(?: since 20\d\d-\d\d)? \(\d+% with it\)"
        )
        .all()
    )


def test_findings_in_a_billers_words():
    clean = _crafted(
        dict(hcpcs_code="L0620", modifiers=""),
        dict(diagnosis_codes="M48X"),
        dict(modifiers="NU"),  # Medicare knee orthosis: no KX, no side
        dict(submission_date="2026-06-01"),
        dict(hcpcs_code="L3916", modifiers="RT|LT|NU", units="1", payer_type="commercial", payer_id="COM9"),
        dict(eligibility_verified="false", ordering_npi="1234567890"),
    )
    by = findings(clean).groupby("pos")["text"].apply(list)
    assert "L0620 is not a valid HCPCS code" in by[0]
    assert "diagnosis M48X is not a valid ICD-10-CM code" in by[1]
    assert "no RT/LT on a sided knee orthosis" in by[2]
    assert any(t.startswith("no KX: Medicare's knee orthosis policy requires it") for t in by[2])
    assert any("past Medicare's 365-day filing limit" in t for t in by[3])
    assert "RT and LT on one line of one unit" in by[4]
    assert "eligibility not verified for the date of service" in by[5]
    assert "the ordering NPI fails its check digit" in by[5]


def test_fix_texts_end_with_the_risk_and_come_best_first(lines, table):
    t, _ = table
    text = fixes.recommended_actions(t, lines.index)
    shown = text[text != ""]
    assert len(shown) > 100
    for s in shown.head(500):
        risks = [float(m) for m in re.findall(r" → (\d+(?:\.\d+)?)%(?:;|$)", s)]
        scored = [x for x in s.split("; ") if "→" in x]
        assert len(risks) == len(scored) and risks == sorted(risks), s


@pytest.fixture(scope="module")
def judged():
    """A model fitted on 40k lines of the world (seed 11; the session model's 12k lines learn too few
    cells), its fixes on another seed's last six months judged by that world."""
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.synth.simulate import simulate_claims, simulate_world

    train, _ = normalize_chunk(simulate_claims(40_000, 11))
    model = fit_model(train, TrainConfig()).model
    frame, world = simulate_world(12_000, 12)
    late = frame[frame["service_date"] >= "2025-07-01"].reset_index(drop=True)
    clean = late.drop(columns=list(schema.OUTCOME_COLUMNS), errors="ignore")
    return fix_truth.judge(model, world, clean)


@pytest.mark.slow
def test_fixes_are_true_in_the_world_on_a_small_world(judged):
    ours = fix_truth.figures(judged)
    assert ours.listed >= 300
    assert ours.precision >= 0.93  # measured 0.99 (bench_fixes.py: 0.98 at 120k lines)
    assert ours.recall >= 0.55  # measured 0.68 (0.93 at 120k lines: more cells learned)
    assert ours.error <= 0.10  # measured 0.067


@pytest.mark.slow
def test_naive_rescoring_fails_where_the_learned_effects_hold(judged):
    """The design this replaced: re-score the edited line; list it when the model's risk drops a point."""
    ours = fix_truth.figures(judged)
    naive = fix_truth.figures(judged, *fix_truth.naive_listing(judged))
    assert naive.precision < ours.precision - 0.1  # measured 0.79 against 0.99
    assert naive.listed > ours.listed


def test_the_reasons_name_the_remark_code_a_carc_usually_carries(denial_model):
    """Remark codes are labels (never features): the training remits' usual RARC of a CARC is named."""
    from denial_risk.modeling.train import carc_remarks
    from denial_risk.scoring.reasons import _likely_words

    frame = pd.DataFrame(
        {
            "denied": [True] * 12 + [False] * 3,
            "denial_reason": ["CO-16"] * 8 + ["CO-4"] * 4 + [None] * 3,
            "remark_codes": ["N265|MA130"] * 6 + [None] * 2 + ["N822"] + [None] * 3 + ["MA130"] * 3,
        }
    )
    got = carc_remarks(frame, min_lines=4)
    assert got == {"CO-16": ["N265", 0.75]}  # CO-4's N822 on 1 of 4 lines is not "usually"
    assert _likely_words("CO-16", got).endswith(
        "(with N265 on 75% of them: missing or invalid ordering provider identifier)"
    )
    remarks = denial_model.info["carc_remarks"]
    assert remarks and all(0.3 <= share <= 1 for _, share in remarks.values())


def test_one_wording_per_fix_advice_marked_and_no_separator_inside_a_fix(denial_model, lines, table):
    t, _ = table
    same_or_similar = _crafted(dict(prior_same_code_12m="2"))  # a knee orthosis again within its lifetime
    extra = fixes.fix_table(denial_model, same_or_similar, np.array([0.7]))
    assert "same_or_similar" in set(extra["remedy"])
    both = pd.concat([t, extra.assign(pos=extra["pos"] + len(lines))], ignore_index=True)
    text = fixes.recommended_actions(both, lines.index.append(pd.Index([-1])))
    items = [x for s in text[text != ""] for x in s.split(FIX_SEP)]
    assert len(items) > 100
    for x in items:  # every piece the separator leaves is one whole fix: scored (→ N%) or advice
        assert (" → " in x) != x.startswith(ADVICE_PREFIX), x
        if " → " in x:
            assert fix_truth.remedy_of(x) is not None, x
    assert any(x.startswith(ADVICE_PREFIX + "add RA and the narrative only if") for x in items)
    # prior authorization in one wording per stage: before delivery, or the UTN of one obtained in time
    stage_words = {stagefix.STAGE_TEXT[("obtain_prior_auth", done)] for done in (False, True)}
    prior_auth = {
        x.split(" → ")[0].removesuffix(UNKNOWN_SUFFIX)
        for x in items
        if "authorization" in x or "affirmation" in x
    }
    assert prior_auth <= stage_words
    t_p = table[1]
    early = fixes.fix_table(denial_model, lines, t_p, as_of="2023-01-01")  # every line before delivery
    words = early.loc[early["remedy"] == "obtain_prior_auth", "text"].str.removesuffix(UNKNOWN_SUFFIX)
    assert len(words) and set(words) == {stagefix.STAGE_TEXT[("obtain_prior_auth", False)]}
    assert not [w for w in REMEDY_TEXT.values() if FIX_SEP in w]
