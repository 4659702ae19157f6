"""Unreadable files and (with --strict) files with envelope defects are named with their reason and never
stop the others; a malformed amount drops only its claim; reversals; the CLI's exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from denial_risk.testing import make_claims
from denial_risk.x12 import ingest, write_835, write_837p

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "x12"
GOOD_835 = FIX / "pyx12" / "835_mult_loops.txt"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    t = make_claims(30, seed=9)
    write_837p(t, d / "claims.837")
    write_835(t, d / "remits.835")
    return d, (d / "claims.837").read_text(), len(t)


def _run(tmp_path: Path, name: str, text: str, good_dir: Path, strict: bool = False):
    bad = tmp_path / name
    bad.write_text(text)
    return ingest([good_dir / "claims.837", bad], [good_dir / "remits.835"], strict=strict), bad


def _assert_named(r, bad: Path, n_good: int, pattern: str):
    assert [(p.file, p.severity, p.segment) for p in r.errors] == [(str(bad), "error", None)]
    assert r.bad_files == r.errors
    assert re.search(pattern, r.errors[0].message, re.I), r.errors[0].message
    assert r.counts["bad_files"] == 1
    assert len(r.labelled) == n_good  # the good files are still read and joined


settings_ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@settings_
@given(cut=st.floats(0.0, 0.97))
def test_truncated_envelope_strict(good, tmp_path, cut):
    d, text, n = good
    end = text.rindex("IEA*")
    r, bad = _run(tmp_path, "truncated.837", text[: int(end * cut)], d, strict=True)
    _assert_named(r, bad, n, r"truncated|not an X12|missing|ISA")


@settings_
@given(delta=st.integers(-5, 5).filter(lambda x: x != 0), which=st.sampled_from(["SE", "GE", "IEA"]))
def test_wrong_segment_counts(good, tmp_path, delta, which):
    d, text, n = good
    m = re.search(rf"(?m)^{which}\*(\d+)\*", text)
    wrong = max(0, int(m.group(1)) + delta)
    if wrong == int(m.group(1)):
        return
    mutated = text[: m.start(1)] + str(wrong) + text[m.end(1) :]
    r, bad = _run(tmp_path, "counts.837", mutated, d, strict=True)
    _assert_named(r, bad, n, r"count")
    # lenient (the default): a warning naming the count, and the file's claims are read
    r, bad = _run(tmp_path, "counts.837", mutated, d)
    assert not r.errors and r.counts["bad_files"] == 0
    (w,) = r.warnings
    assert w.file == str(bad) and w.message.startswith(f"{which}01") and w.segment is not None
    assert r.counts["claims"] == 2 * make_claims(30, seed=9)["claim_id"].nunique()


@settings_
@given(
    junk=st.text(alphabet="0123456789.,$abcXYZ- ", min_size=1, max_size=8).filter(
        lambda s: not re.fullmatch(r"\s*-?(\d+\.?\d*|\.\d+)\s*", s)
    ),
    target=st.sampled_from(["SV1", "CLM"]),
)
def test_malformed_amounts(good, tmp_path, junk, target):
    d, text, n = good
    m = re.search(rf"(?m)^{target}\*[^*]*\*([^*~]+)", text)
    mutated = text[: m.start(1)] + junk + text[m.end(1) :]
    r, bad = _run(tmp_path, "amount.837", mutated, d, strict=True)
    _assert_named(r, bad, n, r"amount")
    # lenient: only the claim with the bad amount (the file's first) is dropped, and named
    r, bad = _run(tmp_path, "amount.837", mutated, d)
    first = re.search(r"(?m)^CLM\*([^*]+)\*", text).group(1)
    (e,) = r.errors
    assert (e.file, e.claim_id) == (str(bad), first) and "amount" in e.message
    assert r.counts["claims"] == 2 * make_claims(30, seed=9)["claim_id"].nunique() - 1


@settings_
@given(code=st.sampled_from(["270", "271", "276", "277", "834", "999", "820"]))
def test_unknown_transaction(good, tmp_path, code):
    d, text, n = good
    for strict in (False, True):  # a file with nothing but other transaction sets yields nothing
        r, bad = _run(tmp_path, "unknown.837", text.replace("ST*837*", f"ST*{code}*"), d, strict)
        _assert_named(r, bad, n, r"unknown transaction")
    # one such transaction among 837s: skipped with a warning (strict: the file is bad)
    one = text.replace("ST*837*", f"ST*{code}*", 1)
    r, bad = _run(tmp_path, "mixed.837", one, d, strict=True)
    _assert_named(r, bad, n, r"unknown transaction")
    r, bad = _run(tmp_path, "mixed.837", one, d)
    assert not r.errors
    (w,) = r.warnings
    assert w.transaction == "0001" and f"unknown transaction set '{code}'" in w.message
    assert r.counts["claims"] == 2 * make_claims(30, seed=9)["claim_id"].nunique() - 1


def test_not_x12_and_empty_files(good, tmp_path):
    d, _, n = good
    for name, text in (("notes.txt", "hello, this is not X12"), ("empty.837", ""), ("st.txt", "STOP")):
        for strict in (False, True):
            r, bad = _run(tmp_path, name, text, d, strict)
            _assert_named(r, bad, n, r"not an X12")


def _one_835(clps: list[str]) -> str:
    body = [
        "BPR*I*0*C*CHK************20240101",
        "TRN*1*1*1234567890",
        "N1*PR*PAYER",
        "N1*PE*P*XX*1234567893",
        "LX*1",
        *clps,
    ]
    segs = ["ST*835*0001", *body, f"SE*{len(body) + 2}*0001"]
    isa = (
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              "
        "*240101*1200*^*00501*000000001*0*T*:"
    )
    return (
        "~\n".join([isa, "GS*HP*A*B*20240101*1200*1*X*005010X221A1", *segs, "GE*1*1", "IEA*1*000000001"])
        + "~\n"
    )


def test_reversal_does_not_count_twice(tmp_path):
    f = tmp_path / "rev.835"
    f.write_text(
        _one_835(
            [
                "CLP*R1*1*100*100**12*X1",
                "SVC*HC:L0627*100*100**1",
                "CLP*R1*22*-100*-100**12*X1",
                "SVC*HC:L0627*-100*-100**1",
                "CLP*R1*1*100*0**12*X2",
                "SVC*HC:L0627*100*0**1",
                "CAS*CO*16*100",
                "CLP*R2*22*-50*-50**12*X3",
                "SVC*HC:L0627*-50*-50**1",
            ]
        )
    )
    r = ingest([], [f])
    assert not r.errors
    assert r.counts["reversals_applied"] == 1 and r.counts["reversals_without_original"] == 1
    df = r.labelled
    assert list(df["claim_id"]) == ["R1"]  # one adjudication left: the corrected one
    assert bool(df["denied"].iloc[0]) and df["denial_reason"].iloc[0] == "CO-16"


def test_all_deductible_zero_payment_is_not_denied(tmp_path):
    f = tmp_path / "ded.835"
    f.write_text(
        _one_835(
            [
                "CLP*D1*1*80*0*80*12*X1",
                "SVC*HC:97760*80*0**1",
                "CAS*PR*1*80",
                "CLP*D2*1*80*0*0*12*X2",
                "SVC*HC:97760*80*0**1",
                "CAS*CO*45*80",
            ]
        )
    )
    df = ingest([], [f]).labelled
    assert not df["denied"].any()


def _cli(args):
    from denial_risk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        return exc.code
    return 0


def test_cli_bad_file_exit_1_writes_the_rest(good, tmp_path, capsys):
    d, text, n = good
    bad = tmp_path / "bad.837"
    bad.write_text(text.replace("ST*837*", "ST*270*"))
    out = tmp_path / "out" / "labels.csv"
    code = _cli(
        [
            "ingest-x12",
            "--claims",
            str(d / "claims.837"),
            "--claims",
            str(bad),
            "--remits",
            str(d / "remits.835"),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert str(bad) in err and "unknown transaction" in err
    assert len(pd.read_csv(out)) == n
    errors = pd.read_csv(tmp_path / "out" / "labels.errors.csv")
    assert list(errors["file"]) == [str(bad)] and list(errors["severity"]) == ["error"]
    assert errors["segment"].isna().all()  # the whole file
    assert (tmp_path / "out" / "labels.unlabelled.csv").exists()
    assert (tmp_path / "out" / "labels.summary.json").exists()


def test_cli_missing_file_exit_2(tmp_path, capsys):
    out = tmp_path / "labels.parquet"
    code = _cli(["ingest-x12", "--claims", str(tmp_path / "nope.837"), "--out", str(out)])
    assert code == 2
    assert "nope.837" in capsys.readouterr().err
    assert not out.exists()


def test_cli_parquet_and_no_patient_identifiers_in_output(good, tmp_path, capsys):
    d, _, n = good
    out = tmp_path / "labels.parquet"
    assert _cli(["ingest-x12", "--claims", str(d), "--remits", str(d), "--out", str(out)]) == 0
    df = pd.read_parquet(out)
    assert len(df) == n
    text = capsys.readouterr()
    members = set(make_claims(30, seed=9)["patient_id"])
    assert not members & set(df["patient_id"])
    assert not any(m in text.out + text.err for m in members)
