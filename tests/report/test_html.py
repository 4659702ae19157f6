"""The HTML worklist report: contents, safety (no PHI, escaped text), errors, and a real browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from denial_risk.contract import facts, schema
from denial_risk.errors import UserError
from denial_risk.report import source as source_mod
from denial_risk.report.html import build_report

CHROMIUM = "/usr/bin/chromium"
INJECTED = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
PATIENT_IDS = [f"PHI-PATIENT-{i:04d}" for i in range(12)]


def _scored_frame() -> pd.DataFrame:
    """A small scored worklist, built by hand: the contract's columns, then the six added."""
    billed = [1200.0, 350.0, 980.5, 45.0, 2400.0, 610.0, 75.25, 1500.0, 220.0, 830.0, 99.99, 5000.0]
    prob = [0.62, 0.10, 0.41, 0.05, 0.33, 0.27, 0.90, 0.08, 0.55, 0.18, 0.02, 0.12]
    tiers = ["high", "low", "high", "low", "medium", "medium", "high", "low", "high", "medium", "low", "low"]
    reasons = [
        "no RT/LT on a sided knee orthosis (CO-4); no proof of delivery on file (CO-16)",
        "high billed amount for this code",
        "L1320 is not a valid HCPCS code (CO-181)",
        "",
        f"no prior authorization for a commercial plan (CO-197); {INJECTED}",
        "no letter of medical necessity on file (CO-50)",
        "no RT/LT on a sided knee orthosis (CO-4); KX missing where the policy requires it (CO-4)",
        "no proof of delivery on file (CO-16)",
        "diagnosis M5450 does not support a spinal orthosis (CO-11)",
        "no RT/LT on a sided knee orthosis (CO-4)",
        "",
        "no prior authorization for a commercial plan (CO-197) & more",
    ]
    actions = [
        "add RT or LT modifier → 12%; attach proof of delivery → 40%",
        "",
        "correct the HCPCS code → 9%",
        "",
        "obtain prior authorization → 7%",
        "attach letter of medical necessity → 11%",
        "add RT or LT modifier → 30%",
        "attach proof of delivery → 3%",
        "put a supporting diagnosis first → 20%",
        "add RT or LT modifier → 5%",
        "",
        "obtain prior authorization → 4%",
    ]
    n = len(billed)
    df = pd.DataFrame(
        {
            "claim_id": [f"CLM-{1000 + i}" for i in range(n)],
            "line_number": [1, 1, 2, 1, 1, 2, 1, 1, 1, 2, 1, 1],
            "service_date": pd.date_range("2025-03-01", periods=n, freq="7D"),
            "payer_type": [
                "medicare",
                "commercial",
                "medicaid",
                "medicare",
                "commercial",
                "medicare_advantage",
                "medicare",
                "commercial",
                "medicaid",
                "medicare",
                "other",
                "commercial",
            ],
            "patient_id": PATIENT_IDS,
            "hcpcs_code": [
                "L1832",
                "E0601",
                "L1320",
                "A4253",
                "L0650",
                "L0627",
                "L1833",
                "K0001",
                "L0454",
                "L1851",
                "A4253",
                "E1390",
            ],
            "modifiers": ["", "NU", "", "", "", "KX", "", "RR", "", "LT", "", ""],
            "diagnosis_codes": [
                "M1711",
                "G4733",
                "M5450",
                "E119",
                "M4806",
                "M5450",
                "M1712",
                "G8220",
                "M5450",
                "M2351",
                "E119",
                "J9611",
            ],
            "billed_amount": billed,
            "denial_probability": prob,
        }
    )
    df["expected_loss"] = df["billed_amount"] * df["denial_probability"]
    order = np.lexsort((-df["denial_probability"].to_numpy(), -df["expected_loss"].to_numpy()))
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    df["risk_rank"] = rank
    df["risk_tier"] = tiers
    df["top_reasons"] = reasons
    df["recommended_actions"] = actions
    return df


# --------------------------------------------------------------------------- a tiny DOM


