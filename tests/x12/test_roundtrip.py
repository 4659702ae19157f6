"""Contract table -> 837P/835 (write_837p, write_835) -> pyx12 validation -> ingest -> same table."""

from __future__ import annotations

import pandas as pd
import pytest

from denial_risk.contract import schema
from denial_risk.testing import make_claims
from denial_risk.x12 import ingest, validate_file, write_835, write_837p

# Columns X12 carries exactly (after the contract's normalisation: undotted diagnoses)
EXACT = (
    "claim_id",
    "line_number",
    "service_date",
    "payer_type",
    "hcpcs_code",
    "modifiers",
    "billed_amount",
    "provider_id",
    "payer_id",
    "submission_date",
    "units",
    "place_of_service",
    "denied",
    "denial_reason",
    "paid_amount",
)


def _roundtrip(table: pd.DataFrame, tmp_path, **split):
    claims = write_837p(table, tmp_path / "claims" / "claims.837", **split)
    remits = write_835(table, tmp_path / "remits" / "remits.835", **split)
    return claims, remits, ingest([tmp_path / "claims"], [tmp_path / "remits"])


def _as_text(s: pd.Series) -> list:
    return [None if pd.isna(v) else (round(float(v), 2) if isinstance(v, float) else v) for v in s]


@pytest.fixture(scope="module")
def table():
    return make_claims(400, seed=3)


def test_written_files_pass_pyx12_validation(table, tmp_path):
    claims, remits, _ = _roundtrip(table, tmp_path, claims_per_transaction=40, claims_per_file=90)
    assert len(claims) > 1 and len(remits) > 1  # split over files
    for p in claims + remits:
        ok, messages = validate_file(p)
        assert ok, (p, messages[:5])


def test_round_trip_keeps_the_contract_columns(table, tmp_path):
    _, _, r = _roundtrip(table, tmp_path, claims_per_transaction=40, claims_per_file=90)
    assert not r.errors
    assert r.counts["unmatched_claim_lines"] == 0 and r.counts["unmatched_remit_lines"] == 0
    assert r.counts["matched_lines_by_line_control_number"] == len(table)
    got = r.labelled.sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    want = table.sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    n = len(schema.REQUIRED) + len(schema.OPTIONAL) + len(schema.LABELS) + len(schema.OPTIONAL_LABELS)
    assert list(got.columns[:n]) == [
        *schema.REQUIRED,
        *schema.OPTIONAL,
        *schema.LABELS,
        *schema.OPTIONAL_LABELS,
    ]
    assert set(got["remark_codes"]) == {""}  # make_claims has none
    for col in EXACT:
        assert _as_text(got[col]) == _as_text(want[col]), col
    # diagnoses come back undotted (X12 has no dot), in the line's order
    assert list(got["diagnosis_codes"]) == [d.replace(".", "") for d in want["diagnosis_codes"]]
    # documentation flags: true stays true; unknown stays unknown (false is not expressible in X12)
    for col in schema.BOOLEAN_FLAGS:
        assert list(got[col].fillna(False)) == list(want[col].fillna(False)), col
    # patient key: a salted hash, one key per patient and one patient per key
    pairs = set(zip(want["patient_id"], got["patient_id"]))
    assert len(pairs) == want["patient_id"].nunique() == got["patient_id"].nunique()
    assert not set(got["patient_id"]) & set(want["patient_id"])


def test_round_trip_with_the_project_simulator(tmp_path):
    from denial_risk.synth import simulate

    table = simulate.simulate_claims(rows=300, seed=5)
    _, _, r = _roundtrip(table, tmp_path)
    assert not r.errors
    got = r.labelled.sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    want = table.copy()
    want["line_number"] = pd.to_numeric(want.get("line_number", 1)).astype(int)
    want = want.sort_values(["claim_id", "line_number"]).reset_index(drop=True)
    assert len(got) == len(want)
    for col in ("claim_id", "hcpcs_code", "payer_type"):
        assert [str(v).strip().lower() for v in got[col]] == [str(v).strip().lower() for v in want[col]], col
    assert got["billed_amount"].round(2).tolist() == pd.to_numeric(want["billed_amount"]).round(2).tolist()
    denied = want["denied"].astype(str).str.lower().isin(["true", "1", "yes", "y", "t"])
    assert got["denied"].astype(bool).tolist() == denied.tolist()


def test_zero_payment_all_deductible_is_not_a_denial_and_reasons_survive(tmp_path):
    t = make_claims(8, seed=1).head(1).copy()
    t = pd.concat(
        [
            t.assign(claim_id="D1", denied=False, denial_reason="", paid_amount=0.0),
            t.assign(claim_id="D2", denied=True, denial_reason="PR-204", paid_amount=0.0),
        ]
    )
    _, _, r = _roundtrip(t, tmp_path)
    got = r.labelled.set_index("claim_id")
    assert not got.loc["D1", "denied"] and got.loc["D1", "denial_reason"] == ""
    assert got.loc["D2", "denied"] and got.loc["D2", "denial_reason"] == "PR-204"


def test_remark_codes_round_trip_as_line_remarks(tmp_path):
    t = make_claims(40, seed=2)
    codes = ["N19", "", "MA130|N362", "M38"]
    t["remark_codes"] = [codes[i % len(codes)] for i in range(len(t))]
    _, remits, r = _roundtrip(t, tmp_path)
    assert "LQ*HE*MA130~" in remits[0].read_text()
    got = r.labelled.sort_values(["claim_id", "line_number"])
    want = t.sort_values(["claim_id", "line_number"])
    assert list(got["remark_codes"]) == list(want["remark_codes"])
    for p in remits:
        ok, messages = validate_file(p)
        assert ok, messages[:5]
