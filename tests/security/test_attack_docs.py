"""Issue 25 W2 and the trust model: docs/cli.md said a model whose digest was regenerated over
tampered files "still cannot unpickle or call anything", which holds for the skops file only (an
edited `pyfunc.py` with its own digest runs: tests/registry/test_trust.py shows it). The page now
says so, and states the trust model in five lines."""

from __future__ import annotations

import re
from pathlib import Path

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _text() -> str:
    return " ".join(CLI_MD.read_text(encoding="utf-8").split())


def test_w2_the_docs_no_longer_promise_that_a_vouched_model_runs_nothing():
    text = _text()
    assert "a model whose digest *was* given for tampered files still cannot unpickle" not in text
    assert "a digest given (or recorded) for edited code runs that code" in text


def test_the_trust_model_is_stated_in_five_lines():
    lines = CLI_MD.read_text(encoding="utf-8").splitlines()
    start = lines.index("**The trust model, in five lines.**")
    items = [line for line in lines[start + 1 : start + 7] if re.match(r"\d\. ", line)]
    assert len(items) == 5
    joined = " ".join(items)
    for words in ("write the store", "signing key", "three times", "--model-sha256"):
        assert words in joined, words
