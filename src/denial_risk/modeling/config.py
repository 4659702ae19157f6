"""The training configuration: what `--config` TOML may set, checked before any work starts.

The file is read into a pydantic model that refuses unknown tables and keys
(a typo like `[feature]` or `extra_categorica` would otherwise be ignored in
silence) and wrongly typed values, and checks the tiers (`0 < medium < high < 1`);
any problem is one line naming the key (exit 2). `TrainConfig` is the flat
result the rest of the training code reads.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from denial_risk.contract import schema
from denial_risk.errors import UserError
from denial_risk.tableio.files import check_input

DEFAULT_TIERS = {"high": 0.5, "medium": 0.2}


@dataclass
class TrainConfig:
    """What `--config` TOML can set; every field has a sensible default."""

    extra_boolean: tuple[str, ...] = ()
    extra_numeric: tuple[str, ...] = ()
    extra_categorical: tuple[str, ...] = ()
    outcome_columns: tuple[str, ...] = ()
    calibration_share: float = 0.15
    holdout_share: float = 0.15
    small_data_rows: int = 30_000
    tiers: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    seed: int = 0

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return (*self.extra_boolean, *self.extra_numeric, *self.extra_categorical)

    def as_params(self) -> dict:
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, (tuple, list)):
                d[k] = ",".join(v) or "(none)"
        tiers = d.pop("tiers")
        d.update({f"tier_{k}": v for k, v in tiers.items()})
        return d

    def check_columns(self, columns, data: str) -> None:
        """Every configured extra column must be in the data: one line naming the first that is not."""
        have = set(columns)
        missing = [c for c in self.extra_columns if c not in have]
        if missing:
            raise UserError(
                f"--data {data}: missing column '{missing[0]}' named in the --config [features] table"
            )


# --------------------------------------------------------------------------- the file's shape


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Features(_Strict):
    extra_boolean: list[str] = Field(default_factory=list)
    extra_numeric: list[str] = Field(default_factory=list)
    extra_categorical: list[str] = Field(default_factory=list)


class _Training(_Strict):
    outcome_columns: list[str] = Field(default_factory=list)
    calibration_share: float = Field(0.15, gt=0, lt=0.5)
    holdout_share: float = Field(0.15, gt=0, lt=0.5)
    small_data_rows: int = Field(30_000, ge=0)
    seed: int = 0


class _Tiers(_Strict):
    high: float = DEFAULT_TIERS["high"]
    medium: float = DEFAULT_TIERS["medium"]

    @model_validator(mode="after")
    def _ordered(self):
        if not 0 < self.medium < self.high < 1:
            raise ValueError(f"need 0 < medium < high < 1 (got medium {self.medium}, high {self.high})")
        return self


class _ConfigFile(_Strict):
    features: _Features = Field(default_factory=_Features)
    training: _Training = Field(default_factory=_Training)
    tiers: _Tiers = Field(default_factory=_Tiers)


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = [str(p) for p in err["loc"] if not isinstance(p, int)]
    key = (f"[{where[0]}] " + ".".join(where[1:])).strip() if where else "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{key}: {msg}"


def load_config(path: str | None) -> TrainConfig:
    """Read `--config` TOML: `[features]` extra columns, `[training]` shares, `[tiers]`."""
    if path is None:
        return TrainConfig()
    p = Path(path)
    check_input(p, "--config")  # missing, a folder, a FIFO (which would block) or a device
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--config {path}: not valid TOML ({exc})") from None
    try:
        parsed = _ConfigFile.model_validate(doc)
    except ValidationError as exc:
        raise UserError(f"--config {path}: {_first_problem(exc)}") from None
    feats, training = parsed.features, parsed.training
    cfg = TrainConfig(
        extra_boolean=tuple(feats.extra_boolean),
        extra_numeric=tuple(feats.extra_numeric),
        extra_categorical=tuple(feats.extra_categorical),
        outcome_columns=tuple(training.outcome_columns),
        calibration_share=training.calibration_share,
        holdout_share=training.holdout_share,
        small_data_rows=training.small_data_rows,
        seed=training.seed,
        tiers={"high": parsed.tiers.high, "medium": parsed.tiers.medium},
    )
    contract = set(schema.REQUIRED) | set(schema.OPTIONAL) | set(schema.OUTCOME_COLUMNS)
    clash = [c for c in cfg.extra_columns if c in contract or c in cfg.outcome_columns]
    if clash:
        raise UserError(
            f"--config {path}: '{clash[0]}' cannot be an extra feature (it is a contract or outcome column)"
        )
    dup = sorted({c for c in cfg.extra_columns if cfg.extra_columns.count(c) > 1})
    if dup:
        raise UserError(f"--config {path}: [features] '{dup[0]}' is named more than once")
    return cfg


def config_of_model(model) -> TrainConfig:
    """The feature configuration a trained model was fitted with (from its stored info)."""
    return TrainConfig(
        extra_boolean=tuple(model.info.get("extra_boolean", ())),
        extra_numeric=tuple(model.info.get("extra_numeric", ())),
        extra_categorical=tuple(model.info.get("extra_categorical", ())),
        tiers=dict(model.tiers),
    )
