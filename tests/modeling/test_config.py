"""`--config` is checked before any work: one line naming the key, exit 2 (docs/cli.md#--config)."""

from __future__ import annotations

import pytest

from denial_risk.errors import UserError
from denial_risk.modeling.config import DEFAULT_TIERS, load_config


def _load(tmp_path, text: str):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return load_config(str(p))


def test_a_full_config_is_read(tmp_path):
    cfg = _load(
        tmp_path,
        """
[features]
extra_boolean = ["has_face_to_face"]
extra_numeric = ["patient_age"]
extra_categorical = ["state"]
[training]
outcome_columns = ["appeal_result"]
calibration_share = 0.2
small_data_rows = 0
[tiers]
high = 0.6
medium = 0.3
""",
    )
    assert cfg.extra_columns == ("has_face_to_face", "patient_age", "state")
    assert cfg.outcome_columns == ("appeal_result",) and cfg.calibration_share == 0.2
    assert cfg.small_data_rows == 0 and cfg.tiers == {"high": 0.6, "medium": 0.3}
    assert load_config(None).tiers == DEFAULT_TIERS


@pytest.mark.parametrize(
    "text, message",
    [
        ("[feature]\nextra_boolean = ['x']\n", r"\[feature\] ?: unknown key|\[feature\]: unknown key"),
        ("[features]\nextra_categorica = ['x']\n", r"\[features\] extra_categorica: unknown key"),
        ("[features]\nextra_numeric = 'age'\n", r"\[features\] extra_numeric: "),
        ("[tiers]\nhigh = 'high'\n", r"\[tiers\] high: "),
        ("[tiers]\nhigh = -1\n", r"\[tiers\]: need 0 < medium < high < 1"),
        ("[tiers]\nmedium = 0.7\n", r"\[tiers\]: need 0 < medium < high < 1"),
        ("[training]\nholdout_share = 0.9\n", r"\[training\] holdout_share: "),
        ("[features]\nextra_numeric = ['billed_amount']\n", r"'billed_amount' cannot be an extra feature"),
        ("[features]\nextra_numeric = ['a']\nextra_categorical = ['a']\n", r"'a' is named more than once"),
        ("not toml ==", r"not valid TOML"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(UserError, match=message) as err:
        _load(tmp_path, text)
    assert "\n" not in str(err.value) and str(err.value).startswith("--config ")


def test_configured_columns_must_be_in_the_data(tmp_path):
    cfg = _load(tmp_path, "[features]\nextra_categorical = ['state']\n")
    cfg.check_columns(["claim_id", "state"], "claims.csv")
    with pytest.raises(UserError, match=r"--data claims.csv: missing column 'state'"):
        cfg.check_columns(["claim_id"], "claims.csv")
