"""Patient keys hold: no public default salt; unset, one random salt per installation, made once in
the user's config folder with mode 600, named in one log line; the environment variable wins."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

import pytest

from denial_risk.errors import UserError
from denial_risk.x12 import codes


@pytest.fixture()
def config_home(tmp_path, monkeypatch):
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv(codes.SALT_ENV, raising=False)
    codes._installation_salt.cache_clear()
    yield home
    codes._installation_salt.cache_clear()


def test_no_public_default_remains():
    assert not hasattr(codes, "DEFAULT_SALT")
    with open(codes.__file__, encoding="utf-8") as f:
        assert "default-salt" not in f.read()


def test_a_random_salt_is_made_once_mode_600_and_said_where(config_home, caplog):
    with caplog.at_level(logging.INFO, logger="denial_risk"):
        first = codes.patient_key("MEMBER1")
        again = codes.patient_key("MEMBER1")
    path = config_home / "denial-risk" / "patient_salt"
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    salt = path.read_text().strip()
    assert len(salt) == 64 and int(salt, 16) >= 0  # 256 random bits
    said = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
    assert len(said) == 1 and "created" in said[0]
    assert first == again and first.startswith("pk_")
    # the key is the salted hash: the same member under another installation's salt is another key
    assert first == codes.patient_key("MEMBER1", salt=salt)
    assert first != codes.patient_key("MEMBER1", salt="denial-risk-default-salt-v1")


def test_each_installation_gets_its_own_salt_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv(codes.SALT_ENV, raising=False)
    keys = []
    for name in ("a", "b", "a"):
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / name))
        codes._installation_salt.cache_clear()
        keys.append(codes.patient_key("MEMBER1"))
    codes._installation_salt.cache_clear()
    assert keys[0] != keys[1] and keys[0] == keys[2]


def test_a_new_process_reads_the_same_salt_and_says_nothing(config_home):
    first = codes.patient_key("MEMBER1")
    code = "from denial_risk.x12.codes import patient_key; print(patient_key('MEMBER1'))"
    env = {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
    env.pop(codes.SALT_ENV, None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.stdout.strip() == first and "created" not in done.stderr


def test_home_config_when_xdg_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert codes.salt_path() == tmp_path / ".config" / "denial-risk" / "patient_salt"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the spec: ignored unless absolute
    assert codes.salt_path() == tmp_path / ".config" / "denial-risk" / "patient_salt"


def test_the_environment_variable_wins_and_makes_no_file(config_home, monkeypatch):
    monkeypatch.setenv(codes.SALT_ENV, "an-operator-chosen-secret")
    assert codes.patient_key("M") == codes.patient_key("M", salt="an-operator-chosen-secret")
    assert not (config_home / "denial-risk").exists()


def test_a_short_or_unwritable_salt_is_one_line(config_home, monkeypatch):
    path = config_home / "denial-risk" / "patient_salt"
    path.parent.mkdir(parents=True)
    path.write_text("short\n")
    with pytest.raises(UserError, match="shorter than 16 characters"):
        codes.patient_key("M")
    codes._installation_salt.cache_clear()
    path.unlink()
    path.parent.rmdir()
    config_home.rmdir()
    config_home.write_text("a file where the config folder should be")
    codes._installation_salt.cache_clear()
    with pytest.raises(UserError, match=f"cannot be created .*set {codes.SALT_ENV}"):
        codes.patient_key("M")


def test_a_salt_readable_by_others_is_warned_about(config_home, caplog):
    codes.patient_key("M")
    path = codes.salt_path()
    path.chmod(0o644)
    codes._installation_salt.cache_clear()
    with caplog.at_level(logging.WARNING, logger="denial_risk"):
        codes.patient_key("M")
    assert any("can be read by other users" in r.getMessage() for r in caplog.records)
