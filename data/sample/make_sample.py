"""Regenerates the embedded sample data in this folder (see README.md here).

PYTHONPATH=src .venv/bin/python data/sample/make_sample.py
"""

from pathlib import Path

from denial_risk.synth.simulate import SAMPLE, make_sample_data

if __name__ == "__main__":
    counts = make_sample_data(Path(__file__).resolve().parent, **SAMPLE)
    for name, n in counts.items():
        print(f"{name}: {n:,} lines")
