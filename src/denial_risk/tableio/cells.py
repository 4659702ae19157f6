"""What a CSV cell may hold: text a spreadsheet will not run as a formula, and the columns a CSV
cannot hold (lists, structs, maps, dictionaries, Arrow views) as text.

A text cell (or header cell) that begins with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`
(OWASP's CSV-injection guidance): a spreadsheet shows it as text instead of running it as a
formula. So does one whose first character after spaces is one of them or its full-width form
(`＝＋－＠`); text held as Arrow binary, large, view or dictionary types is checked the same way
(docs/claims.md says why). files.TableWriter applies both to every CSV it writes.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.compute as pc

from denial_risk.contract import schema

# OWASP, "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection): cells starting with these
# characters are read as formulas by Excel, LibreOffice and Google Sheets; a leading ' makes them text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Project judgement (docs/claims.md): also after leading spaces (LibreOffice's CSV import can trim
# them, with formulas evaluated) and in full-width form (U+FF1D ＝, FF0B ＋, FF0D －, FF20 ＠), which
# an IME types and some spreadsheets read as the ASCII sign.
_TEXT_FORMULA = "^(?:[\t\r]|[\\s\u00a0\u3000]*[=+\\-@\uff1d\uff0b\uff0d\uff20])"  # RE2 and re alike
# the same in UTF-8 bytes, for binary columns (Arrow matches their bytes as Latin-1)
_BYTES_FORMULA = r"^(?:[\t\r]|(?:\s|\xC2\xA0|\xE3\x80\x80)*(?:[=+\-@]|\xEF\xBC[\x9D\x8B\x8D\xA0]))"
_NAME_FORMULA = re.compile(_TEXT_FORMULA)
LIST_SEP_OUT = schema.LIST_SEP  # list cells in a CSV output: the contract's own list separator


def csv_ready(table: pa.Table) -> pa.Table:
    """Columns a CSV cannot hold, as text: lists `|`-joined, dictionaries decoded, structs as JSON."""
    if not any(_needs_text(f.type) for f in table.schema):
        return table
    arrays, names = [], []
    for f, col in zip(table.schema, table.columns):
        arrays.append(_as_csv_text(col) if _needs_text(f.type) else col)
        names.append(f.name)
    return pa.Table.from_arrays(arrays, names=names)


def defuse_name(name: str) -> str:
    """A header cell that begins like a formula gets a leading `'`, as a text cell does."""
    return f"'{name}" if _NAME_FORMULA.match(name) else name


def _needs_text(t: pa.DataType) -> bool:
    return (
        pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
        or pa.types.is_dictionary(t)
    )


def _as_csv_text(col: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    t = col.type
    if pa.types.is_string_view(t):
        return col.cast(pa.string())
    if pa.types.is_binary_view(t) or pa.types.is_fixed_size_binary(t):
        return col.cast(pa.binary())
    if pa.types.is_dictionary(t):
        decoded = col.cast(t.value_type)
        return _as_csv_text(decoded) if _needs_text(t.value_type) else decoded
    if pa.types.is_struct(t) or pa.types.is_map(t):
        values = [None if v is None else json.dumps(v, default=str) for v in col.to_pylist()]
        return pa.array(values, pa.string())
    try:
        as_text = col.cast(pa.list_(pa.string()))
        if pc.list_flatten(as_text).null_count == 0:  # binary_join gives null for a list holding a null
            return pc.binary_join(as_text, LIST_SEP_OUT)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = [
        None if v is None else LIST_SEP_OUT.join(str(x) for x in v if x is not None) for v in col.to_pylist()
    ]
    return pa.array(values, pa.string())


def defuse_formulas(table: pa.Table) -> pa.Table:
    """Text cells that begin like a formula (module docstring) get a leading `'`; other columns
    untouched. String and binary columns alike (csv_ready turned views and dictionaries into
    them). Vectorised: one regular expression per column, and only a column with a hit is rebuilt.
    """
    arrays, changed = list(table.columns), False
    for i, f in enumerate(table.schema):
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            pattern = _TEXT_FORMULA
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            pattern = _BYTES_FORMULA
        else:
            continue
        col = table.column(i)
        hit = pc.match_substring_regex(col, pattern)
        if not pc.any(hit).as_py():
            continue
        quoted = pc.binary_join_element_wise(pa.scalar("'", col.type), col, pa.scalar("", col.type))
        arrays[i] = pc.if_else(hit, quoted, col)
        changed = True
    return pa.Table.from_arrays(arrays, schema=table.schema) if changed else table