class _Node:
    def __init__(self, tag: str, attrs: dict, parent: _Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[_Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None):
        for c in self.children:
            if isinstance(c, _Node):
                if tag is None or c.tag == tag:
                    yield c
                yield from c.iter(tag)

    def by_id(self, id_: str) -> _Node | None:
        return next((n for n in self.iter() if n.attrs.get("id") == id_), None)


class _DomBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = _Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = _Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def _dom(html: str) -> _Node:
    b = _DomBuilder()
    b.feed(html)
    b.close()
    return b.root


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# --------------------------------------------------------------------------- the report's content


@pytest.fixture()
def scored() -> pd.DataFrame:
    return _scored_frame()


def test_huge_amounts_never_sum_to_inf(scored, tmp_path):
    """Two 1e308 amounts (which `score` rejects) in a scored file: counted as unknown, sums finite."""
    huge = scored.copy()
    huge.loc[[0, 1], "billed_amount"] = 1e308
    huge.loc[[0, 1], "expected_loss"] = 1e308
    path = tmp_path / "w.csv"
    huge.to_csv(path, index=False)
    html = build_report(path, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "inf" not in re.sub(r"<[^>]+>|data:image/png;base64,[^\"]+|informa|infor", "", html).lower()
    root = _dom(html)
    rest = scored.iloc[2:]
    assert _norm(root.by_id("total-billed").text()) == f"${rest['billed_amount'].sum():,.0f}"
    assert _norm(root.by_id("total-at-risk").text()) == f"${rest['expected_loss'].sum():,.0f}"


def test_report_is_one_self_contained_file(scored, tmp_path):
    out = build_report(scored, tmp_path / "r.html")
    assert out == tmp_path / "r.html"
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()  # no scripts of ours, and claim text escaped
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", html), "external resource"
    assert "<link" not in html.lower()
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
    assert len(srcs) >= 2
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    for s in srcs:
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary left behind


def test_no_patient_id_and_escaped_claim_text(scored, tmp_path):
    html = build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8")
    for pid in PATIENT_IDS:
        assert pid not in html
    assert "patient_id" not in html.replace("Patient identifiers are not included", "")
    assert INJECTED not in html
    assert "&lt;script&gt;document.title=" in html
    assert "onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "commercial plan (CO-197) &amp; more" in html


def test_totals_tiers_and_groups_match_the_data(scored, tmp_path):
    root = _dom(build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert _norm(root.by_id("total-lines").text()) == f"{len(scored):,}"
    assert _norm(root.by_id("total-billed").text()) == f"${scored['billed_amount'].sum():,.0f}"
    assert _norm(root.by_id("total-at-risk").text()) == f"${scored['expected_loss'].sum():,.0f}"

    tiers = {
        r.attrs["data-tier"]: [_norm(td.text()) for td in r.iter("td")]
        for r in root.by_id("tiers").iter("tr")
        if "data-tier" in r.attrs
    }
    assert list(tiers) == ["high", "medium", "low"]
    for tier, cells in tiers.items():
        part = scored[scored["risk_tier"] == tier]
        assert cells[1] == f"{len(part):,}"
        assert cells[3] == f"${part['billed_amount'].sum():,.0f}"
        assert cells[4] == f"${part['expected_loss'].sum():,.0f}"

    payer_rows = {
        (_cells := [_norm(td.text()) for td in r.iter("td")])[0]: _cells
        for r in root.by_id("payer-table").iter("tr")
        if list(r.iter("td"))
    }
    for payer, part in scored.groupby("payer_type"):
        assert payer_rows[payer][1] == f"{len(part):,}"
        assert payer_rows[payer][3] == f"${part['expected_loss'].sum():,.0f}"


def test_reasons_and_carcs_are_counted_per_line(scored, tmp_path):
    root = _dom(build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8"))
    reasons = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[1].text())
        for r in root.by_id("reasons-table").iter("tr")
        if list(r.iter("td"))
    }
    assert reasons["no RT/LT on a sided knee orthosis (CO-4)"] == "3"
    assert reasons["no proof of delivery on file (CO-16)"] == "2"
    carcs = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[2].text())
        for r in root.by_id("carcs-table").iter("tr")
        if list(r.iter("td"))
    }
    # line 7 names CO-4 twice: counted once
    assert carcs["CO-4"] == "3"
    assert carcs["CO-197"] == "2"
    assert carcs["CO-16"] == "2"
    fixes = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[1].text())
        for r in root.by_id("actions-table").iter("tr")
        if list(r.iter("td"))
    }
    assert fixes["add RT or LT modifier"] == "3"  # the "→ 12%" tails are stripped before counting


