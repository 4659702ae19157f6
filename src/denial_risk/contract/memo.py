"""A bounded memo of per-key answers computed a batch at a time.

Serving sees the same few codes and dates again and again, so their lookups are remembered across
requests; the keys come from requests, so the memo holds at most `limit` of them and forgets the
oldest first (a dict keeps insertion order). Used by `contract.facts` (policy rows per code) and
`contract.values` (a date text's parse).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence


def remember(memo: dict, keys: Sequence[Hashable], compute: Callable[[list], Sequence], limit: int) -> list:
    """Each key's answer, in `keys`' order: from `memo`, or from one `compute(missing keys)` call whose
    answers are then kept (at most `limit` keys in all, the oldest dropped first)."""
    found = {k: memo.get(k) for k in keys}
    todo = [k for k, v in found.items() if v is None]
    if todo:
        found.update(zip(todo, compute(todo)))
        keep = todo[-limit:] if limit > 0 else []
        for old in list(memo)[: max(len(memo) + len(keep) - limit, 0)]:
            del memo[old]
        memo.update((k, found[k]) for k in keep)
    return [found[k] for k in keys]
