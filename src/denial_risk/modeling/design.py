"""A sparse 0/1 design matrix built column by column (a named indicator per column), for the
penalised logistic fits of the fix effects (`modeling.effects`): the effects' model has thousands
of indicator columns, most of them nearly empty, which a dense frame would hold in full."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse


class Design:
    """Column registry and (row, column) lists for a sparse 0/1 design."""

    def __init__(self, n: int):
        self.n = n
        self.columns: dict[str, int] = {}
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []

    def add(self, name: str, mask: np.ndarray) -> None:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        j = self.columns.setdefault(name, len(self.columns))
        self.rows.append(rows)
        self.cols.append(np.full(len(rows), j))

    def copy(self) -> Design:
        out = Design(self.n)
        out.columns, out.rows, out.cols = dict(self.columns), list(self.rows), list(self.cols)
        return out

    def add_categories(self, prefix: str, values: np.ndarray, min_count: int = 1) -> None:
        codes, uniq = pd.factorize(pd.Series(values, dtype=object).astype(str))
        counts = np.bincount(codes, minlength=len(uniq))
        for k, u in enumerate(uniq):
            if counts[k] >= min_count:
                self.add(f"{prefix}={u}", codes == k)

    def matrix(self) -> sparse.csr_matrix:
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, int)
        cols = np.concatenate(self.cols) if self.cols else np.zeros(0, int)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.n, len(self.columns)))
