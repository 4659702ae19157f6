"""Pin the sample worklist: train on data/sample/claims.csv as `make demo` does, score the backlog,
keep the keys and the added columns in tests/fixtures/golden/sample_worklist.csv.gz.

Run it only when a change to the worklist is intended, and say so in the commit:
    .venv/bin/python scripts/pin_sample_worklist.py
tests/scoring/test_sample_worklist.py holds every later run to this file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "sample_worklist.csv.gz"
KEYS = ["claim_id", "line_number"]
# the day the pin was made: the backlog (2026-01 to 2026-06) is delivered, as on any later day
AS_OF = "2026-12-04"


def sample_worklist(out_dir: Path):
    """The sample's worklist as `make demo` makes it (fit on claims.csv, score backlog.csv)."""
    import pandas as pd

    from denial_risk.claims.table import load_claims
    from denial_risk.contract import schema
    from denial_risk.modeling.config import TrainConfig
    from denial_risk.modeling.train import fit_model
    from denial_risk.scoring.worklist import score_file

    frame, _ = load_claims(ROOT / "data" / "sample" / "claims.csv")
    model = fit_model(frame, TrainConfig()).model
    out = out_dir / "worklist.csv"
    score_file(ROOT / "data" / "sample" / "backlog.csv", out, model, progress=False, as_of=AS_OF)
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    return table[[*KEYS, *schema.ADDED]]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        table = sample_worklist(Path(tmp))
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(GOLDEN, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"pinned {len(table)} lines to {GOLDEN.relative_to(ROOT)}", file=sys.stderr)
