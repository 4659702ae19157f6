"""Accepted forms → canonical values, and rows that cannot be scored → rejects.

The contract accepts several spellings of the same thing (modifier separators, dotted or undotted
ICD-10, any case, six boolean spellings, ISO or YYYYMMDD dates). This module turns a raw chunk into
the normalised frame of docs/architecture.md. Unknown stays missing, never 0 or false. The
values are parsed in `contract.values`; duplicates across chunks are kept in `contract.duplicates`.

A row is rejected only when it cannot be scored (missing or unparseable claim_id, service_date,
hcpcs_code, billed_amount, a negative amount or one over `MAX_AMOUNT`, an unparseable date, a bad
line_number, a duplicate (claim_id, line_number)); numbers are read from ASCII digits only.
Anything else wrong is a *finding* for the model. Vectorised; per-value parsing on unique values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from denial_risk.contract import schema
from denial_risk.contract.duplicates import DuplicateTracker
from denial_risk.contract.values import (
    MAX_AMOUNT,
    STRING,
    RawColumn,
    identifier,
    normalise_diagnoses,
    normalise_modifiers,
    normalise_payer_type,
    normalise_remark_codes,
    parse_amounts,
    parse_booleans,
    parse_dates,
    parse_integers,
    text_or_na,
)
from denial_risk.errors import UserError

REJECT_REASON = "reject_reason"
_NORMALISED_DTYPES = {c: pd.api.types.pandas_dtype(t) for c, t in schema.NORMALISED_DTYPES.items()}


def check_required_columns(columns: list[str], path: str, option: str = "--data") -> None:
    """A file without a required column cannot be scored at all: stop with one line."""
    missing = [c for c in schema.REQUIRED if c not in columns]
    if missing:
        raise UserError(
            f"{option} {path}: missing required column '{missing[0]}'"
            + (f" (and {len(missing) - 1} more: {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )


class _ChunkNormaliser:
    """One raw chunk on its way to the normalised frame: canonical columns and the problems found."""

    def __init__(self, raw: pd.DataFrame):
        self.raw = raw
        self.n = len(raw)
        self.out: dict[str, pd.Series] = {}
        self.problems: list[tuple[str, pd.Series]] = []
        self._columns: dict[str, RawColumn] = {}

    def col(self, name: str) -> RawColumn:
        if name not in self._columns:
            raw = self.raw
            self._columns[name] = (
                RawColumn(raw[name]) if name in raw.columns else RawColumn(None, index=raw.index)
            )
        return self._columns[name]

    def present(self, name: str) -> bool:
        return name in self.raw.columns

    def problem(self, text: str, mask: pd.Series) -> None:
        self.problems.append((text, mask))

    def ones(self) -> pd.Series:
        return pd.Series(pd.array(np.ones(self.n, dtype="int64"), dtype="Int64"), index=self.raw.index)

    def identifiers_and_codes(self) -> None:
        out, raw = self.out, self.raw
        out["claim_id"] = identifier(raw["claim_id"] if self.present("claim_id") else self.col("claim_id"))
        self.problem("claim_id: missing", out["claim_id"].isna())
        if self.present("line_number"):
            ln, ln_bad = parse_integers(self.col("line_number"))
            ln_bad = ln_bad | (ln < 1).fillna(False).astype(bool)
            out["line_number"] = ln.fillna(1).where(~ln_bad)
            self.problem("line_number: not a whole number >= 1", ln_bad)
        else:
            out["line_number"] = self.ones()
        for name in ("patient_id", "provider_id", "payer_id", "ordering_npi"):
            out[name] = identifier(raw[name] if self.present(name) else self.col(name))
        pos = text_or_na(self.col("place_of_service"))
        out["place_of_service"] = pos.where(~pos.str.fullmatch(r"\d").fillna(False).astype(bool), "0" + pos)
        out["payer_type"] = normalise_payer_type(self.col("payer_type"))
        out["hcpcs_code"] = text_or_na(self.col("hcpcs_code"), upper=True)
        self.problem("hcpcs_code: missing", out["hcpcs_code"].isna())
        out["modifiers"] = normalise_modifiers(self.col("modifiers"))
        out["diagnosis_codes"] = normalise_diagnoses(self.col("diagnosis_codes"))

    def dates(self) -> None:
        for name in schema.DATE_COLUMNS:
            d, bad = parse_dates(self.col(name))
            self.out[name] = d
            self.problem(f"{name}: unparseable date (use YYYY-MM-DD or YYYYMMDD)", bad)
            if name == "service_date":
                self.problem("service_date: missing", d.isna() & ~bad)

    def amounts(self) -> None:
        amt, bad = parse_amounts(self.col("billed_amount"))
        self.out["billed_amount"] = amt
        self.problem("billed_amount: unparseable amount", bad)
        self.problem("billed_amount: missing", amt.isna() & ~bad)
        self.problem("billed_amount: negative amount", (amt < 0).fillna(False))
        too_big = (amt > MAX_AMOUNT).fillna(False)
        self.problem(f"billed_amount: implausible amount (over {MAX_AMOUNT:,})", too_big)
        paid, _ = parse_amounts(self.col("paid_amount"))
        self.out["paid_amount"] = paid.where((paid >= 0) & (paid <= MAX_AMOUNT))  # else unknown

    def counts(self) -> None:
        """Unknown stays unknown; units defaults to 1 only when absent (no column or an empty cell)."""
        if self.present("units"):
            units, _ = parse_integers(self.col("units"))
            units = units.where((units >= 0).fillna(True).astype(bool))
            self.out["units"] = units.mask(~self.col("units").present, 1)
        else:
            self.out["units"] = self.ones()
        prior, _ = parse_integers(self.col("prior_same_code_12m"))
        self.out["prior_same_code_12m"] = prior.where((prior >= 0).fillna(True).astype(bool))

    def flags_and_labels(self) -> None:
        for name in schema.BOOLEAN_COLUMNS:
            self.out[name], _ = parse_booleans(self.col(name))
        self.out["denial_reason"] = text_or_na(self.col("denial_reason"), upper=True)
        self.out["remark_codes"] = normalise_remark_codes(self.col("remark_codes"))
        if self.present("true_denial_probability"):
            self.out["true_denial_probability"], _ = parse_amounts(self.col("true_denial_probability"))

    def duplicates(self, tracker: DuplicateTracker | None) -> None:
        """Among rows with a usable key, whatever else is wrong with them."""
        out = self.out
        key_ok = (out["claim_id"].notna() & out["line_number"].notna()).to_numpy(dtype=bool)
        dup = np.zeros(self.n, dtype=bool)
        if key_ok.any():
            tracker = tracker if tracker is not None else DuplicateTracker()
            dup[key_ok] = tracker.mark(out["claim_id"][key_ok], out["line_number"][key_ok])
        self.problem(
            "claim_id+line_number: duplicate of an earlier row", pd.Series(dup, index=self.raw.index)
        )

    def result(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        raw = self.raw
        reason = _join_reasons(self.problems, raw.index)
        rejected = reason.notna().to_numpy(dtype=bool)
        frame = pd.DataFrame(self.out, index=raw.index)
        cast = {c: t for c, t in _NORMALISED_DTYPES.items() if c in frame.columns and frame[c].dtype != t}
        if cast:  # most columns come out of their parser in their dtype already
            frame = frame.astype(cast)
        extras = [c for c in raw.columns if c not in frame.columns]
        if extras:
            frame = pd.concat([frame, raw[extras]], axis=1)
        rejects = raw.loc[rejected].copy()
        rejects[REJECT_REASON] = reason[rejected].astype(STRING)
        return frame.loc[~rejected], rejects


def normalize_chunk(
    raw: pd.DataFrame, *, duplicates: DuplicateTracker | None = None, start: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a raw chunk into (normalised scorable rows, rejects with `reject_reason`).

    The index of both is the row's position in the input (from `start`), so the
    two can be put back in input order. The scorable frame has every contract
    column (absent ones all-missing) with the dtypes of `schema.NORMALISED_DTYPES`,
    then the extra columns unchanged in input order. Rejects keep the raw values.
    Every problem a row has is named in its `reject_reason`, in a fixed order.
    """
    raw = raw.reset_index(drop=True)
    raw.index = pd.RangeIndex(start, start + len(raw))
    chunk = _ChunkNormaliser(raw)
    chunk.identifiers_and_codes()
    chunk.dates()
    chunk.amounts()
    chunk.counts()
    chunk.flags_and_labels()
    chunk.duplicates(duplicates)
    return chunk.result()


def _join_reasons(problems: list[tuple[str, pd.Series]], index: pd.Index) -> pd.Series:
    """One `reject_reason` per row: every problem found, `; `-separated, in a fixed order."""
    found = []
    for text, mask in problems:
        m = np.asarray(pd.Series(mask).fillna(False).to_numpy(dtype=bool), dtype=bool)
        if m.any():
            found.append((text, m))
    reason = np.full(len(index), None, dtype=object)
    for text, m in found:
        idx = np.flatnonzero(m)
        reason[idx] = [f"{r}; {text}" if r is not None else text for r in reason[idx]]
    return pd.Series(pd.array(reason, dtype=STRING), index=index)
