"""The rework rules: each sourced action and deadline, a passed deadline, per-payer configuration."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from denial_risk.rework import rules

REMIT = pd.Timestamp("2026-02-10")


def _line(
    reason, remarks=None, payer_type="medicare", payer_id="MCRJB", service="2026-01-05", sent="2026-01-12"
):
    return rules.line_facts(
        {
            "denial_reason": reason,
            "remark_codes": remarks,
            "payer_type": payer_type,
            "payer_id": payer_id,
            "service_date": pd.Timestamp(service),
            "submission_date": pd.Timestamp(sent),
            "adjudication_date": REMIT,
        }
    )


@pytest.mark.parametrize("reason", ["CO-18", "OA-18", "OA-23"])
def test_duplicates_and_prior_payer_are_no_rework_until_checked(reason):
    d = rules.decide(_line(reason), REMIT)
    assert d.action == "no_rework" and d.deadline is None
    assert "check" in d.action_text


def test_medicare_clerical_error_is_a_reopening_within_one_year_of_the_determination():
    d = rules.decide(_line("CO-4"), REMIT)
    assert d.action == "reopening"
    assert d.deadline == pd.Timestamp("2027-02-10")
    assert "KX" in d.action_text  # not for modifier changes a reopening cannot make


def test_medicare_redetermination_runs_120_days_from_presumed_receipt():
    d = rules.decide(_line("CO-50"), REMIT)
    assert d.action == "appeal"
    assert d.deadline == REMIT + pd.Timedelta(days=5 + 120)


def test_unprocessable_is_a_new_claim_within_12_months_of_service():
    d = rules.decide(_line("CO-16", "N265|MA130"), REMIT)
    assert d.action == "corrected_claim"
    assert d.deadline == pd.Timestamp("2027-01-05")


def test_abn_binds_original_medicare_only():
    assert rules.decide(_line("PR-50", "M38"), REMIT).action == "bill_patient"
    for ptype in ("medicare_advantage", "medicaid", "commercial"):
        d = rules.decide(_line("PR-50", "M38", payer_type=ptype, payer_id="X"), REMIT)
        assert d.action == "appeal", ptype
        assert "do not bill the patient" in d.action_text


def test_late_filing_is_appealed_only_with_proof_of_timely_filing():
    late = rules.decide(_line("CO-29", service="2024-12-10", sent="2026-01-20"), REMIT)
    assert late.action == "no_rework" and "406 days" in late.action_text
    in_time = rules.decide(_line("CO-29", service="2025-12-10", sent="2026-01-05"), REMIT)
    assert in_time.action == "appeal" and "proof of timely filing" in in_time.action_text


def test_a_passed_deadline_is_no_rework_with_the_reason():
    d = rules.decide(_line("CO-50"), REMIT + pd.Timedelta(days=200))
    assert d.action == "no_rework" and d.deadline is None
    assert d.rule_action == "appeal" and "has passed" in d.action_text


def test_other_payers_windows_come_from_the_reference_data_and_a_payer_row_overrides(tmp_path, monkeypatch):
    from denial_risk.contract import reference

    d = rules.decide(_line("CO-50", payer_type="commercial", payer_id="ACME"), REMIT)
    assert d.action == "appeal" and d.deadline == REMIT + pd.Timedelta(days=180)
    copy = tmp_path / "ref"
    shutil.copytree(reference.reference_dir(), copy)
    with open(copy / rules.WINDOWS_FILE, "a", encoding="utf-8") as fh:
        fh.write('commercial,ACME,45d,"a payer\'s contract (test)"\n')
    monkeypatch.setenv(reference.ENV_VAR, str(copy))
    d = rules.decide(_line("CO-50", payer_type="commercial", payer_id="ACME"), REMIT)
    assert d.deadline == REMIT + pd.Timedelta(days=45)
    other = rules.decide(_line("CO-50", payer_type="commercial", payer_id="OTHER"), REMIT)
    assert other.deadline == REMIT + pd.Timedelta(days=180)


def test_every_rule_names_its_source_and_what_is_judgement():
    for r in rules.rules():
        assert r.source.strip(), r.rule
        assert r.action in rules.ACTIONS
        assert 0.0 <= r.prior_recovery <= 1.0
    assert rules.rules()[-1].carcs == ("*",) and rules.rules()[-1].payer_type == "*"  # a catch-all last