def test_predicted_carc_column_is_used_when_present(scored, tmp_path):
    scored["predicted_carc"] = [
        "CO-4",
        "",
        "CO-181",
        None,
        "CO-197",
        "CO-50",
        "CO-4",
        "CO-16",
        "CO-11",
        "CO-4",
        "",
        "co-197",
    ]
    root = _dom(build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8"))
    carcs = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[2].text())
        for r in root.by_id("carcs-table").iter("tr")
        if list(r.iter("td"))
    }
    assert carcs["CO-4"] == "3" and carcs["CO-197"] == "2" and carcs["CO-16"] == "1"


REMARKS = ["N19|MA130", "", "M38", None, "n19", "N362|N19", "ZZ999", "", "N19|N19", "MA130", "", ""]


@pytest.mark.parametrize("ext", ["frame", "csv", "parquet"])
def test_remark_codes_are_listed_with_their_x12_descriptions(scored, tmp_path, ext):
    scored["remark_codes"] = REMARKS
    if ext == "frame":
        src = scored
    else:
        src = tmp_path / f"scored.{ext}"
        scored.to_csv(src, index=False) if ext == "csv" else scored.to_parquet(src, index=False)
    root = _dom(build_report(src, tmp_path / "r.html").read_text(encoding="utf-8"))
    rows = {
        _norm(list(r.iter("td"))[0].text()): [_norm(td.text()) for td in r.iter("td")]
        for r in root.by_id("remarks-table").iter("tr")
        if list(r.iter("td"))
    }
    assert list(rows)[:2] == ["N19", "MA130"]  # most lines first; `n19` counts as N19, twice on a line once
    assert rows["N19"][2] == "4" and rows["MA130"][2] == "2" and rows["M38"][2] == "1"
    assert rows["N19"][1] == "Procedure code incidental to primary procedure."
    assert rows["N362"][1] == "The number of Days or Units of Service exceeds our acceptable maximum."
    assert rows["ZZ999"][1] == "not in the RARC list"
    n19 = [i for i, v in enumerate(REMARKS) if v and "N19" in v.upper()]
    assert rows["N19"][4] == f"${scored['expected_loss'].iloc[n19].sum():,.0f}"


def test_remark_codes_section_only_with_the_column(scored, tmp_path):
    html = build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Remark codes" not in html
    scored["remark_codes"] = ""
    root = _dom(build_report(scored, tmp_path / "r2.html").read_text(encoding="utf-8"))
    assert root.by_id("remarks-table") is None
    assert "No line has a remark code" in root.by_id("remarks-note").text()


def test_no_carcs_anywhere_is_a_note(scored, tmp_path):
    scored["top_reasons"] = scored["top_reasons"].str.replace(r"\s*\(CO-\d+\)", "", regex=True)
    html = build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8")
    root = _dom(html)
    assert root.by_id("carcs-table") is None
    assert "no reason names a CARC" in _norm(root.by_id("carcs-note").text())


def test_worklist_head_follows_risk_rank(scored, tmp_path):
    root = _dom(build_report(scored, tmp_path / "r.html", top=5).read_text(encoding="utf-8"))
    rows = [r for r in root.by_id("worklist").iter("tr") if list(r.iter("td"))]
    assert len(rows) == 5
    expect = scored.sort_values("risk_rank").head(5)
    for row, (_, line) in zip(rows, expect.iterrows()):
        cells = [_norm(td.text()) for td in row.iter("td")]
        assert cells[0] == str(line["risk_rank"])
        assert cells[1] == line["claim_id"]
        assert cells[6] == f"{line['denial_probability'] * 100:.1f}%"
        assert cells[7] == f"${line['expected_loss']:,.2f}"


