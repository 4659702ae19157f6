"""The explain policy and `--as-of` as a scoring request's params (MLflow pyfunc params).

The logged model declares them in its signature (`registry/logged.py`), so the Spark engine can
tell its model UDF what `score` was told (`jobs/spark.py`) and a served request can send them in
its JSON body (`"params": {"as_of": "2025-03-01"}`, docs/cli.md). Without them a request is
answered as before: every line explained, its stage judged against today. They live here, beside
the policy they carry, so the signature, the pyfunc and the Spark engine read one list.

* `as_of`: "YYYY-MM-DD", the day that decides which lines are delivered (default: today);
* `explain`: which lines get reasons and fixes: "all" (default), "threshold" (the medium tier and
  up, or `min_probability`), "rules" (none beyond the rule layer: every line's certain findings
  and certain rules' fixes, the first pass of `--explain-top`), "none";
* `min_probability`: the threshold of "threshold" and of the likely CARC and fixes (default: the
  model's medium tier).
"""

from __future__ import annotations

import datetime

from denial_risk.scoring.explain import ExplainPolicy

# name -> (MLflow type, default); a default of None means "not given"
PARAMS: dict[str, tuple[str, object]] = {
    "as_of": ("string", None),
    "explain": ("string", "all"),
    "min_probability": ("double", None),
}
_MODES = {"all": "all", "threshold": "threshold", "rules": "top", "none": "none"}


class ParamError(ValueError):
    """A request param that cannot be used (the server answers 400)."""


def policy_of(params: dict | None) -> ExplainPolicy | None:
    """The policy a request's params ask for; None when they ask for the default (every line
    explained, as of today), which `scoring.score` answers as it always has."""
    given = {k: v for k, v in (params or {}).items() if k in PARAMS and v is not None and v != ""}
    explain = str(given.get("explain", "all"))
    if explain not in _MODES:
        raise ParamError(f"params: explain '{explain}' is not one of {', '.join(_MODES)}")
    as_of = _day(given["as_of"]) if "as_of" in given else None
    threshold = given.get("min_probability")
    if threshold is not None:
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ParamError(f"params: min_probability {threshold} is not between 0 and 1")
    if explain == "all" and as_of is None and threshold is None:
        return None
    return ExplainPolicy(_MODES[explain], min_probability=threshold, as_of=as_of)


def params_of(policy: ExplainPolicy, explain: str | None = None) -> dict:
    """The params that ask for `policy` (`explain`: another mode, keeping its day and threshold).
    `--explain-top N` asks for "rules": the N lines are only known once the whole file is ranked."""
    if explain is None:
        explain = next(name for name, mode in _MODES.items() if mode == policy.mode)
    params: dict[str, object] = {"explain": explain}
    if policy.as_of is not None:
        params["as_of"] = _day(policy.as_of).isoformat()
    if policy.min_probability is not None:
        params["min_probability"] = float(policy.min_probability)
    return params


def _day(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ParamError(f"params: as_of '{value}' is not a date (use YYYY-MM-DD)") from None
