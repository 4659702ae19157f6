"""Solve the simulated world's base logits (`synth.world.BASE_LOGIT`) on a large reference draw.

    PYTHONPATH=src .venv/bin/python scripts/solve_base.py [--rows 400000]

The base logit per payer type is a constant of the world, so every seed draws from the same
world; this prints the values that make the mean truth per payer type equal its target rate
(`world.TARGET_DENIAL_RATES`) on a reference draw. Re-run it after changing the mechanism
and paste the result into `world.py`.
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from denial_risk.synth.mechanism import solve_base
    from denial_risk.synth.simulate import _simulate

    frame, world, _ = _simulate(args.rows, args.seed, "2024-01-01", 30)
    base = solve_base(world.parts(frame.drop(columns=["denied"])))
    print("BASE_LOGIT = (" + ", ".join(f"{b:.3f}" for b in np.asarray(base)) + ")")


if __name__ == "__main__":
    main()
