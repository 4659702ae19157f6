"""The report's "claims to hold" section, from the claim worklist beside the scored file.

`score` writes `<out>.claims.<ext>` (one row per claim, in claim-rank order: `scoring.claims`);
the report finds it beside the scored file it is given and shows the claim totals by tier and
the first claims with their dollars, the lines at risk and the fixes that would release them.
The file is read in chunks (only its counts by tier and its first rows are kept), so a claim
worklist of millions of claims is summarised at constant memory. Without the file (a worklist
scored before claims were ranked, or a frame), the section is left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from denial_risk.contract import schema

CHUNK_ROWS = 200_000
NUMBERS = ("lines", "billed_amount", "claim_denial_probability", "expected_loss", "claim_rank")


def claim_file_for(scored) -> Path | None:
    """The claim worklist beside a scored file, when there is one."""
    if not isinstance(scored, str | os.PathLike):
        return None
    path = Path(schema.claims_path_for(str(scored)))
    return path if path.is_file() else None


def _chunks(path: Path):
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=CHUNK_ROWS, columns=list(schema.CLAIM_COLUMNS)
        ):
            yield batch.to_pandas()
        return
    yield from pd.read_csv(
        path, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS, usecols=list(schema.CLAIM_COLUMNS)
    )


def summarise_claims(path: Path, top: int) -> dict:
    """{"count", "tiers": per tier claims, billed, at risk, mean probability, "head": the first `top`}."""
    sums = {t: [0, 0.0, 0.0, 0.0] for t in schema.RISK_TIERS}
    heads = []
    count = 0
    for chunk in _chunks(path):
        for c in NUMBERS:
            chunk[c] = pd.to_numeric(chunk[c], errors="coerce")
        count += len(chunk)
        for tier, g in chunk.groupby(chunk["risk_tier"].astype(str)):
            s = sums.setdefault(tier, [0, 0.0, 0.0, 0.0])
            s[0] += len(g)
            s[1] += float(g["billed_amount"].sum())
            s[2] += float(g["expected_loss"].sum())
            s[3] += float(g["claim_denial_probability"].sum())
        head = chunk[chunk["claim_rank"] <= top]
        if len(head):
            heads.append(head)
    head = pd.concat(heads).sort_values("claim_rank", kind="stable") if heads else pd.DataFrame()
    return {"count": count, "tiers": sums, "head": head}
