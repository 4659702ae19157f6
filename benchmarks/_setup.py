"""The training set-up bench_claims.py and bench_fixes.py share: one simulated world of 30 months
from 2024-01, the model fitted on its first 24 (`modeling.train.fit_model`, its own time split),
cached in benchmarks/.cache; a second draw (another seed) is scored on its last 6 months."""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

START, MONTHS, TRAIN_MONTHS = "2024-01-01", 30, 24


def cut():
    """The first day after the training months: train before it, score from it."""
    import pandas as pd

    return pd.Timestamp(START) + pd.DateOffset(months=TRAIN_MONTHS)


def simulated(rows: int, seed: int, **world):
    """A normalised draw of the world over the 30 months, as `train` and `score` read a file."""
    from denial_risk.contract.normalize import normalize_chunk
    from denial_risk.synth.simulate import simulate_claims

    return normalize_chunk(simulate_claims(rows, seed, START, MONTHS, **world))[0]


def trained_model(name: str, rows: int, seed: int, refit: bool, describe: Callable, **world):
    """(model, info): fitted on the first `TRAIN_MONTHS` of a draw, or read from the cache `name`.

    `describe(result)` adds the benchmark's own facts of the fit to `info`."""
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model

    cache = ROOT / "benchmarks" / ".cache" / f"{name}.pkl"
    if cache.exists() and not refit:
        return pickle.loads(cache.read_bytes()), {"cached": True}
    frame = simulated(rows, seed, **world)
    labelled = frame[frame["service_date"] < cut()].reset_index(drop=True)
    t = time.perf_counter()
    result = fit_model(labelled, TrainConfig())
    info = {"cached": False, "train_lines": len(labelled), "fit_seconds": round(time.perf_counter() - t, 1)}
    info |= describe(result)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(result.model))
    return result.model, info
