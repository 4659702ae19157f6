"""The readers on the real public sample files (tests/fixtures/x12): counts and amounts
a reader can check against the files by eye."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from denial_risk.x12 import ingest
from denial_risk.x12.codes import patient_key

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "x12"
LFH = FIX / "linuxforhealth"
P835 = LFH / "835_005010X221A1"
P837 = LFH / "837_005010X222A2"
P4010 = LFH / "837_004010X098A1"


def test_pyx12_mult_loops_claim_status_4_is_denied_with_its_carc():
    r = ingest([], [FIX / "pyx12" / "835_mult_loops.txt"])
    df = r.labelled
    assert not r.errors
    assert list(df["claim_id"]) == ["2005555A"] * 3
    # CLP*2005555A*4*915.39*0: three SVC*HC:T1005 lines, nothing paid
    assert list(df["billed_amount"]) == [500.04, 127.8, 287.55]
    assert df["billed_amount"].sum() == pytest.approx(915.39)
    assert list(df["units"]) == [68, 16, 36]
    assert df["denied"].all()
    assert list(df["denial_reason"]) == ["CO-16", "OA-A7", "OA-A7"]
    assert list(df["paid_amount"]) == [0, 0, 0]
    assert list(df["service_date"]) == ["2003-11-29", "2003-10-30", "2003-10-31"]
    assert list(df["remark_codes"]) == ["N14", "N14", "N14"]  # LQ*HE*N14 on each line
    assert set(df["payer_type"]) == {"medicaid"}  # CLP06 = MC
    assert set(df["match_method"]) == {"remit_only"}


def test_managed_care_835_paid_lines_with_deductible_are_not_denied():
    df = ingest([], [P835 / "managed-care.835"]).labelled
    assert list(df["claim_id"]) == ["5554555444", "8765432112"]
    assert list(df["hcpcs_code"]) == ["99211", "93555"]
    assert list(df["billed_amount"]) == [800.0, 1200.0]
    assert list(df["paid_amount"]) == [500.0, 550.0]
    assert not df["denied"].any()
    assert list(df["denial_reason"]) == ["", ""]
    assert list(df["provider_id"]) == ["5544667733", "5544667733"]  # N1*PE*...*XX


def test_secondary_payment_claim_level_and_wrong_component_separator():
    r = ingest([], [P835 / "secondary-payment.835"])
    df = r.labelled.set_index(["claim_id", "line_number"])
    # CLP without SVC: claim-level adjudication, one row with the claim's charge and payment
    assert df.loc[("L0004828311", 1), "billed_amount"] == 10323.64
    assert df.loc[("L0004828311", 1), "paid_amount"] == 912.0
    # SVC*HC>12345>26 although ISA16 is ':' -- tolerated, noted
    assert df.loc[("0001000053", 1), "hcpcs_code"] == "12345"
    assert df.loc[("0001000053", 1), "modifiers"] == "26"
    assert df.loc[("0001000053", 2), "paid_amount"] == 280.0
    assert not df["denied"].any()
    assert any("'>'" in w.message and w.segment for w in r.warnings)


def test_all_835_samples_read_without_bad_files():
    r = ingest([], [P835, FIX / "pyx12"])
    assert not r.errors
    assert r.counts["remit_claims"] == 9  # 1 + 2 + 2 + 2 + 1 + 1 (mult_loops)
    assert r.counts["labelled_rows"] == 12


def test_837p_5010_example1_lines_payer_provider_icd9():
    r = ingest([P837 / "demo.example1.837"], [])
    df = r.unlabelled
    assert list(df["claim_id"]) == ["26463774"] * 4
    assert list(df["line_number"]) == [1, 2, 3, 4]
    assert list(df["hcpcs_code"]) == ["99213", "87070", "99214", "86663"]
    assert list(df["billed_amount"]) == [40.0, 15.0, 35.0, 10.0]  # CLM02 = 100.00
    assert list(df["service_date"]) == ["2006-10-03", "2006-10-03", "2006-10-10", "2006-10-10"]
    assert set(df["submission_date"]) == {"2006-10-15"}  # BHT04
    assert set(df["payer_type"]) == {"commercial"}  # SBR09 = CI
    assert set(df["payer_id"]) == {"999996666"}  # 2010BB NM1*PR
    assert set(df["provider_id"]) == {"1912301953"}  # NM1*85 ... XX
    assert set(df["place_of_service"]) == {"11"}
    # HI*BK:0340*BF:V7389 is ICD-9-CM: reported, never taken for ICD-10
    assert set(df["diagnosis_codes"]) == {""}
    assert list(df["icd9_diagnosis_codes"]) == ["0340", "0340", "V7389", "V7389"]  # SV107 pointers 1,1,2,2
    assert r.counts["claims_with_icd9_diagnoses"] == 1


def test_patient_key_is_a_salted_hash_never_the_member_id(monkeypatch):
    df = ingest([P837 / "demo.example1.837"], []).unlabelled
    pid = df["patient_id"].iloc[0]
    assert "JS00111223333" not in pid and "SMITH" not in pid.upper()
    assert pid.startswith("pk_")
    monkeypatch.setenv("DENIAL_RISK_PATIENT_SALT", "another-salt")
    assert ingest([P837 / "demo.example1.837"], []).unlabelled["patient_id"].iloc[0] != pid
    assert patient_key("A") != patient_key("B")


def test_837p_4010_reads_and_non_npi_provider_is_unknown():
    df = ingest([P4010 / "patient-is-subscriber.837"], []).unlabelled
    assert list(df["hcpcs_code"]) == ["99213", "87072", "99214", "86663"]
    assert df["billed_amount"].sum() == 100.0
    assert set(df["payer_type"]) == {"commercial"}  # SBR09 = HM
    assert df["provider_id"].isna().all()  # NM1*85 qualifier 24 is an EIN, not an NPI


def test_all_837_samples_read_and_duplicates_are_kept_apart():
    r = ingest([LFH], [])
    assert not r.errors, r.errors
    df = r.unlabelled
    assert r.counts["claims"] == 34
    assert len(df) == r.counts["claim_lines"] == 95
    # 26407789 is in four files (COB examples): four claims, never merged
    ids = sorted(i for i in df["claim_id"].unique() if i.startswith("26407789"))
    assert ids == ["26407789", "26407789#2", "26407789#3", "26407789#4"]
    dup = next(d for d in r.duplicates if d["claim_id"] == "26407789")
    assert dup["occurrences"] == 4 and len(dup["files"]) == 4
    assert not df.duplicated(["claim_id", "line_number"]).any()


def test_institutional_and_utf8_files_read():
    df = ingest([LFH / "837_004010X096A1" / "homeowners.837"], []).unlabelled
    assert list(df["hcpcs_code"]) == ["98765", "72110", "99282"]  # SV2*rev*HC:code
    assert df["billed_amount"].sum() == 450.0
    assert df["place_of_service"].isna().all()  # CLM05-1 of an 837I is a facility type


def test_claim_and_remit_of_the_samples_do_not_match_each_other():
    r = ingest([P837], [P835])
    assert r.counts.get("matched_claims", 0) == 0
    assert len(r.unlabelled) == r.counts["claim_lines"]
    assert isinstance(r.labelled, pd.DataFrame)


def test_medicare_part_a_claim_remark_codes_from_moa():
    df = ingest([], [P835 / "medicare-part-a.835"]).labelled.set_index("claim_id")
    # CLP*777777 ... MOA***MA02 (MOA03); CLP*666123 has an MIA without remark codes
    assert df.loc["777777", "remark_codes"] == "MA02"
    assert df.loc["666123", "remark_codes"] == ""


def test_remark_codes_line_then_claim_from_lq_mia_moa(tmp_path):
    isa = (
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
        "*240101*1200*^*00501*000000001*0*T*:"
    )
    body = [
        "BPR*I*0*C*NON************20240101",
        "TRN*1*1*1234567890",
        "N1*PR*PAYER",
        "LX*1",
        "CLP*R1*4*300*0**MB*X1",
        "MOA***MA130*N362",
        "SVC*HC:97110*100*0**1",
        "CAS*CO*16*100",
        "LQ*HE*N19",
        "LQ*HE*ma130",  # lower case, and the claim's too: once, upper-cased
        "LQ*RX*123",  # an NCPDP reject code, not a remark code
        "SVC*HC:97112*200*0**1",
        "CAS*CO*16*200",
        "CLP*R2*4*50*0**MA*X2",
        "MIA*1***0*M38***************N290*N19",  # MIA05, MIA20, MIA21
        "CAS*CO*16*50",
    ]
    segs = [isa, "GS*HP*A*B*20240101*1200*1*X*005010X221A1", "ST*835*0001", *body]
    segs += [f"SE*{len(body) + 2}*0001", "GE*1*1", "IEA*1*000000001"]
    f = tmp_path / "remarks.835"
    f.write_text("~\n".join(segs) + "~\n")
    r = ingest([], [f])
    assert not r.issues, r.issues
    df = r.labelled.set_index(["claim_id", "line_number"])
    assert df.loc[("R1", 1), "remark_codes"] == "N19|MA130|N362"
    assert df.loc[("R1", 2), "remark_codes"] == "MA130|N362"
    assert df.loc[("R2", 1), "remark_codes"] == "M38|N290|N19"
    # the denial rule does not read them
    assert list(df["denial_reason"]) == ["CO-16", "CO-16", "CO-16"] and df["denied"].all()
