"""Requests that arrive together are scored together (the served model's `predict`).

MLflow's scoring server runs each request's `predict` in its own thread. Scoring
one line costs about as much as scoring a hundred (the cost is per call: pandas,
the feature transformers, the reasons), so requests that arrive together are
scored in one call (`score_requests`), up to `max_lines` lines a call: while one
batch is being scored the others queue, and the thread that starts a batch first
waits while requests are still arriving (`gap` seconds at a time, `max_wait` at
most), so a burst becomes one call instead of a lone first line and the rest. A
lone request waits one `gap` (5 ms). Each answer is exactly what that request
would get alone; if a joint call fails, its requests are scored one by one, so
one bad request fails only itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

DEFAULT_MAX_LINES = 5_000
DEFAULT_GAP = 0.005
DEFAULT_MAX_WAIT = 0.1


@dataclass(eq=False)
class _Job:
    raw: pd.DataFrame
    done: bool = False
    result: pd.DataFrame | None = None
    error: BaseException | None = None
    lines: int = field(init=False)

    def __post_init__(self):
        self.lines = len(self.raw)


class MicroBatcher:
    """`batcher(raw) -> output`, thread-safe; concurrent calls share one `score_many` call."""

    def __init__(
        self,
        score_many: Callable[[list[pd.DataFrame]], list[pd.DataFrame]],
        max_lines: int = DEFAULT_MAX_LINES,
        gap: float = DEFAULT_GAP,
        max_wait: float = DEFAULT_MAX_WAIT,
    ):
        self.score_many = score_many
        self.max_lines = max_lines
        self.gap, self.max_wait = gap, max_wait
        self._cv = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self.calls = 0  # joint calls made (tests, benchmarks)

    def __call__(self, raw: pd.DataFrame) -> pd.DataFrame:
        job = _Job(raw)
        with self._cv:
            self._queue.append(job)
        while True:
            with self._cv:
                while self._busy and not job.done:
                    self._cv.wait()
                if job.done:
                    break
                self._busy = True
            try:
                self._gather()
                with self._cv:
                    batch = self._take()
                self._run(batch)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    def _gather(self) -> None:
        """Wait (without the lock) while requests keep arriving: up to max_wait, or max_lines."""
        waited, seen = 0.0, -1
        while waited < self.max_wait:
            with self._cv:
                queued = len(self._queue)
                lines = sum(j.lines for j in self._queue)
            if queued == seen or lines >= self.max_lines:
                return
            seen = queued
            time.sleep(self.gap)
            waited += self.gap

    def _take(self) -> list[_Job]:
        """The queued jobs, oldest first, up to max_lines lines (at least one job)."""
        batch, lines = [], 0
        while self._queue and (not batch or lines + self._queue[0].lines <= self.max_lines):
            job = self._queue.pop(0)
            batch.append(job)
            lines += job.lines
        return batch

    def _run(self, batch: list[_Job]) -> None:
        self.calls += 1
        try:
            results = self.score_many([j.raw for j in batch])
            for job, result in zip(batch, results, strict=True):
                job.result = result
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for job in batch:
                    try:
                        job.result = self.score_many([job.raw])[0]
                    except Exception as exc:
                        job.error = exc
        finally:
            for job in batch:
                job.done = True
