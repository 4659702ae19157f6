"""The scored worklist as the report reads it: only the columns it shows, typed, in chunks.

Files go through the project's `ClaimReader` (CSV in blocks, Parquet in batches;
BOM, CRLF and bad bytes are handled there), so a 10M-line worklist streams at
roughly constant memory. Only the columns below are selected: `patient_id` is
never read, so it cannot reach the page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from denial_risk.claims.reader import ClaimReader
from denial_risk.contract import schema
from denial_risk.contract.values import MAX_AMOUNT, parse_amounts
from denial_risk.errors import UserError
from denial_risk.tableio.files import check_input

# Columns the report cannot do without (the contract's required identifiers
# and amounts it shows, plus the columns scoring adds but likely_denial_codes, the seventh: a
# worklist written before it was added still reports).
REQUIRED_COLUMNS = (
    "claim_id",
    "payer_type",
    "hcpcs_code",
    "billed_amount",
    *(c for c in schema.ADDED if c != "likely_denial_codes"),
)
# Used when present.
OPTIONAL_COLUMNS = ("line_number", "policy_group", "likely_denial_codes", "predicted_carc", "remark_codes")
NUMBER_COLUMNS = ("denial_probability", "expected_loss", "risk_rank")
FRAME_SOURCE = "scored frame"

# Big chunks: the report keeps a few small tables per chunk, and fewer chunks keep those lists short.
_BATCH_ROWS = 500_000
_BLOCK_BYTES = 64 << 20


def open_scored(scored: pd.DataFrame | str | os.PathLike) -> tuple[str, Iterator[pd.DataFrame], list[str]]:
    """(source name, typed chunks of the used columns, the used columns).

    A missing file, an empty one or a missing column fails here, before any row
    is read (and so before anything is written).
    """
    if isinstance(scored, pd.DataFrame):
        used = _check_columns(FRAME_SOURCE, scored.columns)
        return FRAME_SOURCE, _frame_chunks(scored, used), used
    path = Path(scored)
    if not path.exists():
        raise UserError(f"{path}: no such scored file")
    check_input(path, "--scored")  # a folder, a FIFO (which would block) or a device
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file, expected a scored worklist with a header row")
    reader = ClaimReader(
        path,
        option="--scored",
        columns=[*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS],
        block_bytes=_BLOCK_BYTES,
        batch_rows=_BATCH_ROWS,
    )
    used = _check_columns(str(path), reader.columns)
    # a CSV cell has no "missing" but empty; Parquet and frames keep "" as a value
    blank_is_missing = reader.format == "csv"
    chunks = (_typed(raw, used, str(path), blank_is_missing=blank_is_missing) for raw in reader)
    return str(path), chunks, used


def _check_columns(source: str, present: list[str] | pd.Index) -> list[str]:
    present = list(present)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise UserError(
            f"{source}: missing column {', '.join(repr(c) for c in missing)}"
            " (a scored file from `denial-risk score` has it)"
        )
    return [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in present]


def _frame_chunks(df: pd.DataFrame, used: list[str]) -> Iterator[pd.DataFrame]:
    for start in range(0, max(len(df), 1), _BATCH_ROWS):
        yield _typed(df.iloc[start : start + _BATCH_ROWS], used, FRAME_SOURCE, blank_is_missing=False)


def _typed(raw: pd.DataFrame, used: list[str], source: str, *, blank_is_missing: bool) -> pd.DataFrame:
    """Raw values (CSV strings, Parquet or frame types) → float amounts and numbers, text for the rest."""
    cols = {}
    for name in used:
        s = raw[name]
        if name == "billed_amount":  # `$1,234.50` is an amount too
            cols[name] = _plausible(parse_amounts(s)[0].to_numpy("float64", na_value=np.nan))
        elif name in NUMBER_COLUMNS:
            cols[name] = _numbers(s, name, source)
            if name == "expected_loss":
                cols[name] = _plausible(cols[name])
        else:
            cols[name] = _text(s, blank_is_missing=blank_is_missing).array
    return pd.DataFrame(cols, index=pd.RangeIndex(len(raw)))


def _plausible(v: np.ndarray) -> np.ndarray:
    """Dollars over `MAX_AMOUNT` (which `score` rejects) count as unknown: sums stay finite."""
    return np.where(np.abs(v) <= MAX_AMOUNT, v, np.nan)


def _numbers(s: pd.Series, name: str, source: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy("float64", na_value=np.nan)
    v = pd.to_numeric(s, errors="coerce").to_numpy("float64", na_value=np.nan)
    given = s.notna().to_numpy(bool) & (s.astype("string").str.strip() != "").to_numpy(bool, na_value=False)
    if (given & np.isnan(v)).any():  # a text cell that is not a number: not a scored file
        raise UserError(f"{source}: column {name!r} is not numeric")
    return v


def _text(s: pd.Series, *, blank_is_missing: bool) -> pd.Series:
    """Values as `string`; typed values spelled as pyarrow spells them (a line number 1.0 is `1`)."""
    if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
        t = s.astype("string")
    else:
        arr = pa.Array.from_pandas(s)
        if pa.types.is_dictionary(arr.type):  # a categorical column
            arr = arr.dictionary_decode()
        t = arr.cast(pa.string()).to_pandas().astype("string")
    return t.replace("", pd.NA) if blank_is_missing else t
