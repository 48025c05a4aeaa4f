"""dbt-style selectors: tag:, path:, config.KEY:, source:, + and --exclude, on every command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from featurekit.cli import main
from featurekit.errors import ConfigError

#: name -> (header, sql); raw -> base -> (daily, sub/wide) -> report
MODELS = {
    "base": ("materialized: view\ntags: [core]", "SELECT id, ts FROM raw"),
    "daily": ("materialized: incremental\ntimestamp: ts\ntags: [core, nightly]",
              "SELECT id, ts FROM base"),
    "sub/wide": ("materialized: table\ntags: nightly", "SELECT id FROM base"),
    "report": ("materialized: table", "SELECT d.id FROM daily AS d JOIN wide AS w ON w.id = d.id"),
    "other": ("materialized: view", "SELECT 1 AS one"),
}


@pytest.fixture
def project(duck_project):
    duck_project.seed("raw", "id,ts\n1,2024-01-01 00:00:00\n", timestamp="ts")
    for name, (header, sql) in MODELS.items():
        duck_project.model(name, sql, header)
    return duck_project.open()


@pytest.mark.parametrize(("select", "exclude", "expected"), [
    (["tag:nightly"], [], {"daily", "wide"}),
    (["tag:core"], ["tag:nightly"], {"base"}),
    (["tag:nightly+"], [], {"daily", "wide", "report"}),
    (["+tag:nightly"], [], {"base", "daily", "wide"}),
    (["path:models_sql/sub"], [], {"wide"}),
    (["path:models_sql/sub/wide.sql"], [], {"wide"}),
    (["path:models_sql"], ["path:models_sql/sub"], {"base", "daily", "report", "other"}),
    (["config.materialized:incremental"], [], {"daily"}),
    (["config.materialized:incremental+"], [], {"daily", "report"}),
    (["config.materialized:view", "config.materialized:table"], ["other"],
     {"base", "wide", "report"}),
    (["source:raw+"], ["report"], {"base", "daily", "wide"}),
    ([], ["+daily"], {"wide", "report", "other"}),
    (["tag:core,tag:nightly"], [], {"base", "daily", "wide"}),
    (["config.materialized:*view"], [], {"base", "other"}),
])
def test_selectors_pick_the_expected_models(project, select, exclude, expected):
    chosen = project.select(select, exclude)
    assert set(chosen) == expected
    assert chosen == [name for name in project.graph.order if name in expected]  # DAG order


def test_unknown_method_lists_the_methods(project):
    with pytest.raises(ConfigError) as error:
        project.select(["foo:bar"])
    message = str(error.value)
    assert message.startswith('--select foo:bar: unknown selector method "foo"')
    for method in ("tag:", "path:", "config.KEY:", "source:"):
        assert method in message


def test_a_selector_that_matches_nothing_names_the_closest_value(project):
    with pytest.raises(ConfigError, match=r'--exclude tag:nightyl: no model has tag "nightyl" '
                                          r'\(did you mean "nightly"\?\)'):
        project.select(None, ["tag:nightyl"])
    with pytest.raises(ConfigError, match=r'cannot select on config "materialised" '
                                          r'\(did you mean "materialized"\?\)'):
        project.select(["config.materialised:view"])
    with pytest.raises(ConfigError, match=r'no model file under "models_sql/subb"'):
        project.select(["path:models_sql/subb"])


def test_cli_commands_take_select_and_exclude(project):
    root = str(project.root)
    runner = CliRunner()
    listing = runner.invoke(main, ["ls", "--project-dir", root, "-s", "tag:nightly+",
                                   "--exclude", "report", "-o", "json"])
    assert listing.exit_code == 0, listing.output
    assert [m["model"] for m in json.loads(listing.stdout)["models"]] == ["daily", "wide"]
    compiled = runner.invoke(main, ["compile", "--project-dir", root, "-s", "path:models_sql/sub"])
    assert compiled.exit_code == 0 and "wide" in compiled.output and "daily" not in compiled.output
    refreshed = runner.invoke(main, ["refresh", "--project-dir", root, "-s", "+tag:nightly",
                                     "--exclude", "config.materialized:table", "-o", "json"])
    assert refreshed.exit_code == 0, refreshed.output
    ran = {m["model"]: m["status"] for m in json.loads(refreshed.stdout)["models"]}
    assert ran == {"base": "success", "daily": "success"}
    built = runner.invoke(main, ["build", "--project-dir", root, "--exclude", "tag:core+"])
    assert built.exit_code == 0, built.output
    bad = runner.invoke(main, ["test", "--project-dir", root, "-s", "foo:bar"])
    assert bad.exit_code == 2 and "unknown selector method" in bad.stderr
