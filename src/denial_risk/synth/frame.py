"""The drawn lines written as the contract's claim table (normalised dtypes; unknowns as <NA>/NaT).

String columns go through arrow dictionaries, so 1M lines share a few thousand distinct strings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.synth.catalog import Catalog, Diagnoses
from denial_risk.synth.coding import modifier_string
from denial_risk.synth.draw import Codes, Lines, Patients, Period, Suppliers, Written, place_codes
from denial_risk.synth.world import PAYERS


def patient_ids(pats: Patients) -> pd.Series:
    """The patients' ids (`P0001234`), by patient index."""
    return _prefixed_ids("P", pats.number, max(7, len(str(len(pats.number)))))


def observable_frame(
    period: Period,
    cat: Catalog,
    dx: Diagnoses,
    sup: Suppliers,
    pats: Patients,
    lines: Lines,
    codes: Codes,
    written: Written,
) -> pd.DataFrame:
    """The columns drawn so far: identifiers, payer, dates, place, code, modifiers, units, diagnoses."""
    start64 = np.datetime64(period.start.date(), "D")
    dotted = sup.dotted[lines.supplier]
    vocab_all = np.concatenate([dx.vocab, dx.dotted])
    v = len(dx.vocab)
    dx_idx = written.dx_idx
    dx_cols = [
        _arrow_strings(vocab_all, np.where(dx_idx[:, j] >= 0, dx_idx[:, j] + v * dotted, -1))
        for j in range(4)
    ]
    dx_text = pc.binary_join_element_wise(*dx_cols, "|", null_handling="skip")
    payer_types = np.array([p.payer_type for p in PAYERS], dtype=object)
    claim_no = np.arange(lines.n_claims)
    return pd.DataFrame(
        {
            "claim_id": _prefixed_ids("CLM", claim_no + 1, 9).take(lines.claim).reset_index(drop=True),
            "line_number": pd.array(lines.number, dtype="Int64"),
            "patient_id": patient_ids(pats).take(lines.patient).reset_index(drop=True),
            "provider_id": _strings(sup.npi, lines.supplier),
            "payer_id": _strings(np.array([p.payer_id for p in PAYERS], dtype=object), lines.payer),
            "payer_type": _strings(payer_types, lines.payer),
            "service_date": (start64 + lines.day.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "submission_date": (start64 + (lines.day + lines.lag).astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "place_of_service": _strings(place_codes(), lines.pos),
            "hcpcs_code": _strings(cat.codes, codes.code),
            "modifiers": modifier_strings(written.bits),
            "units": pd.array(written.units, dtype="Int64"),
            "diagnosis_codes": pd.Series(pd.array(dx_text, dtype="string")),
        }
    )


def modifier_strings(bits: np.ndarray) -> pd.Series:
    """Bit masks as the written modifiers (`KX|RT`)."""
    uniq, inv = np.unique(bits, return_inverse=True)
    text = np.array([modifier_string(int(b)) for b in uniq], dtype=object)
    return _strings(text, inv.reshape(-1))


def _arrow_strings(values: np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] as an arrow string array (index -1 -> null), via a dictionary."""
    dictionary = pa.array(list(values), type=pa.string())
    idx = pa.array(index.astype(np.int32), mask=index < 0)
    return pa.DictionaryArray.from_arrays(idx, dictionary).cast(pa.string())


def _strings(values: np.ndarray, index: np.ndarray) -> pd.Series:
    """values[index] as a pandas string Series (index -1 -> <NA>)."""
    return pd.Series(pd.array(_arrow_strings(values, index), dtype="string"))


def _prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    arr = pc.utf8_lpad(pa.array(np.asarray(numbers).astype(np.int64)).cast(pa.string()), width, "0")
    arr = pc.binary_join_element_wise(pa.scalar(prefix), arr, "")
    return pd.Series(pd.array(arr, dtype="string"))
