"""Reworks linked by ingest-x12 (x12/links.py): reversal and re-adjudication, replacement claims."""

from __future__ import annotations

import pandas as pd

from denial_risk.testing import make_claims
from denial_risk.x12 import ingest
from denial_risk.x12.write import write_835, write_837p

ISA = (
    "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
    "*240101*1200*^*00501*000000001*0*T*:"
)


def _835(body: list[str], date: str) -> str:
    head = [f"BPR*H*0*C*NON************{date}", "TRN*1*1*1234567890", f"DTM*405*{date}", "N1*PR*PAYER"]
    segs = ["ST*835*0001", *head, "N1*PE*P*XX*1234567893", "LX*1", *body]
    segs.append(f"SE*{len(segs) + 1}*0001")
    lines = [ISA, "GS*HP*A*B*20240101*1200*1*X*005010X221A1", *segs, "GE*1*1", "IEA*1*000000001"]
    return "~\n".join(lines) + "~\n"


def test_a_reversal_and_readjudication_link_the_first_denial(tmp_path):
    first = tmp_path / "a.835"
    first.write_text(
        _835(["CLP*R1*4*100*0**MB*PCN1", "SVC*HC:L0650*100*0**1", "CAS*CO*50*100", "LQ*HE*N115"], "20250301")
    )
    again = tmp_path / "b.835"
    again.write_text(
        _835(
            [
                "CLP*R1*22*-100*0**MB*PCN1",
                "SVC*HC:L0650*-100*0**1",
                "CAS*CO*50*-100",
                "CLP*R1*1*100*80**MB*PCN1",
                "SVC*HC:L0650*100*80**1",
                "CAS*CO*45*20",
            ],
            "20250520",
        )
    )
    r = ingest([], [first, again])
    assert r.counts["reversals_applied"] == 1
    (row,) = r.labelled.to_dict("records")
    assert row["denied"] is False or not row["denied"]
    assert row["paid_amount"] == 80.0 and row["adjudication_date"] == "2025-05-20"
    assert row["rework_link"] == "reversal"
    assert row["initial_denial_reason"] == "CO-50" and row["initial_remark_codes"] == "N115"
    assert row["initial_adjudication_date"] == "2025-03-01" and row["payer_claim_id"] == "PCN1"


def test_a_paid_claim_reversed_is_no_rework_link(tmp_path):
    f = tmp_path / "c.835"
    f.write_text(
        _835(
            [
                "CLP*R2*1*50*50**12*X",
                "SVC*HC:L0650*50*50**1",
                "CLP*R2*22*-50*-50**12*X",
                "SVC*HC:L0650*-50*-50**1",
                "CLP*R2*1*50*40**12*X",
                "SVC*HC:L0650*50*40**1",
                "CAS*CO*45*10",
            ],
            "20250301",
        )
    )
    row = ingest([], [f]).labelled.iloc[0]
    assert pd.isna(row["rework_link"]) and pd.isna(row["initial_denial_reason"])


def test_a_replacement_claim_links_to_the_claim_it_replaces(tmp_path):
    claims = make_claims(6, seed=3).copy()
    claims["denied"] = True
    claims["denial_reason"] = "CO-4"
    claims["paid_amount"] = 0.0
    one = claims[claims["claim_id"] == claims["claim_id"].iloc[0]].copy()
    write_837p(claims, tmp_path / "a.837")
    write_835(claims, tmp_path / "a.835")
    fixed = one.assign(
        claim_frequency="7", original_claim_ref=one["claim_id"], denied=False, denial_reason=""
    )
    fixed["paid_amount"] = fixed["billed_amount"] * 0.8
    write_837p(fixed, tmp_path / "b.837")
    write_835(fixed, tmp_path / "b.835")
    r = ingest([tmp_path / "a.837", tmp_path / "b.837"], [tmp_path / "a.835", tmp_path / "b.835"])
    lab = r.labelled
    cid = str(one["claim_id"].iloc[0])
    new = lab[lab["claim_id"] == f"{cid}#2"]
    old = lab[lab["claim_id"] == cid]
    assert len(new) == len(one) == len(old) and r.counts["reworks_linked"] == len(one)
    assert (new["rework_link"] == "replacement").all() and (new["initial_denial_reason"] == "CO-4").all()
    assert (~new["denied"].astype(bool)).all()
    assert (old["replaced_by"] == f"{cid}#2").all() and old["denied"].astype(bool).all()
    others = lab[~lab["claim_id"].str.startswith(cid)]
    assert others["rework_link"].isna().all() and others["replaced_by"].isna().all()
