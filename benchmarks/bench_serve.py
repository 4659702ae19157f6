"""Benchmark: the real-time scoring service (MLflow's scoring server) on loopback.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_serve.py \
        [--workers 2] [--concurrent 200] [--single 300] [--batches 60] [--rate 2] [--duration 300]

Setup (not timed): trains and registers a model (`jobs.train.train_and_register`,
`--train-rows` simulated lines) in a temporary sqlite MLflow store, simulates
request lines, starts `serving.ScoringServer` (= `denial-risk serve`, `--workers`
processes, 127.0.0.1, a free port) and warms it up.

Measured, clients on the same machine:

* **concurrent**: `--concurrent` one-line requests sent at once, each on its own
  connection (an asyncio client, so the load generator takes little CPU from the
  server); each request's latency from the release of the burst to its complete
  answer, p50 / p99 / max, and the wall time of the burst.
  Goal (issue 16.6): p99 <= 1 s with 2 workers.

Then one client, sequential requests:

* **latency**: `--single` one-line requests, p50 / p99 in milliseconds, and the server's CPU
  per request (user + system time of its processes over the loop, / requests): the wall figures
  follow the machine's load, the CPU figure much less (a shared machine);
* **throughput**: `--batches` 100-line requests, lines per second (and p50 per batch);
* **steady run**: `--duration` seconds at `--rate` one-line requests per
  second (fixed schedule; a request is sent when due, or at once if the
  previous one ran late), counting errors (non-200, wrong row count, bad JSON).
  The loop is bounded by the duration and stops by itself; the server is
  stopped at the end whatever happens.

Results: benchmarks/results/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 1)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in the process group `pgid` (the server:
    uvicorn's supervisor and its workers), from /proc; a process that exits between reads is skipped."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the command: state, ppid, pgrp, ..., utime, stime
            total += int(fields[11]) + int(fields[12])
    return total / tick


def concurrent(url: str, bodies: list[bytes], expect_rows: int = 1) -> tuple[list[float], int, float]:
    """Send every body at once, each on its own connection: latencies, errors, wall time.

    An asyncio client (plain HTTP/1.1 on sockets) so that 200 requests in flight cost the
    machine little: a thread and urllib each would take CPU from the server being measured.
    Each latency runs from the moment all requests are released to its complete answer.
    """
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(url)

    async def one(body: bytes, t0: float) -> tuple[float, bool]:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        answer = await reader.read()
        dt = time.perf_counter() - t0
        writer.close()
        status_line, _, rest = answer.partition(b"\r\n")
        payload = rest.partition(b"\r\n\r\n")[2]
        try:
            ok = status_line.split()[1] == b"200" and len(json.loads(payload)["predictions"]) == expect_rows
        except (ValueError, KeyError, IndexError):
            ok = False
        return dt, ok

    async def burst() -> tuple[list[tuple[float, bool]], float]:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(b, t0) for b in bodies))
        return results, time.perf_counter() - t0

    results, wall = asyncio.run(burst())
    return [r[0] for r in results], sum(not r[1] for r in results), wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-rows", type=int, default=12_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--single", type=int, default=300)
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--batch-lines", type=int, default=100)
    ap.add_argument("--rate", type=float, default=2.0, help="requests per second in the steady run")
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of the steady run")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_serve."))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.chdir(work)

    from denial_risk.jobs.train import train_and_register
    from denial_risk.registry.serving import ScoringServer, post, predictions_frame, request_body
    from denial_risk.synth.simulate import simulate_claims

    simulate_claims(rows=args.train_rows, seed=3).to_csv("train.csv", index=False)
    train_and_register("train.csv")
    lines = (
        simulate_claims(rows=20_000, seed=21)
        .drop(columns=["denied", "denial_reason", "paid_amount", "true_denial_probability"], errors="ignore")
        .astype(str)
    )
    singles = [request_body(lines.iloc[[i]]) for i in range(2_000)]
    batches = [
        request_body(lines.iloc[i * args.batch_lines : (i + 1) * args.batch_lines])
        for i in range(len(lines) // args.batch_lines)
    ]

    def call(url: str, body: bytes, n: int) -> tuple[float, bool]:
        t = time.perf_counter()
        status, answer = post(url, body)
        dt = time.perf_counter() - t
        try:
            ok = status == 200 and len(predictions_frame(answer)) == n
        except (ValueError, KeyError):
            ok = False
        return dt, ok

    result: dict = {
        "benchmark": "scoring service on loopback",
        "command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_serve.py " + " ".join(sys.argv[1:]),
        "server": f"denial-risk serve (MLflow's scoring app, uvicorn, {args.workers} workers, 127.0.0.1)",
        "load_avg_1m_at_start": round(os.getloadavg()[0], 1),
    }
    server = ScoringServer("models:/denial-risk@champion", workers=args.workers, log_path=work / "server.log")
    with server:
        url = server.url + "/invocations"
        for i in range(20):  # warm-up (every worker: concurrent pairs)
            concurrent(url, singles[i * 4 : i * 4 + 4])
        if args.concurrent:
            cpu = group_cpu_seconds(server.proc.pid)
            lat, errors, wall = concurrent(url, singles[100 : 100 + args.concurrent])
            cpu = group_cpu_seconds(server.proc.pid) - cpu
            result.update(
                workers=args.workers,
                concurrent_requests=args.concurrent,
                concurrent_p50_ms=_pct(lat, 50),
                concurrent_p99_ms=_pct(lat, 99),
                concurrent_max_ms=_pct(lat, 100),
                concurrent_wall_s=round(wall, 2),
                concurrent_errors=errors,
                concurrent_server_cpu_ms_per_request=round(1000 * cpu / args.concurrent, 1),
                load_avg_1m_after_concurrent=round(os.getloadavg()[0], 1),
            )
            print(
                f"{args.concurrent} concurrent one-line requests ({args.workers} workers): "
                f"p50 {result['concurrent_p50_ms']} ms, p99 {result['concurrent_p99_ms']} ms, "
                f"all answered in {wall:.2f} s, {errors} errors, server CPU "
                f"{result['concurrent_server_cpu_ms_per_request']} ms a request",
                flush=True,
            )
        lat, errors = [], 0
        cpu = group_cpu_seconds(server.proc.pid)
        for i in range(args.single):
            dt, ok = call(url, singles[i % len(singles)], 1)
            lat.append(dt)
            errors += not ok
        cpu = group_cpu_seconds(server.proc.pid) - cpu
        result.update(
            single_requests=args.single,
            single_p50_ms=_pct(lat, 50),
            single_p99_ms=_pct(lat, 99),
            single_errors=errors,
            single_server_cpu_ms_per_request=round(1000 * cpu / max(args.single, 1), 1),
            load_avg_1m_after_single=round(os.getloadavg()[0], 1),
        )
        print(
            f"one-line requests: p50 {result['single_p50_ms']} ms, p99 {result['single_p99_ms']} ms, "
            f"server CPU {result['single_server_cpu_ms_per_request']} ms a request",
            flush=True,
        )

        bl, errors = [], 0
        t0 = time.perf_counter()
        for i in range(args.batches):
            dt, ok = call(url, batches[i % len(batches)], args.batch_lines)
            bl.append(dt)
            errors += not ok
        wall = time.perf_counter() - t0
        result.update(
            batch_lines=args.batch_lines,
            batches=args.batches,
            batch_lines_per_second=round(args.batches * args.batch_lines / wall, 1),
            batch_p50_ms=_pct(bl, 50),
            batch_p99_ms=_pct(bl, 99),
            batch_errors=errors,
        )
        print(
            f"{args.batch_lines}-line batches: {result['batch_lines_per_second']} lines/s, "
            f"p50 {result['batch_p50_ms']} ms",
            flush=True,
        )

        if args.duration > 0:
            interval = 1.0 / args.rate
            start = time.perf_counter()
            due, sent, errors, late, steady = start, 0, 0, 0, []
            while due < start + args.duration:  # bounded: stops by itself
                now = time.perf_counter()
                if now < due:
                    time.sleep(due - now)
                elif now - due > interval:
                    late += 1
                dt, ok = call(url, singles[sent % len(singles)], 1)
                steady.append(dt)
                sent += 1
                errors += not ok
                due += interval
            elapsed = time.perf_counter() - start
            result.update(
                steady_seconds=round(elapsed, 1),
                steady_rate_per_second=args.rate,
                steady_requests=sent,
                steady_errors=errors,
                steady_late_requests=late,
                steady_p50_ms=_pct(steady, 50),
                steady_p99_ms=_pct(steady, 99),
                steady_max_ms=_pct(steady, 100),
            )
            print(f"steady: {sent} requests in {elapsed:.0f}s at {args.rate}/s, {errors} errors", flush=True)
    result.update(
        load_avg_1m_at_end=round(os.getloadavg()[0], 1),
        cpu_count=os.cpu_count(),
        machine=platform.machine(),
        python=platform.python_version(),
    )
    out = ROOT / "benchmarks" / "results" / "serve.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
