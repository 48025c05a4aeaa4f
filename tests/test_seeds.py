"""The seeds folder ([tool.featurekit] seeds): CSV files no source declares are seeds too."""

from __future__ import annotations

import pytest
from conftest import rows, spark_too

from featurekit.errors import ConfigError


@spark_too
def test_an_undeclared_csv_in_the_seeds_folder_is_a_seed_models_can_read(make_project):
    factory = make_project()
    factory.write("seeds/regions.csv", "region_id,name\n1,north\n2,south\n3,east\n")
    factory.model("region_names", "SELECT region_id, upper(name) AS name FROM regions")
    project = factory.open()
    assert project.sources["regions"].seed == factory.root / "seeds" / "regions.csv"
    assert [r.status for r in project.refresh()] == ["success"]
    assert rows(project, "SELECT region_id, name FROM {schema}.region_names ORDER BY 1") == [
        (1, "NORTH"), (2, "SOUTH"), (3, "EAST")]


def test_the_seeds_setting_names_the_folder(duck_project):
    duck_project.write("pyproject.toml", '[tool.featurekit]\nseeds = "data/csv"\n')
    duck_project.write("data/csv/sub/regions.csv", "region_id\n1\n")
    duck_project.write("seeds/ignored.csv", "x\n1\n")
    project = duck_project.open()
    assert set(project.sources) == {"regions"}
    assert project.sources["regions"].seed == duck_project.root / "data/csv/sub/regions.csv"


def test_declared_seeds_keep_their_settings_and_are_not_repeated(duck_project):
    duck_project.seed("events", "id,ts\n1,2024-01-01 00:00:00\n", timestamp="ts")
    project = duck_project.open()
    assert list(project.sources) == ["events"]
    assert project.sources["events"].timestamp == "ts"


def test_a_csv_named_like_a_declared_source_is_an_error(duck_project):
    duck_project.write("models_sql/sources.yml", "sources:\n  regions:\n    table: raw.regions\n")
    duck_project.write("seeds/regions.csv", "region_id\n1\n")
    with pytest.raises(ConfigError, match='seeds/regions.csv: would be seed "regions", but '
                                          'source "regions" is already raw.regions'):
        duck_project.open()
