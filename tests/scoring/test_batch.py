"""Requests scored together are answered exactly as if alone; the batcher merges concurrent calls."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from denial_risk.scoring.batcher import MicroBatcher
from denial_risk.scoring.score import score_request, score_requests


@pytest.fixture(scope="module")
def raw_lines(simulated_claims):
    raw = (
        simulated_claims.iloc[-240:]
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"])
        .astype(str)
        .reset_index(drop=True)
    )
    raw.loc[5, "billed_amount"] = "-5"  # rejected
    raw.loc[6, "service_date"] = "not a date"
    return raw


def _requests(raw: pd.DataFrame) -> list[pd.DataFrame]:
    a, b, c, d, e = raw.iloc[:1], raw.iloc[1:60], raw.iloc[60:61], raw.iloc[61:150], raw.iloc[150:]
    b = pd.concat([b, b.iloc[[3]]])  # a duplicate key within one request: rejected there only
    # the same key in another request: not a duplicate there
    c = c.assign(claim_id=b.iloc[0]["claim_id"], line_number=b.iloc[0]["line_number"])
    d = d.drop(columns=["modifiers", "units"])  # other columns: normalised apart
    e = e.assign(billed_amount=pd.to_numeric(e["billed_amount"], errors="coerce"))  # numbers, not text
    return [a, b, c, d, e, raw.iloc[:0]]


def test_scored_together_equals_scored_alone(denial_model, raw_lines):
    requests = _requests(raw_lines)
    together = score_requests(denial_model, requests)
    assert len(together) == len(requests)
    for request, got in zip(requests, together, strict=True):
        pd.testing.assert_frame_equal(got, score_request(denial_model, request))
    # the duplicate within request b is rejected; the same key in request c is not
    b, c = together[1], together[2]
    assert "duplicate" in str(b["reject_reason"].iloc[-1])
    assert c["reject_reason"].isna().all()
    # ranks are within each request: 1..n for its scored lines
    for got in together:
        ranks = got["risk_rank"].dropna().astype(int).sort_values().tolist()
        assert ranks == list(range(1, len(ranks) + 1))


def test_batcher_merges_concurrent_calls_and_answers_each_its_own():
    calls: list[list[int]] = []
    batcher: MicroBatcher

    def score_many(frames):
        calls.append([int(f["x"].iloc[0]) for f in frames])
        if len(calls) == 1:  # the first call is slow: every other request queues meanwhile
            deadline = time.monotonic() + 10
            while len(batcher._queue) < 19 and time.monotonic() < deadline:
                time.sleep(0.005)
        return [f.assign(y=f["x"] * 10) for f in frames]

    batcher = MicroBatcher(score_many)
    results: dict[int, pd.DataFrame] = {}

    def call(i):
        results[i] = batcher(pd.DataFrame({"x": [i, i]}))

    first = threading.Thread(target=call, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(1, 20)]
    for t in threads:
        t.start()
    for t in [first, *threads]:
        t.join(timeout=30)
    assert len(calls) == 2 and sorted(calls[1]) == list(range(1, 20))
    for i in range(20):
        assert results[i]["y"].tolist() == [10 * i, 10 * i]


def test_one_bad_request_fails_only_itself():
    def score_many(frames):
        if any(f["x"].iloc[0] < 0 for f in frames):
            raise ValueError("bad request")
        return [f.assign(y=1) for f in frames]

    batcher = MicroBatcher(score_many)
    batcher._busy = True  # hold the queue, as a running batch would
    out: dict[int, object] = {}

    def call(i):
        try:
            out[i] = batcher(pd.DataFrame({"x": [i]}))
        except ValueError as exc:
            out[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in (1, -1, 2)]
    for t in threads:
        t.start()
    while len(batcher._queue) < 3:
        time.sleep(0.001)
    with batcher._cv:
        batcher._busy = False
        batcher._cv.notify_all()
    for t in threads:
        t.join(timeout=30)
    assert isinstance(out[-1], ValueError)
    assert out[1]["y"].tolist() == [1] and out[2]["y"].tolist() == [1]


def test_batches_hold_at_most_max_lines():
    sizes = []

    def score_many(frames):
        sizes.append(sum(len(f) for f in frames))
        return frames

    batcher = MicroBatcher(score_many, max_lines=10)
    batcher._busy = True
    threads = [threading.Thread(target=batcher, args=(pd.DataFrame({"x": np.arange(4)}),)) for _ in range(6)]
    for t in threads:
        t.start()
    while len(batcher._queue) < 6:
        time.sleep(0.001)
    with batcher._cv:
        batcher._busy = False
        batcher._cv.notify_all()
    for t in threads:
        t.join(timeout=30)
    assert sum(sizes) == 24 and max(sizes) <= 10
