"""The report's rework section: dollars by action and deadline week add up to the queue's, lines in
rank order, every cell escaped."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from denial_risk.report.html import build_report
from denial_risk.rework.queue import rework_queue

# the worklist report's own hand-built scored frame and HTML reader (tests/report/test_html.py)
_spec = importlib.util.spec_from_file_location(
    "_report_html_helpers", Path(__file__).with_name("test_html.py")
)
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
INJECTED, _dom, _scored_frame = _helpers.INJECTED, _helpers._dom, _helpers._scored_frame


@pytest.fixture(scope="module")
def queue():
    from denial_risk.synth.rework_team import simulate_rework

    world = simulate_rework(1500, 3, "2024-01-01", 12)
    q = rework_queue(world.frame, "2024-10-01")
    q.loc[0, "action_text"] = INJECTED  # claim data is untrusted text
    return q


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def test_rework_section_sums_and_order(queue, tmp_path):
    out = build_report(_scored_frame(), tmp_path / "r.html", rework=queue, top=10)
    html = out.read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    dom = _dom(html)
    by_action = dom.by_id("rework-by-action")
    rows = [[c.text() for c in tr.iter("td")] for tr in by_action.iter("tr") if list(tr.iter("td"))]
    total = sum(_money(r[2]) for r in rows)
    assert total == pytest.approx(queue["expected_recovery"].sum(), abs=len(rows))  # whole dollars shown
    assert sum(int(r[1]) for r in rows) == len(queue)
    weeks = dom.by_id("rework-by-week")
    week_rows = [[c.text() for c in tr.iter("td")] for tr in weeks.iter("tr") if list(tr.iter("td"))]
    acted = queue[queue["action"] != "no_rework"]
    assert sum(_money(r[-1]) for r in week_rows) == pytest.approx(
        acted["expected_recovery"].sum(), abs=len(week_rows)
    )
    lines = dom.by_id("rework-lines")
    ranks = [int(tr.iter("td").__next__().text()) for tr in lines.iter("tr") if list(tr.iter("td"))]
    assert ranks == list(range(1, 11))


def test_report_without_rework_has_no_section(tmp_path):
    html = build_report(_scored_frame(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="rework"' not in html


def test_a_file_that_is_not_a_queue_is_one_line(tmp_path, run, capsys):
    scored = tmp_path / "s.csv"
    _scored_frame().to_csv(scored, index=False)
    code, _, err = run(
        ["report", "--scored", scored, "--out", tmp_path / "r.html", "--rework", scored], capsys
    )
    assert code == 2 and "--rework" in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()