def test_policy_group_column_or_lookup_or_note(scored, tmp_path, monkeypatch):
    with_col = scored.assign(policy_group=["knee_orthosis"] * 6 + ["spinal_orthosis"] * 6)
    root = _dom(build_report(with_col, tmp_path / "a.html").read_text(encoding="utf-8"))
    names = [
        _norm(list(r.iter("td"))[0].text())
        for r in root.by_id("policy-table").iter("tr")
        if list(r.iter("td"))
    ]
    assert sorted(names) == ["knee_orthosis", "spinal_orthosis"]

    # no column, and no policy table available: the section is a note, not a failure
    def unavailable(codes):
        raise FileNotFoundError("no policy table in this test")

    monkeypatch.setattr(facts, "policy_group_label", unavailable)
    root = _dom(build_report(scored, tmp_path / "b.html").read_text(encoding="utf-8"))
    assert root.by_id("policy-table") is None
    assert "no policy table in this test" in root.by_id("policy-note").text()

    # a policy lookup that fails is a note too
    def broken(codes):
        raise RuntimeError("table missing")

    monkeypatch.setattr(facts, "policy_group_label", broken)
    root = _dom(build_report(scored, tmp_path / "c.html").read_text(encoding="utf-8"))
    assert "table missing" in root.by_id("policy-note").text()

    # a lookup giving each code's group, aligned on the codes
    def lookup(codes):
        return pd.Series(
            ["orthosis" if str(c).startswith("L") else facts.NO_POLICY for c in codes],
            index=codes.index,
            dtype="string",
        )

    monkeypatch.setattr(facts, "policy_group_label", lookup)
    root = _dom(build_report(scored, tmp_path / "d.html").read_text(encoding="utf-8"))
    names = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[1].text())
        for r in root.by_id("policy-table").iter("tr")
        if list(r.iter("td"))
    }
    assert names == {"orthosis": "7", "(no policy)": "5"}


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_files_read_only_the_needed_columns_and_match_the_frame(scored, tmp_path, ext):
    path = tmp_path / f"scored.{ext}"
    if ext == "csv":
        scored.to_csv(path, index=False)
    else:
        scored.to_parquet(path, index=False)
    source, frames, used = source_mod.open_scored(path)
    assert "patient_id" not in used and "service_date" not in used and "diagnosis_codes" not in used
    first = next(frames)
    assert list(first.columns) == used
    strip = re.compile(r"generated [^&]+")
    from_file = strip.sub("", build_report(path, tmp_path / "f.html", title="t").read_text(encoding="utf-8"))
    from_frame = strip.sub(
        "", build_report(scored, tmp_path / "g.html", title="t").read_text(encoding="utf-8")
    )
    from_file = from_file.replace(path.name, "scored frame")
    assert _dom(from_file).by_id("total-billed").text() == _dom(from_frame).by_id("total-billed").text()
    assert _dom(from_file).by_id("worklist").text() == _dom(from_frame).by_id("worklist").text()
    assert _dom(from_file).by_id("reasons-table").text() == _dom(from_frame).by_id("reasons-table").text()


