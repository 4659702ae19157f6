"""Damage X12 files the way real ones arrive damaged: the `dmg` fixture (helpers for the leniency tests).

The project's writer puts one segment per line (`SEG~\\n`), so a file is a list of
segment strings; each helper returns a new list.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from denial_risk.testing import make_claims
from denial_risk.x12 import write_835, write_837p

TERM = "~\n"
# Segments that close a claim loop, and the one that opens it.
CLAIM = {"837": ("CLM", ("CLM", "HL", "SE")), "835": ("CLP", ("CLP", "LX", "PLB", "SE"))}


def segments(text: str) -> list[str]:
    return [s for s in text.split(TERM) if s]


def join(segs: list[str]) -> str:
    return "".join(s + TERM for s in segs)


def sid(seg: str) -> str:
    return seg.split("*", 1)[0]


def where(segs: list[str], seg_id: str) -> list[int]:
    return [i for i, s in enumerate(segs) if sid(s) == seg_id]


def element(seg: str, k: int) -> str:
    return seg.split("*")[k]


def set_element(segs: list[str], i: int, k: int, value: str) -> list[str]:
    out = list(segs)
    parts = out[i].split("*")
    parts[k] = value
    out[i] = "*".join(parts)
    return out


def drop(segs: list[str], *indices: int) -> list[str]:
    gone = set(indices)
    return [s for i, s in enumerate(segs) if i not in gone]


def control_numbers(segs: list[str]) -> list[str]:
    """ST02 of each transaction, in order."""
    return [element(segs[i], 2) for i in where(segs, "ST")]


@dataclass
class ClaimSpan:
    claim_id: str
    start: int  # text offset of the claim's first segment
    end: int  # text offset just after its last segment (where the closing segment begins)


def claim_spans(text: str, kind: str) -> list[ClaimSpan]:
    """Each claim loop's extent in the text (837: CLM to the next CLM/HL/SE; 835: CLP to CLP/LX/PLB/SE)."""
    opener, closers = CLAIM[kind]
    spans: list[ClaimSpan] = []
    pos = 0
    open_span: ClaimSpan | None = None
    for seg in text.split(TERM):
        if not seg:
            break
        s = sid(seg)
        if open_span is not None and s in closers:
            open_span.end = pos
            spans.append(open_span)
            open_span = None
        if s == opener:
            open_span = ClaimSpan(element(seg, 1), pos, -1)
        pos += len(seg) + len(TERM)
    assert open_span is None
    return spans


def written(folder: Path, n_lines: int, seed: int, **split) -> tuple[pd.DataFrame, Path, Path]:
    """A claim table from `make_claims` written as one 837P and one 835 file."""
    table = make_claims(n_lines, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    (c,) = write_837p(table, folder / "claims.837", **split)
    (r,) = write_835(table, folder / "remits.835", **split)
    return table, c, r


@pytest.fixture(scope="session")
def dmg() -> SimpleNamespace:
    """The helpers above, for test modules (tests are imported by path, so not by module name)."""
    here = sys.modules[__name__]
    names = [
        "TERM",
        "segments",
        "join",
        "sid",
        "where",
        "element",
        "set_element",
        "drop",
        "control_numbers",
        "claim_spans",
        "written",
    ]
    return SimpleNamespace(**{n: getattr(here, n) for n in names})
