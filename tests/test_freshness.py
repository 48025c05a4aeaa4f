"""Source freshness (sources.yml `freshness:`): the library, `featurekit freshness`, `ls`, and a
monitor's `{test: freshness}` that takes the source's thresholds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import rows, spark_too

from featurekit.cli import main
from featurekit.errors import ConfigError

AS_OF = datetime(2024, 1, 10, 12)
#: newest event per seed at or before AS_OF: fresh 2h old, stale 30h old, dead 5 days old
EVENTS = {
    "fresh": ["2024-01-09 08:00:00", "2024-01-10 10:00:00", "2024-01-11 00:00:00"],
    "stale": ["2024-01-08 00:00:00", "2024-01-09 06:00:00"],
    "dead": ["2024-01-05 12:00:00"],
}
RULE = "{warn_after: 6h, error_after: 2d}"


def reference_status(times: list[str], as_of: datetime, warn: timedelta,
                     error: timedelta) -> tuple[float | None, str]:
    """Brute force: the newest time at or before as_of, its age, and the verdict."""
    past = [datetime.fromisoformat(t) for t in times if datetime.fromisoformat(t) <= as_of]
    if not past:
        return None, "error"
    age = as_of - max(past)
    return age.total_seconds(), "error" if age > error else "warn" if age > warn else "ok"


def freshness_project(make_project):
    factory = make_project()
    sources = {}
    for name, times in EVENTS.items():
        factory.write(f"seeds/{name}.csv", "id,ts\n" + "".join(
            f"{i},{t}\n" for i, t in enumerate(times)))
        sources[name] = f"    seed: seeds/{name}.csv\n    timestamp: ts\n    freshness: {RULE}\n"
    factory.write("seeds/plain.csv", "id,ts\n1,2024-01-01 00:00:00\n")
    sources["plain"] = "    seed: seeds/plain.csv\n    timestamp: ts\n"
    factory.write("models_sql/sources.yml", "sources:\n" + "".join(
        f"  {name}:\n{body}" for name, body in sources.items()))
    factory.model("counts", " UNION ALL ".join(  # refresh loads the seeds models read
        f"SELECT '{name}' AS source, count(*) AS n FROM {name}" for name in sources))
    return factory


def refreshed(make_project):
    factory = freshness_project(make_project)
    project = factory.open()
    assert all(r.status == "success" for r in project.refresh())
    return factory, project


@spark_too
def test_each_source_is_judged_by_its_own_newest_row(make_project):
    _, project = refreshed(make_project)
    found = {r.source: r for r in project.freshness(as_of=AS_OF)}
    assert set(found) == set(EVENTS)  # "plain" declares no freshness
    for name, times in EVENTS.items():
        age, status = reference_status(times, AS_OF, timedelta(hours=6), timedelta(days=2))
        assert (found[name].age_seconds, found[name].status) == (age, status), name
        assert found[name].warn_after_seconds == 6 * 3600
        assert found[name].error_after_seconds == 2 * 86400
    assert [found[n].status for n in ("fresh", "stale", "dead")] == ["ok", "warn", "error"]


@spark_too
def test_results_are_recorded_in_the_metadata_schema(make_project):
    _, project = refreshed(make_project)
    project.freshness(as_of=AS_OF)
    project.freshness(["fresh"], as_of=AS_OF + timedelta(days=1))
    recorded = rows(project, f"SELECT source, status, age_seconds FROM "
                             f"{project.engine.relation('source_freshness', project.engine.metadata_schema)}"
                             " ORDER BY as_of, source")
    expected = [(name, *reversed(reference_status(EVENTS[name], at, timedelta(hours=6),
                                                  timedelta(days=2))))
                for at, names in ((AS_OF, sorted(EVENTS)), (AS_OF + timedelta(days=1), ["fresh"]))
                for name in names]
    assert recorded == expected
    assert expected[-1] == ("fresh", "warn", 12 * 3600.0)


@spark_too
def test_an_empty_or_missing_table_source_is_an_error(make_project):
    factory = make_project()
    factory.write("models_sql/sources.yml", f"""
    sources:
      raw_events:
        table: raw_events
        timestamp: ts
        freshness: {RULE}
      gone:
        table: not_there
        timestamp: ts
        freshness: {RULE}
    """)
    factory.model("m", "SELECT * FROM raw_events")
    project = factory.open()
    empty = pa.table({"ts": pa.array([], pa.timestamp("us"))})
    project.engine.load_arrow(empty, "raw_events")
    found = {r.source: r for r in project.freshness(as_of=AS_OF)}
    assert found["raw_events"].status == "error" and found["raw_events"].newest is None
    assert "no rows" in found["raw_events"].message
    assert found["gone"].status == "error" and "does not exist" in found["gone"].message


@pytest.mark.parametrize("rule, problem", [
    ("{warn_after: soon}", "not a duration"),
    ("{warn: 1h}", "warn_after and/or error_after"),
    ("{warn_after: 2d, error_after: 1h}", "must be at most"),
])
def test_bad_freshness_rules_name_the_file_and_source(duck_project, rule, problem):
    duck_project.seed("events", "id,ts\n1,2024-01-01 00:00:00\n", timestamp="ts")
    text = (duck_project.root / "models_sql/sources.yml").read_text()
    duck_project.write("models_sql/sources.yml", text.replace(
        "timestamp: ts", f"timestamp: ts\n    freshness: {rule}"))
    with pytest.raises(ConfigError, match=f'sources.yml: source "events": .*{problem}'):
        duck_project.open()


def test_freshness_needs_a_timestamp(duck_project):
    duck_project.write("seeds/e.csv", "id\n1\n")
    duck_project.write("models_sql/sources.yml",
                       "sources:\n  e:\n    seed: seeds/e.csv\n    freshness: {warn_after: 1h}\n")
    with pytest.raises(ConfigError, match='source "e": freshness needs `timestamp:`'):
        duck_project.open()


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@spark_too
def test_cli_exit_codes_follow_monitor(make_project):
    factory, project = refreshed(make_project)
    project.close()
    root = ["--project-dir", str(factory.root)]
    fresh = cli("freshness", *root, "-s", "fresh", "--as-of", AS_OF.isoformat())
    assert fresh.exit_code == 0, fresh.output
    assert "fresh" in fresh.output and "ok" in fresh.output
    warned = cli("freshness", *root, "-s", "stale", "--as-of", AS_OF.isoformat())
    assert warned.exit_code == 0 and "warn" in warned.output
    strict = cli("freshness", *root, "-s", "stale", "--as-of", AS_OF.isoformat(),
                 "--fail-on", "warn")
    assert strict.exit_code == 1
    everything = cli("freshness", *root, "--as-of", AS_OF.isoformat())
    assert everything.exit_code == 1 and "dead" in everything.output
    unknown = cli("freshness", *root, "-s", "fersh")
    assert unknown.exit_code == 2 and 'did you mean "fresh"' in unknown.output
    undeclared = cli("freshness", *root, "-s", "plain")
    assert undeclared.exit_code == 2 and "declares no freshness" in undeclared.output


@spark_too
def test_ls_shows_source_freshness(make_project):
    factory, project = refreshed(make_project)
    project.close()
    listing = cli("ls", "--project-dir", str(factory.root))
    assert listing.exit_code == 0, listing.output
    part = listing.output[listing.output.index("source freshness"):]
    for name in EVENTS:
        assert name in part
    assert "2024-01-11 00:00:00" in part  # "fresh"'s newest row, judged now


MONITOR = """
source: {source}
timestamp: ts
checks:
  - {{test: freshness{thresholds}}}
