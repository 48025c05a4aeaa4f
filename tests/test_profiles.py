"""profiles.yml: targets, env_var, errors, and secrets that never leak."""

from __future__ import annotations

import pytest

from featurekit.errors import ConfigError, ConnectionFailed
from featurekit.profiles import load_target

PROFILES = """
featurekit:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: local.duckdb
    pg:
      type: postgres
      host: "{{ env_var('FK_TEST_HOST', '127.0.0.1') }}"
      port: 1
      user: alice
      password: "{{ env_var('FK_TEST_PASSWORD') }}"
      dbname: features
      schema: fs
      connect_timeout: 2
"""


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("FK_TEST_PASSWORD", "hunter2-s3cret")
    monkeypatch.delenv("FEATUREKIT_TARGET", raising=False)
    path = tmp_path / "profiles.yml"
    path.write_text(PROFILES)
    return path


def test_default_target_and_relative_duckdb_path(profiles):
    target = load_target(profiles)
    assert target.name == "dev" and target.type == "duckdb" and target.schema == "main"
    assert target.options["path"] == str(profiles.parent / "local.duckdb")


def test_target_from_argument_and_env(profiles, monkeypatch):
    assert load_target(profiles, target="pg").name == "pg"
    monkeypatch.setenv("FEATUREKIT_TARGET", "pg")
    target = load_target(profiles)
    assert target.name == "pg" and target.schema == "fs"
    assert target.options["host"] == "127.0.0.1"  # env_var default
    assert target.options["password"] == "hunter2-s3cret"


def test_env_var_value_wins_over_default(profiles, monkeypatch):
    monkeypatch.setenv("FK_TEST_HOST", "db.internal")
    assert load_target(profiles, target="pg").options["host"] == "db.internal"


def test_missing_env_var_without_default(profiles, monkeypatch):
    monkeypatch.delenv("FK_TEST_PASSWORD")
    with pytest.raises(ConfigError, match="environment variable FK_TEST_PASSWORD is not set"):
        load_target(profiles, target="pg")


def test_unknown_target_suggests(profiles):
    with pytest.raises(ConfigError, match=r'no target "pgg" \(did you mean "pg"\?\); targets: dev, pg'):
        load_target(profiles, target="pgg")


def test_unknown_type(profiles):
    profiles.write_text(PROFILES.replace("type: duckdb", "type: duckbd"))
    with pytest.raises(ConfigError, match=r'unknown type "duckbd" \(did you mean "duckdb"\?\)'):
        load_target(profiles)


def test_missing_profiles_file(tmp_path, monkeypatch):
    from featurekit.profiles import find_profiles_file

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FEATUREKIT_PROFILES_DIR", raising=False)
    with pytest.raises(ConfigError, match="no profiles.yml found"):
        find_profiles_file(tmp_path)


def test_unknown_profile(profiles):
    with pytest.raises(ConfigError, match='no profile "other"'):
        load_target(profiles, profile="other")


def test_password_never_in_repr_or_describe(profiles):
    target = load_target(profiles, target="pg")
    assert "hunter2" not in repr(target)
    assert "hunter2" not in target.describe()
    assert "alice@127.0.0.1:1/features" in target.describe()


def test_unreachable_postgres_names_host_port_and_hides_password(profiles):
    from featurekit.engines import connect

    target = load_target(profiles, target="pg")
    with pytest.raises(ConnectionFailed) as info:
        connect(target)
    message = str(info.value)
    assert "127.0.0.1:1" in message and "features" in message
    assert "hunter2" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_postgres_url_is_parsed_and_explicit_keys_win(tmp_path, monkeypatch):
    monkeypatch.delenv("FEATUREKIT_TARGET", raising=False)
    path = tmp_path / "profiles.yml"
    path.write_text(
        "featurekit:\n  outputs:\n    pg:\n      type: postgres\n"
        "      url: postgresql://bob:pa55word@db.example:6543/feats?sslmode=require\n"
        "      dbname: other\n"
    )
    target = load_target(path)
    assert target.options["host"] == "db.example" and target.options["port"] == 6543
    assert target.options["user"] == "bob" and target.options["sslmode"] == "require"
    assert target.options["dbname"] == "other"
    assert "pa55word" not in repr(target) and "pa55word" not in target.describe()


def test_url_of_another_database_is_rejected(tmp_path):
    path = tmp_path / "profiles.yml"
    path.write_text("featurekit:\n  outputs:\n    pg: {type: postgres, url: 'mysql://x@y/z'}\n")
    with pytest.raises(ConfigError, match="a postgres target needs postgresql://"):
        load_target(path, target="pg")


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "profiles.yml"
    path.write_text("featurekit:\n  outputs:\n    dev: {type: duckdb\n  bad: [\n")
    with pytest.raises(ConfigError, match=r"profiles.yml:\d+: invalid YAML"):
        load_target(path)
