"""What a claim file really is, when it is not the CSV or Parquet its name says: a spreadsheet saved
under a `.csv` name, or a CSV written with another delimiter. Said in one line with what to do, instead
of "the header row is not valid UTF-8" or "missing required column"."""

from __future__ import annotations

from pathlib import Path

# File signatures: Office Open XML and OpenDocument files are zip archives (PKWARE APPNOTE 4.3.7,
# local file header 0x04034b50); Excel 97-2003 .xls is an OLE2 compound file (MS-CFB 2.2 header
# signature D0 CF 11 E0 A1 B1 1A E1).
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def spreadsheet_kind(path: str | Path) -> str | None:
    """'an Excel workbook (.xlsx) or another zip archive' / 'an Excel 97-2003 workbook (.xls)', or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None  # the reader names the OS error itself
    if head.startswith(_ZIP):
        return "a spreadsheet (an .xlsx or .ods workbook, a zip archive)"
    if head == _OLE:
        return "a spreadsheet (an Excel 97-2003 .xls workbook)"
    return None


def spreadsheet_message(option: str, path, kind: str, expected: str) -> str:
    return (
        f"{option} {path}: is {kind}, not {expected}; export the sheet as CSV "
        "(comma-separated, UTF-8) and pass that file"
    )


def delimiter_hint(names: list[str], known: frozenset[str], canonical) -> str | None:
    """When the whole header was read as one column that another delimiter splits into contract
    columns (`claim_id;line_number;…`), the delimiter's name; else None."""
    if len(names) != 1:
        return None
    for sep, name in _DELIMITERS.items():
        parts = [canonical(p) for p in names[0].split(sep)]
        if len(parts) > 1 and any(p in known for p in parts):
            return name
    return None


def delimiter_message(option: str, path, delimiter: str) -> str:
    return (
        f"{option} {path}: the header is one column with {delimiter}s in it: the file looks "
        f"{delimiter}-delimited; claim files are comma-separated CSV (export again with ',' as the "
        "delimiter)"
    )
