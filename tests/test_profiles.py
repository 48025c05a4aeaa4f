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


def write(tmp_path, output: str):
    path = tmp_path / "profiles.yml"
    path.write_text(f"featurekit:\n  outputs:\n    t: {output}\n")
    return path


def test_each_engine_has_its_own_defaults(tmp_path):
    duck = load_target(write(tmp_path, "{type: duckdb}"), project_dir=tmp_path / "proj")
    assert (duck.schema, duck.threads) == ("main", 1)
    assert duck.options["path"] == str(tmp_path / "proj" / "featurekit.duckdb")
    pg = load_target(write(tmp_path, "{type: postgres}"))
    assert (pg.schema, pg.threads, pg.metadata_schema) == ("public", 4, "featurekit")
    assert pg.describe() == "postgres postgres@127.0.0.1:5432/postgres schema public"


def test_duckdb_memory_and_absolute_paths_are_kept(tmp_path):
    memory = load_target(write(tmp_path, "{type: duckdb, path: ':memory:'}"))
    assert memory.options["path"] == ":memory:" and memory.describe() == "duckdb file :memory:"
    absolute = tmp_path / "elsewhere" / "f.duckdb"
    assert load_target(write(tmp_path, f"{{type: duckdb, path: '{absolute}'}}")).options[
        "path"] == str(absolute)


def test_unknown_key_of_an_engine_names_file_target_and_key(tmp_path):
    path = write(tmp_path, "{type: postgres, hots: db.example}")
    with pytest.raises(ConfigError) as info:
        load_target(path)
    message = str(info.value)
    assert message.startswith(f'{path}: target "t": unknown key "hots" for a postgres target')
    assert '(did you mean "host"?)' in message and "postgres targets take: type, schema" in message
    # a key of another engine is unknown too
    with pytest.raises(ConfigError, match=r'unknown key "host" for a duckdb target; duckdb '
                                          r"targets take: type, schema, threads, metadata_schema, state, "
                                          r"path"):
        load_target(write(tmp_path, "{type: duckdb, host: x}"))
    with pytest.raises(ConfigError, match=r'unknown key "thread" for a duckdb target '
                                          r'\(did you mean "threads"\?\)'):
        load_target(write(tmp_path, "{type: duckdb, thread: 2}"))


def test_numbers_are_checked_where_they_are_read(tmp_path):
    path = write(tmp_path, "{type: postgres, port: '54x'}")
    with pytest.raises(ConfigError, match=rf"{path}: target \"t\": port must be a whole number, "
                                          r"not '54x'"):
        load_target(path)
    with pytest.raises(ConfigError, match=r'target "t": threads must be a whole number'):
        load_target(write(tmp_path, "{type: duckdb, threads: many}"))
    assert load_target(write(tmp_path, "{type: postgres, port: '6543'}")).options["port"] == 6543


def test_database_is_another_name_for_dbname(tmp_path):
    assert load_target(write(tmp_path, "{type: postgres, database: feats}")).options[
        "dbname"] == "feats"


def test_url_password_is_a_secret(tmp_path):
    target = load_target(write(tmp_path, "{type: postgres, url: 'postgresql://u:s3cr3t@h/d'}"))
    assert target.secrets == ["s3cr3t"] and "s3cr3t" not in repr(target.config)
    assert load_target(write(tmp_path, "{type: duckdb}")).secrets == []


@pytest.mark.parametrize("source", ["example", "scaffold"])
def test_shipped_profiles_use_only_known_keys(tmp_path, source):
    from pathlib import Path

    import yaml

    from featurekit.scaffold import FILES

    if source == "example":
        path = Path(__file__).parent.parent / "profiles.yml"
    else:
        path = tmp_path / "profiles.yml"
        path.write_text(FILES["profiles.yml"].replace("{name}", "fk"))
    for name in yaml.safe_load(path.read_text())["featurekit"]["outputs"]:
        assert load_target(path, target=name).name == name


def test_loading_a_target_loads_no_driver(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "profiles.yml"
    path.write_text(PROFILES)
    code = (f"import sys; from featurekit.profiles import load_target; from pathlib import Path; "
            f"[load_target(Path({str(path)!r}), target=t) for t in ('dev', 'pg')]; "
            f"print([m for m in ('duckdb', 'psycopg') if m in sys.modules])")
    env = {"FK_TEST_PASSWORD": "x", "PATH": "", "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "[]", done.stderr
