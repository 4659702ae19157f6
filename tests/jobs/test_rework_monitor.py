"""`monitor --rework`: predicted against realised recovery, the realised side counted as the world says."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_monitor_counts_what_the_later_remits_show(tmp_path, mlflow_store, run, capsys):
    from denial_risk.rework.queue import rework_queue
    from denial_risk.synth.rework_team import simulate_rework
    from denial_risk.synth.rework_x12 import write_rework_x12
    from denial_risk.tableio.files import write_table
    from denial_risk.x12 import ingest

    world = simulate_rework(2500, 6, "2024-01-01", 12)
    x12 = tmp_path / "x12"
    write_rework_x12(world, x12)
    first = ingest([x12 / "claims.837"], [x12 / "remits.835"]).labelled
    later = ingest(sorted(x12.glob("*.837")), sorted(x12.glob("*.835"))).labelled
    queue = rework_queue(first.assign(denied=first["denied"].astype(bool)), "2024-01-01")
    qpath, lpath = tmp_path / "queue.csv", tmp_path / "later.csv"
    write_table(queue, qpath)
    write_table(later, lpath)
    code, out, err = run(["monitor", "--rework", qpath, "--remits", lpath], capsys)
    assert code == 0, err
    # the world's own count: queued lines the team recovered in a way an 835 shows
    w = world.work
    shown = w["recovered"] & w["mode"].isin(["reversal", "replacement", "resubmission"])
    frame = world.frame
    won = set(
        zip(frame.loc[w.index[shown], "claim_id"], frame.loc[w.index[shown], "line_number"], strict=True)
    )
    acted = queue[queue["action"] != "no_rework"]
    expected = sum((c, int(n)) in won for c, n in zip(acted["claim_id"], acted["line_number"], strict=True))
    assert expected > 0
    assert f"{len(acted)} queued lines with an outcome" in out
    import mlflow

    (run_,) = mlflow.search_runs(experiment_names=["denial-risk/monitoring"], output_format="list")
    m = run_.data.metrics
    assert m["rework_lines_with_outcome"] == len(acted)
    assert np.isclose(m["rework_realised_rate"] * len(acted), expected, atol=1e-6)
    assert np.isclose(m["rework_predicted_dollars"], acted["expected_recovery"].sum(), rtol=1e-6)
    assert 0 <= m["rework_ece"] <= 1


def test_monitor_rework_needs_remits_and_a_queue(tmp_path, run, capsys):
    code, _, err = run(["monitor", "--rework", tmp_path / "q.csv"], capsys)
    assert code == 2 and "--remits" in err and err.count("\n") == 1
    code, _, err = run(["monitor"], capsys)
    assert code == 2 and "--scored" in err
    bad = tmp_path / "q.csv"
    pd.DataFrame({"claim_id": ["A"], "line_number": [1]}).to_csv(bad, index=False)
    code, _, err = run(["monitor", "--rework", bad, "--remits", bad], capsys)
    assert code == 2 and "--rework" in err and err.count("\n") == 1
