"""Real-shaped damaged files, one per case that used to lose every line (issue 12), written by the
project's X12 writer and then damaged: each keeps all its complete claims, with warnings naming the defect."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from denial_risk.testing import make_claims
from denial_risk.x12 import ingest, write_835, write_837p

FILE_COLUMNS = ["source_file", "remit_file"]
DENTAL = ["D0120", "D1110", "D0274", "D2740", "D0220", "D4341"]


def _rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in FILE_COLUMNS if c in df.columns]).reset_index(drop=True)


def _remits(path: Path, **kw):
    return ingest([], [path], **kw)


def _messages(r) -> list[str]:
    return [w.message for w in r.warnings]


def _cli(args: list[str]) -> int:
    from denial_risk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return exc.code
    return 0


# --------------------------------------------------------------------------- 1. a bare ST…SE 835


@pytest.fixture(scope="module")
def remit_835(tmp_path_factory):
    d = tmp_path_factory.mktemp("r835")
    (path,) = write_835(make_claims(300, seed=21), d / "payer.835")
    intact = _remits(path)
    assert not intact.issues
    return path.read_text(), intact


def _bare(text: str) -> str:
    return "".join(s + "~\n" for s in text.split("~\n") if s and not s.startswith(("ISA", "GS", "GE", "IEA")))


@pytest.mark.parametrize(
    "delimiters",
    [
        None,  # the defaults: * : ~
        {"*": "|", ":": ">", "~": "'"},  # other delimiters, shown by the segments themselves
        {"~\n": "\n"},  # segments ended by line breaks only
    ],
)
def test_bare_st_se_835_is_read_whole(remit_835, tmp_path, delimiters):
    text, intact = remit_835
    bare = _bare(text)
    for old, new in (delimiters or {}).items():
        bare = bare.replace(old, new) if len(old) > 1 else bare.translate(str.maketrans(old, new))
    assert not bare.startswith("ISA")
    path = tmp_path / "bare.835"
    path.write_text(bare)
    r = _remits(path)
    assert not r.errors
    assert r.counts["remit_claims"] == intact.counts["remit_claims"] > 100
    pd.testing.assert_frame_equal(_rows(r.labelled), _rows(intact.labelled))
    assert len(r.warnings) == 1 and r.warnings[0].segment == 1
    assert "no ISA/GS envelope" in r.warnings[0].message
    # strict keeps the old rule: an 835 without an interchange envelope is not read
    assert "not an X12 interchange" in _remits(path, strict=True).errors[0].message


# --------------------------------------------------------------------------- 2. a dental 835, SE01 off by two


def test_dental_835_with_se01_off_by_two_keeps_every_claim(tmp_path):
    t = make_claims(200, seed=22)
    t["hcpcs_code"] = [DENTAL[i % len(DENTAL)] for i in range(len(t))]
    t["modifiers"] = ""
    t["payer_id"], t["payer_type"] = "DENTAL01", "commercial"
    (path,) = write_835(t, tmp_path / "dental.835")
    text = path.read_text().replace("SVC*HC:", "SVC*AD:")  # ADA procedure codes
    path.write_text(text)
    intact = _remits(path)
    assert not intact.issues and intact.counts["transactions_835"] == 1
    m = re.search(r"(?m)^SE\*(\d+)\*", text)
    said = int(m.group(1)) + 2
    damaged = tmp_path / "dental_se01.835"
    damaged.write_text(text[: m.start(1)] + str(said) + text[m.end(1) :])
    r = _remits(damaged)
    assert not r.errors
    pd.testing.assert_frame_equal(_rows(r.labelled), _rows(intact.labelled))
    assert set(r.labelled["hcpcs_code"]) == set(DENTAL)
    (w,) = r.warnings
    assert w.message == f"SE01: SE count of {said} for SE02=0001 is wrong. I count {said - 2}"
    assert w.transaction == "0001" and w.segment == text[: m.start()].count("~\n") + 1
    out = tmp_path / "out" / "labels.csv"
    assert _cli(["ingest-x12", "--remits", str(damaged), "--out", str(out)]) == 0  # warnings only
    errors = pd.read_csv(out.with_name("labels.errors.csv"), dtype=str)
    assert list(errors.columns) == [
        "severity",
        "file",
        "role",
        "segment",
        "transaction",
        "claim_id",
        "message",
    ]
    assert list(errors["severity"]) == ["warning"] and errors["message"][0].startswith("SE01")
    assert len(pd.read_csv(out)) == len(t)
    assert _cli(["ingest-x12", "--remits", str(damaged), "--out", str(out), "--strict"]) == 1


# --------------------------------------------------------------------------- 3. an 837P, 820 lines in one ST


def test_837p_with_820_lines_in_one_transaction_and_a_wrong_se01(tmp_path):
    t = make_claims(900, seed=23).head(820)
    t["submission_date"] = "2024-03-01"  # one submission date: one transaction
    (path,) = write_837p(t, tmp_path / "big.837")
    text = path.read_text()
    assert text.count("\nST*837*") == 1
    intact = ingest([path], [])
    m = re.search(r"(?m)^SE\*(\d+)\*", text)
    damaged = tmp_path / "big_se01.837"
    damaged.write_text(text[: m.start(1)] + "820" + text[m.end(1) :])
    r = ingest([damaged], [])
    assert not r.errors
    assert len(r.unlabelled) == 820 == r.counts["claim_lines"]
    pd.testing.assert_frame_equal(_rows(r.unlabelled), _rows(intact.unlabelled))
    assert _messages(r) == [f"SE01: SE count of 820 for SE02=0001 is wrong. I count {m.group(1)}"]


# --------------------------------------------------------------------------- 4. an envelope that says more


def test_envelope_saying_more_segments_and_transactions_than_arrived(tmp_path):
    (path,) = write_835(make_claims(150, seed=24), tmp_path / "multi.835")
    text = path.read_text()
    intact = _remits(path)
    segs = [s for s in text.split("~\n") if s]
    starts = [i for i, s in enumerate(segs) if s.startswith("ST*")]
    assert len(starts) >= 3
    last = starts[-1]
    end = next(i for i in range(last, len(segs)) if segs[i].startswith("SE*"))
    lost_claims = {s.split("*")[1] for s in segs[last:end] if s.startswith("CLP*")}
    # the last transaction never arrived; the first lost a header segment (its DTM*405)
    dtm = next(i for i in range(starts[0], starts[1]) if segs[i].startswith("DTM*405"))
    kept = [s for i, s in enumerate(segs) if not (last <= i <= end) and i != dtm]
    kept[-1] = kept[-1].replace("IEA*1*", "IEA*2*")  # and the interchange claims two groups
    damaged = tmp_path / "short.835"
    damaged.write_text("".join(s + "~\n" for s in kept))
    r = _remits(damaged)
    assert not r.errors
    want = _rows(intact.labelled)
    want = want[~want["claim_id"].isin(lost_claims)].reset_index(drop=True)
    pd.testing.assert_frame_equal(_rows(r.labelled), want)  # every claim that arrived, exactly
    messages = _messages(r)
    assert len(messages) == 3, messages
    assert re.fullmatch(r"SE01: SE count of (\d+) for SE02=0001 is wrong\. I count (\d+)", messages[0])
    n_tx = len(starts)
    assert messages[1] == f"GE01: GE count of {n_tx} for GE02=1 is wrong. I count {n_tx - 1}"
    assert messages[2] == "IEA01: IEA count of 2 functional group(s) is wrong. I count 1"
    assert not any("balance" in m for m in messages)  # what arrived balances against BPR02


# --------------------------------------------------------------------------- 5. a claim cut mid-loop


def _cut_after(text: str, claim_prefix: str, nth: int, seg_id: str, skip: int = 4) -> tuple[str, str]:
    """The text up to and including the `nth` `seg_id` segment of a claim that has `nth` of them
    (the first such claim after `skip` others, so that complete claims come before it)."""
    segs = [s for s in text.split("~\n") if s]
    for i, s in enumerate(segs):
        if not s.startswith(claim_prefix):
            continue
        claim_id = s.split("*")[1]
        j, seen = i + 1, 0
        while j < len(segs) and not segs[j].startswith((claim_prefix, "SE*", "HL*")):
            if segs[j].startswith(seg_id + "*"):
                seen += 1
                if seen == nth and skip == 0:
                    return "".join(x + "~\n" for x in segs[: j + 1]), claim_id
                if seen == nth:
                    skip -= 1
            j += 1
    raise AssertionError("no such claim")


def test_837_claim_cut_mid_loop_is_dropped_and_named(tmp_path):
    t = make_claims(120, seed=25)
    (path,) = write_837p(t, tmp_path / "c.837")
    intact = ingest([path], [])
    cut_text, cut_claim = _cut_after(path.read_text(), "CLM*", 3, "LX")  # its 3rd line never arrived
    damaged = tmp_path / "cut.837"
    damaged.write_text(cut_text)
    r = ingest([damaged], [])
    order = list(dict.fromkeys(intact.unlabelled["claim_id"]))  # file order
    before = order[: order.index(cut_claim)]
    assert len(before) >= 4 and list(dict.fromkeys(r.unlabelled["claim_id"])) == before
    want = _rows(intact.unlabelled)
    pd.testing.assert_frame_equal(
        _rows(r.unlabelled), want[want["claim_id"].isin(before)].reset_index(drop=True)
    )
    (e,) = r.errors
    assert e.claim_id == cut_claim and "cut mid-loop" in e.message and "without SV1/SV2" in e.message
    assert {"SE", "GE", "IEA"} == {m.split()[1] for m in _messages(r) if m.startswith("missing")}
    out = tmp_path / "out" / "claims.csv"
    assert _cli(["ingest-x12", "--claims", str(damaged), "--out", str(out)]) == 1  # a claim was lost
    errors = pd.read_csv(out.with_name("claims.errors.csv"), dtype=str)
    row = errors[errors["severity"] == "error"].iloc[0]
    assert row["claim_id"] == cut_claim and row["file"] == str(damaged) and row["role"] == "claims"
    assert len(pd.read_csv(out)) == len(r.unlabelled)


def test_835_claim_cut_mid_loop_is_dropped_and_named_with_both_figures(tmp_path):
    t = make_claims(120, seed=26)
    (path,) = write_835(t, tmp_path / "r.835")
    intact = _remits(path)
    cut_text, cut_claim = _cut_after(path.read_text(), "CLP*", 2, "SVC")  # before that line's CAS
    damaged = tmp_path / "cut.835"
    damaged.write_text(cut_text)
    r = _remits(damaged)
    (e,) = r.errors
    assert e.claim_id == cut_claim
    assert re.search(r"CLP03 [\d,.]+ - adjustments [\d,.]+ = [\d,.]+, but CLP04 = [\d,.]+", e.message)
    got = _rows(r.labelled)
    order = list(dict.fromkeys(intact.labelled["claim_id"]))
    assert list(dict.fromkeys(got["claim_id"])) == order[: order.index(cut_claim)]
    assert len(set(got["claim_id"])) >= 4
    want = _rows(intact.labelled)
    pd.testing.assert_frame_equal(
        got, want[want["claim_id"].isin(set(got["claim_id"]))].reset_index(drop=True)
    )


# --------------------------------------------------------------------------- 835 balance, unreadable claims


def _one_835(clps: list[str], bpr02: str, plb: list[str] = ()) -> str:
    body = ["BPR*I*" + bpr02 + "*C*CHK************20240101", "TRN*1*1*1234567890", "N1*PR*PAYER", "LX*1"]
    body += [*clps, *plb]
    isa = (
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
        "*240101*1200*^*00501*000000001*0*T*:"
    )
    gs = "GS*HP*A*B*20240101*1200*1*X*005010X221A1"
    segs = [isa, gs, "ST*835*0001", *body, f"SE*{len(body) + 2}*0001", "GE*1*1", "IEA*1*000000001"]
    return "~\n".join(segs) + "~\n"


CLAIMS = ["CLP*A1*1*100*80**12*X1", "SVC*HC:97110*100*80**1", "CAS*CO*45*20", "CLP*A2*1*50*50**12*X2"]


@pytest.mark.parametrize(
    ("bpr02", "plb", "figures"),
    [
        ("130.00", [], None),
        ("120.00", ["PLB*1234567893*20241231*WO:X1*10.00"], None),  # a 10.00 withholding
        ("125.00", [], "BPR02 = 125.00, but sum of CLP04 - sum of PLB = 130.00 (CLP04 130.00, PLB 0.00)"),
        (
            "130.00",
            ["PLB*1234567893*20241231*WO:X1*10.00*L6:X2*-2.50"],
            "BPR02 = 130.00, but sum of CLP04 - sum of PLB = 122.50 (CLP04 130.00, PLB 7.50)",
        ),
    ],
)
def test_835_transaction_balance_is_checked(tmp_path, bpr02, plb, figures):
    path = tmp_path / "bal.835"
    path.write_text(_one_835(CLAIMS, bpr02, plb))
    r = _remits(path)
    assert not r.errors and set(r.labelled["claim_id"]) == {"A1", "A2"}
    balance = [w for w in r.warnings if "balance" in w.message]
    if figures is None:
        assert not balance
    else:
        (w,) = balance
        assert w.message == f"the transaction does not balance: {figures}" and w.segment == 4  # the BPR
    assert len(r.warnings) == len(balance)


def test_malformed_amount_drops_only_its_claim(tmp_path):
    path = tmp_path / "amount.835"
    clps = [*CLAIMS[:1], "CLP*B1*1*70*7O**12*X3", "SVC*HC:97110*70*70**1", *CLAIMS[3:]]
    path.write_text(_one_835(clps, "130.00"))
    r = _remits(path)
    assert sorted(set(r.labelled["claim_id"])) == ["A1", "A2"]  # A2 after it is read too
    (e,) = r.errors
    assert e.claim_id == "B1" and "malformed amount CLP04='7O'" in e.message
    assert "malformed amount" in _remits(path, strict=True).errors[0].message


def test_an_835_line_with_an_empty_svc02_drops_that_line_not_its_claim(tmp_path, run, capsys):
    """A real payer's sample: one SVC of three has no charge (SVC02 empty). The line is dropped and
    named; the claim's two readable lines (paid 1,057.86 and 865.00) and the next claim are kept."""
    clps = [
        "CLP*C7*1*2372.86*1922.86**12*X7",
        "SVC*HC:E0260*1257.86*1057.86**1",
        "CAS*CO*45*200",
        "SVC*HC:E0271**0**1",
        "CAS*CO*45*250",
        "SVC*HC:E0305*865*865**1",
        *CLAIMS,
    ]
    path = tmp_path / "svc02.835"
    path.write_text(_one_835(clps, "2052.86"))
    r = _remits(path)
    kept = r.labelled[r.labelled["claim_id"] == "C7"].set_index("hcpcs_code")
    assert sorted(kept.index) == ["E0260", "E0305"]
    assert kept.loc["E0260", "paid_amount"] == pytest.approx(1057.86, abs=0.005)
    assert kept.loc["E0305", "paid_amount"] == pytest.approx(865.00, abs=0.005)
    assert set(r.labelled["claim_id"]) == {"C7", "A1", "A2"}
    (e,) = r.errors
    assert e.claim_id == "C7" and e.segment == 11 and e.lost == "line"
    assert e.message.startswith("service line E0271 of claim C7 dropped: missing amount SVC02")
    assert r.dropped_claims == [] and r.dropped_lines == [e]
    assert not [w for w in r.warnings if "balance" in w.message]  # its CAS still count in the claim's balance
    assert r.counts["remit_lines_dropped"] == 1 and r.counts["claims_dropped"] == 0

    code, out, err = run(["ingest-x12", "--remits", path, "--out", tmp_path / "t.csv"], capsys)
    assert code == 1 and "1 remit lines dropped" in out
    assert "0 claim(s) and 1 remit line(s) were dropped" in err.splitlines()[-1]
    assert "dropped: " in err and "service line E0271 of claim C7" in err