def test_csv_amounts_with_dollar_signs(scored, tmp_path):
    path = tmp_path / "scored.csv"
    scored.assign(billed_amount=[f"${v:,.2f}" for v in scored["billed_amount"]]).to_csv(path, index=False)
    root = _dom(build_report(path, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert _norm(root.by_id("total-billed").text()) == f"${scored['billed_amount'].sum():,.0f}"


def test_empty_worklist_still_renders(scored, tmp_path):
    path = tmp_path / "empty.parquet"
    scored.head(0).to_parquet(path, index=False)
    root = _dom(build_report(path, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert _norm(root.by_id("total-lines").text()) == "0"


def test_csv_with_bom_and_crlf_reads_like_the_frame(scored, tmp_path):
    path = tmp_path / "scored.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        scored.to_csv(fh, index=False, lineterminator="\r\n")
    strip = re.compile(r"generated [^&]+")
    from_file = strip.sub("", build_report(path, tmp_path / "f.html", title="t").read_text(encoding="utf-8"))
    from_frame = strip.sub(
        "", build_report(scored, tmp_path / "g.html", title="t").read_text(encoding="utf-8")
    )
    assert from_file.replace(path.name, "scored frame") == from_frame


def test_parquet_amounts_as_text_with_dollars_and_commas(scored, tmp_path):
    path = tmp_path / "scored.parquet"
    scored.assign(billed_amount=[f"${v:,.2f}" for v in scored["billed_amount"]]).to_parquet(path, index=False)
    root = _dom(build_report(path, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert _norm(root.by_id("total-billed").text()) == f"${scored['billed_amount'].sum():,.0f}"
    assert "$5,000.00" in _norm(root.by_id("worklist").text())


def test_the_template_is_package_data():
    from importlib.resources import files

    assert files("denial_risk.report").joinpath("templates", "report.html.j2").is_file()


def test_carc_meanings_are_the_worklists_words(scored, tmp_path):
    from denial_risk.biller.wording import carc_words

    scored["predicted_carc"] = ["CO-4", "CO-96", "CO-197", "", "CO-4", "", "", "", "", "", "", ""]
    root = _dom(build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8"))
    meanings = {
        _norm(list(r.iter("td"))[0].text()): _norm(list(r.iter("td"))[1].text())
        for r in root.by_id("carcs-table").iter("tr")
        if list(r.iter("td"))
    }
    assert meanings["CO-4"] == carc_words("CO-4")
    assert meanings["CO-4"] == "procedure inconsistent with modifier, or a required modifier missing"
    assert meanings["CO-197"] == carc_words("197")
    assert meanings["CO-96"] == carc_words("CO-96") != ""  # no short phrase of ours: the X12 description


def test_policy_groups_are_looked_up_once_per_distinct_code(scored, tmp_path, monkeypatch):
    asked, label = [], facts.policy_group_label

    def lookup(codes):
        asked.extend(codes.tolist())
        return label(codes)

    monkeypatch.setattr(facts, "policy_group_label", lookup)
    monkeypatch.setattr(source_mod, "_BATCH_ROWS", 5)  # three chunks
    root = _dom(build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8"))
    assert sorted(asked) == sorted(scored["hcpcs_code"].unique())
    assert root.by_id("policy-table") is not None


# --------------------------------------------------------------------------- the user's mistakes


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="nope.csv"):
        build_report(tmp_path / "nope.csv", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("ext", ["csv", "parquet", "frame"])
def test_missing_scored_column_is_a_user_error(scored, tmp_path, ext):
    bad = scored.drop(columns=["expected_loss"])
    target: object = bad
    if ext != "frame":
        target = tmp_path / f"bad.{ext}"
        bad.to_csv(target, index=False) if ext == "csv" else bad.to_parquet(target, index=False)
    with pytest.raises(UserError, match="expected_loss"):
        build_report(target, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_empty_file_is_a_user_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="empty.csv: empty file"):
        build_report(path, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_a_score_column_that_is_not_numeric_is_a_user_error(scored, tmp_path):
    path = tmp_path / "scored.csv"
    scored.assign(expected_loss=["n/a"] + scored["expected_loss"].tolist()[1:]).to_csv(path, index=False)
    with pytest.raises(UserError, match="'expected_loss' is not numeric"):
        build_report(path, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_unreadable_file_is_a_user_error_and_keeps_the_old_report(tmp_path, scored):
    out = tmp_path / "r.html"
    out.write_text("old report")
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(UserError, match="broken.parquet"):
        build_report(bad, out)
    assert out.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.parquet", "r.html"]


def test_cli_report_and_its_exit_codes(scored, tmp_path, capsys):
    from denial_risk.cli import main

    path = tmp_path / "scored.parquet"
    scored.to_parquet(path, index=False)
    out = tmp_path / "r.html"
    main(["report", "--scored", str(path), "--out", str(out)])
    assert out.exists() and "report written" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exc:
        main(["report", "--scored", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "x.html")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "missing.parquet" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.html").exists()


# --------------------------------------------------------------------------- in a real browser


def _chromium_dom(html_path: Path) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.browser
@pytest.mark.skipif(
    (not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None) and not os.environ.get("CI"),
    reason="headless Chromium (/usr/bin/chromium) is not installed; .ci/install-chromium.sh does it",
)
def test_report_renders_in_headless_chromium(scored, tmp_path):
    out = build_report(scored, tmp_path / "report.html", title="Browser check")
    dom_html = _chromium_dom(out)
    root = _dom(dom_html)

    title = next(root.iter("title")).text()
    assert title == "Browser check"  # the injected script did not run (it would set "pwned")
    assert "pwned" not in title

    first = scored.sort_values("risk_rank").iloc[0]
    rows = [r for r in root.by_id("worklist").iter("tr") if list(r.iter("td"))]
    cells = list(rows[0].iter("td"))
    assert _norm(cells[1].text()) == first["claim_id"]
    shown_reasons = [_norm(li.text()) for li in cells[9].iter("li")]
    assert shown_reasons == [r.strip() for r in first["top_reasons"].split("; ")]
    shown_actions = [_norm(li.text()) for li in cells[10].iter("li")]
    assert shown_actions == [a.strip() for a in first["recommended_actions"].split("; ")]

    assert _norm(root.by_id("total-lines").text()) == f"{len(scored):,}"
    assert _norm(root.by_id("total-billed").text()) == f"${scored['billed_amount'].sum():,.0f}"
    assert _norm(root.by_id("total-at-risk").text()) == f"${scored['expected_loss'].sum():,.0f}"

    # the injected reason is shown as text, and no script element exists in the page
    assert not list(root.iter("script"))
    injected_row = scored.loc[scored["top_reasons"].str.contains("<script>", regex=False)].iloc[0]
    row = next(r for r in rows if _norm(list(r.iter("td"))[1].text()) == injected_row["claim_id"])
    assert INJECTED in [li.text() for li in list(row.iter("td"))[9].iter("li")]
    imgs = list(root.iter("img"))
    assert imgs and all(i.attrs["src"].startswith("data:image/png;base64,") for i in imgs)
    assert all(i.attrs.get("src") != "x" for i in imgs)

    for pid in PATIENT_IDS:
        assert pid not in dom_html


def _table(root, table_id: str) -> list[list]:
    rows = []
    for r in root.by_id(table_id).iter("tr"):
        cells = list(r.iter("td"))
        if cells:
            rows.append([_norm(td.text()) for td in cells] + [cells[-1]])
    return rows


def _dollars(cell: str) -> float:
    return float(cell.replace("$", "").replace(",", ""))


def test_item_tables_sorted_and_barred_by_dollars_reasons_apart_from_codes(scored, tmp_path):
    """Reasons, codes and fixes: most dollars at risk first; each bar is the row's share of all dollars
    at risk, labelled; likely codes only in their own table; a combination counts under each reason."""
    scored.loc[0, "top_reasons"] = (
        "no standard written order or proof of delivery on file; the modifiers on the line (LT) "
        "(raises the risk by 43 points); likely CO-4: procedure inconsistent with modifier"
    )
    scored.loc[1, "top_reasons"] = "no proof of delivery on file; likely CO-16: claim lacks information"
    scored.loc[2, "top_reasons"] = "documents not recorded: standard written order, photos (+24 points)"
    html = build_report(scored, tmp_path / "r.html").read_text(encoding="utf-8")
    root = _dom(html)
    total = scored["expected_loss"].sum()
    loss = scored["expected_loss"].to_numpy()
    for table_id, at in (("reasons-table", 3), ("carcs-table", 4), ("actions-table", 3)):
        rows = _table(root, table_id)
        dollars = [_dollars(r[at]) for r in rows]
        assert dollars == sorted(dollars, reverse=True), (table_id, dollars)
        for r, d in zip(rows, dollars):
            (bar,) = list(r[-1].iter("span"))[:1]
            width = float(re.search(r"width:([\d.]+)%", bar.attrs["style"]).group(1))
            assert width == pytest.approx(100 * d / total, abs=0.1 + 100 * 0.5 / total)  # $0 rounding
            assert r[-2].endswith("%")  # the label
    reasons = {r[0]: r for r in _table(root, "reasons-table")}
    assert not [k for k in reasons if k.startswith("likely ")]
    # line 0 counts under both of its documents; line 1 and 7 ("... (CO-16)") name proof of delivery alone
    assert reasons["no standard written order on file"][1] == "1"
    assert reasons["no proof of delivery on file"][1] == "2"
    assert _dollars(reasons["no proof of delivery on file"][3]) == pytest.approx(loss[0] + loss[1], abs=0.5)
    assert "the modifiers on the line (LT)" in reasons  # counted without the line's own points
    assert {"standard written order not recorded", "photos not recorded"} <= set(reasons)
    assert "recovers most of the money" not in html and "denial-risk monitor --remits" in html


# --------------------------------------------------------------------------- the claims to hold


def _claim_table() -> pd.DataFrame:
    """A claim worklist as `score` writes it beside the scored file (schema.CLAIM_COLUMNS), by hand."""
    return pd.DataFrame(
        {
            "claim_id": ["CLM-9003", "CLM-9001", "CLM-9002"],
            "payer_id": ["MA101", "MCRJD", "COM301"],
            "payer_type": ["medicare_advantage", "medicare", "commercial"],
            "first_service_date": ["2026-01-02", "2026-01-05", "2026-01-09"],
            "lines": [3, 2, 1],
            "billed_amount": [4000.0, 900.0, 120.0],
            "claim_denial_probability": [0.71, 0.35, 0.05],
            "expected_loss": [2500.0, 300.0, 6.0],
            "claim_rank": [1, 2, 3],
            "risk_tier": ["high", "medium", "low"],
            "lines_at_risk": ["1|2|3", "2", ""],
            "top_reasons": [
                "line 4 rejected: service_date: unparseable; no standard written order on file (lines 1-3)",
                f"no prior authorization (line 2); {INJECTED} (line 1)",
                "",
            ],
            "recommended_actions": ["attach the standard written order (SWO) (lines 1-3) → 9%", "", ""],
        }
    )[list(schema.CLAIM_COLUMNS)]


@pytest.fixture()
def scored_with_claims(scored, tmp_path):
    path = tmp_path / "worklist.csv"
    scored.to_csv(path, index=False)
    _claim_table().to_csv(schema.claims_path_for(str(path)), index=False)
    return path


def test_claims_to_hold_show_the_claim_worklist_beside_the_file(scored_with_claims, scored, tmp_path):
    out = build_report(scored_with_claims, tmp_path / "r.html", top_claims=2)
    root = _dom(out.read_text())
    rows = [r for r in root.by_id("claims").iter("tr") if list(r.iter("td"))]
    assert [_norm(list(r.iter("td"))[1].text()) for r in rows] == ["CLM-9003", "CLM-9001"]  # the first 2
    tiers = {
        r.attrs["data-tier"]: [_norm(td.text()) for td in r.iter("td")]
        for r in root.by_id("claim-tiers").iter("tr")
        if "data-tier" in r.attrs
    }
    assert tiers["high"][1:4] == ["1", "$4,000", "$2,500"] and tiers["low"][1] == "1"
    # without the file beside it, no section (a frame, or a worklist scored before claims were ranked)
    assert (
        build_report(scored, tmp_path / "r2.html")
        and "claims-to-hold" not in (tmp_path / "r2.html").read_text()
    )


@pytest.mark.browser
@pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None,
    reason="headless Chromium (/usr/bin/chromium) is not installed; .ci/install-chromium.sh does it",
)
def test_claims_to_hold_render_in_headless_chromium(scored_with_claims, tmp_path):
    out = build_report(scored_with_claims, tmp_path / "report.html", title="Claims check")
    root = _dom(_chromium_dom(out))
    assert next(root.iter("title")).text() == "Claims check"  # the injected script did not run
    assert not list(root.iter("script"))
    section = root.by_id("claims-to-hold")
    assert section is not None and "3 claims" in _norm(next(section.iter("h2")).text())
    claims = _claim_table()
    rows = [r for r in root.by_id("claims").iter("tr") if list(r.iter("td"))]
    assert len(rows) == 3
    first = list(rows[0].iter("td"))
    assert _norm(first[1].text()) == "CLM-9003" and _norm(first[4].text()) == "1, 2, 3"
    assert _norm(first[5].text()) == "$4,000.00" and _norm(first[6].text()) == "71.0%"
    assert [_norm(li.text()) for li in first[9].iter("li")] == claims["top_reasons"][0].split("; ")
    fixes = [_norm(li.text()) for li in first[10].iter("li")]
    assert fixes == ["attach the standard written order (SWO) (lines 1-3) → 9%"]
    second = list(rows[1].iter("td"))
    assert INJECTED + " (line 1)" in [li.text() for li in second[9].iter("li")]  # shown as text
