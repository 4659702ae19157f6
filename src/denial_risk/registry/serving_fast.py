"""The scoring server's lean path: JSON claim tables scored in micro-batches without MLflow's
per-request work.

Profiled (issue 23; in process, CPU time of one-line requests, a shared machine): the model
call costs 125-150 ms of CPU a call whatever its size (session 5, py-spy and cProfile at load 7-9:
normalising and the feature matrix about 30 % each, reasons and fixes 17 %, line facts 10 %, rule
risk 4 %, the table and the answer 3 %; some 3,000 pandas operations on one-row columns, none over
4 % of the call), plus about 1 ms a line (a 100-line call: 175-225 ms, reasons and fixes 45 %).
Cut in session 5: the rule layer's findings, computed for every line and then overwritten on the
explained ones (every served line: 9 %), the dated rules matched twice per call, and a worker's
first call (3.4 s cold: the code sets load lazily), now paid at load by the pyfunc. MLflow's scoring
app adds about 5 ms of a worker's core per request before and after the model (a second JSON
parse, a DataFrame per request, its input checks, a thread per request, the answer through
pandas), and its requests only meet in the model's batcher after all that (100 requests at one
worker, the model stubbed: 0.52 s).
`FastInvocations` sits in front of it. A POST /invocations
with a JSON body in a form it reads — `dataframe_split`, `dataframe_records`, or `inputs` as
columns (`{"inputs": {"claim_id": [...], ...}}`, the column-oriented form MLflow also reads) —
is answered here: the body is parsed once (`RequestLimits` already did it to count its lines),
requests that arrive together queue in the event loop, and each micro-batch becomes one table
(one column per field, no frame per request) scored in one call of the pyfunc's `score_table`
(registry/pyfunc.py, the loaded MLflow pyfunc's own model) in one worker thread; the answers
are the same JSON MLflow would write. Anything else (CSV, `instances`, `params`, a missing
required column, a cell that is neither text nor a number, a batch that fails) goes to MLflow's
app unchanged, so every answer and error stays MLflow's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

PARSED_KEY = "denial_risk.parsed_json"  # the ASGI scope key RequestLimits leaves the parsed body under
DEFAULT_GAP = 0.002
DEFAULT_MAX_WAIT = 0.05
DEFAULT_BATCH_LINES = 5_000
JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(eq=False)
class Table:
    """One request's claim table, column by column, with each column's kind (how pandas would
    type it when MLflow builds the request's frame: text, int64 or float64)."""

    columns: dict[str, list]
    kinds: tuple[str, ...]
    lines: int
    key: tuple = field(init=False)

    def __post_init__(self):
        self.key = (tuple(self.columns), self.kinds)


def _kind(cells: list) -> str | None:
    """text (str or null cells), int (int64 numbers), float (numbers, one a float); else None."""
    if all(c is None or isinstance(c, str) for c in cells):
        return "text"
    if any(c is None or isinstance(c, bool) or not isinstance(c, (int, float)) for c in cells):
        return None  # nulls among numbers, booleans, lists: MLflow's own parse decides
    if all(isinstance(c, int) for c in cells):
        return "int" if all(-(2**63) <= c < 2**63 for c in cells) else None
    return "float"


def _columns_of(data) -> dict[str, list] | None:
    """Columns of one payload form, or None when it is not one this path reads."""
    if len(data) != 1:
        return None  # params, or a second form: MLflow's
    ((form, value),) = data.items()
    if form == "dataframe_split":
        if not isinstance(value, dict) or set(value) != {"columns", "data"}:
            return None
        names, rows = value["columns"], value["data"]
        if not isinstance(names, list) or not isinstance(rows, list):
            return None
        if not all(isinstance(r, list) and len(r) == len(names) for r in rows):
            return None
        return dict(zip(names, (list(col) for col in zip(*rows)))) if rows else None
    if form == "dataframe_records":
        if not isinstance(value, list) or not value or not isinstance(value[0], dict):
            return None
        names = list(value[0])
        if not all(isinstance(r, dict) and list(r) == names for r in value):
            return None
        return {n: [r[n] for r in value] for n in names}
    if form == "inputs" and isinstance(value, dict) and value:
        if not all(isinstance(v, list) for v in value.values()):
            return None
        return dict(value) if len({len(v) for v in value.values()}) == 1 else None
    return None


def table_of(data, required: tuple[str, ...]) -> Table | None:
    """The request as a `Table`, or None when MLflow's app should answer it."""
    if not isinstance(data, dict):
        return None
    columns = _columns_of(data)
    if not columns or not all(isinstance(n, str) for n in columns) or len(set(columns)) != len(columns):
        return None
    if any(c not in columns for c in required):
        return None  # MLflow's app answers the 400 naming the missing column
    kinds = tuple(_kind(cells) for cells in columns.values())
    if None in kinds:
        return None
    return Table(columns, kinds, len(next(iter(columns.values()))))


def merged_frame(tables: list[Table]) -> pd.DataFrame:
    """Tables of one key as one prepared frame (text as pandas strings, numbers as int64/float64):
    what `scoring.score` builds from their frames, without building them."""
    out = {}
    for j, name in enumerate(tables[0].columns):
        cells = [c for t in tables for c in t.columns[name]]
        kind = tables[0].kinds[j]
        if kind == "text":
            out[name] = pd.Series(np.array(cells, dtype=object), dtype=object).astype("string")
        else:
            out[name] = pd.Series(np.array(cells, dtype=np.int64 if kind == "int" else np.float64))
    return pd.DataFrame(out)


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON: {type(v).__name__}")


def answers(columns: dict[str, np.ndarray], sizes: list[int]) -> list[bytes]:
    """Each request's `{"predictions": [...]}` body: one record per line, MLflow's JSON."""
    names = list(columns)
    cells = [columns[n].tolist() for n in names]
    bodies, start = [], 0
    for size in sizes:
        rows = zip(*(c[start : start + size] for c in cells))
        records = [dict(zip(names, row)) for row in rows]
        bodies.append(json.dumps({"predictions": records}, default=_plain).encode())
        start += size
    return bodies


def score_tables(score_table, tables: list[Table]) -> list[bytes | None]:
    """Answer bodies for tables scored together (one call per key); a key whose joint call fails
    is scored table by table, and a table that fails alone gets None (MLflow's app answers it)."""
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(tables):
        groups.setdefault(t.key, []).append(i)
    out: list[bytes | None] = [None] * len(tables)
    pending = list(groups.values())
    while pending:
        chunk = pending.pop(0)
        sizes = [tables[i].lines for i in chunk]
        try:
            bodies = answers(score_table(merged_frame([tables[i] for i in chunk]), sizes), sizes)
        except Exception as exc:  # each request then fails (or not) on its own
            if len(chunk) > 1:
                pending += [[i] for i in chunk]
            else:
                log.debug(
                    "a request failed on the fast path (%s); MLflow's app answers it", type(exc).__name__
                )
            continue
        for i, body in zip(chunk, bodies, strict=True):
            out[i] = body
    return out


class FastInvocations:
    """ASGI app: JSON claim tables scored here in micro-batches (`score_tables`), the rest by `app`.

    Requests queue in the event loop; a batch starts once no new request arrived for `gap`
    seconds (at most `max_wait` after it opened, at most `max_lines` lines) and is scored in one
    worker thread while the next batch queues.
    """

    def __init__(
        self,
        app,
        score_table,
        required: tuple[str, ...],
        *,
        gap: float = DEFAULT_GAP,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_lines: int = DEFAULT_BATCH_LINES,
    ):
        self.app, self.score_table, self.required = app, score_table, tuple(required)
        self.gap, self.max_wait, self.max_lines = gap, max_wait, max_lines
        self._queue: list[tuple[Table, asyncio.Future]] = []
        self._runner: asyncio.Task | None = None
        self.batches = 0  # joint calls made (tests, benchmarks)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/invocations" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        mime = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        table = None
        if mime == "application/json" and PARSED_KEY in scope:
            table = table_of(scope[PARSED_KEY], self.required)
        body = await self._submit(table) if table is not None else None
        if body is None:
            return await self.app(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _submit(self, table: Table) -> bytes | None:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((table, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            waited, seen = 0.0, -1
            while waited < self.max_wait and len(self._queue) != seen:
                if sum(t.lines for t, _ in self._queue) >= self.max_lines:
                    break
                seen = len(self._queue)
                await asyncio.sleep(self.gap)
                waited += self.gap
            batch, lines = [], 0
            while self._queue and (not batch or lines + self._queue[0][0].lines <= self.max_lines):
                batch.append(self._queue.pop(0))
                lines += batch[-1][0].lines
            self.batches += 1
            try:
                bodies = await loop.run_in_executor(
                    None, score_tables, self.score_table, [t for t, _ in batch]
                )
            except Exception:  # never strand a request: MLflow's app answers them
                bodies = [None] * len(batch)
            for (_, future), body in zip(batch, bodies):
                if not future.done():
                    future.set_result(body)