"""


@pytest.mark.parametrize("source, thresholds, warn, error", [
    ("stale", "", 6 * 3600, 2 * 86400),            # the source's warn_after / error_after
    ("stale", ", warn: 1d, error: 3d", 86400, 3 * 86400),  # the check's own
    ("plain", "", 86400, 3 * 86400),               # the test's defaults
])
@spark_too
def test_monitor_freshness_takes_the_sources_thresholds_when_it_gives_none(
        make_project, source, thresholds, warn, error):
    factory, project = refreshed(make_project)
    factory.write("monitors/f.yml", MONITOR.format(source=source, thresholds=thresholds))
    project = factory.open()
    [result] = project.monitor(as_of=AS_OF).results
    assert (result.warn, result.error) == (warn, error)
    times = EVENTS.get(source, ["2024-01-01 00:00:00"])
    age, status = reference_status(times, AS_OF, timedelta(seconds=warn),
                                   timedelta(seconds=error))
    assert (result.statistic, result.status) == (age, status)


@spark_too
def test_json_output_of_freshness(make_project):
    factory, project = refreshed(make_project)
    project.close()
    result = cli("freshness", "--project-dir", str(factory.root), "--as-of",
                 AS_OF.isoformat(), "--output", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["command"] == "freshness" and document["exit_code"] == 1
    by_name = {s["source"]: s for s in document["sources"]}
    assert by_name["stale"]["status"] == "warn" and by_name["stale"]["age_seconds"] == 30 * 3600
    assert by_name["fresh"]["newest"] == "2024-01-10T10:00:00Z"


@spark_too
def test_a_timestamp_column_the_table_lacks_names_the_source(make_project):
    factory = make_project()
    factory.write("models_sql/sources.yml", f"""
    sources:
      raw_events:
        table: raw_events
        timestamp: event_time
        freshness: {RULE}
    """)
    factory.model("m", "SELECT * FROM raw_events")
    project = factory.open()
    project.engine.load_arrow(pa.table({"ts": pa.array([AS_OF], pa.timestamp("us"))}),
                              "raw_events")
    with pytest.raises(ConfigError, match='sources.yml: source "raw_events": cannot read the '
                                          'newest event_time of .*raw_events: .*event_time'):
        project.freshness(as_of=AS_OF)
