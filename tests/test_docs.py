"""`featurekit docs`: the site's data (columns, lineage, runs, monitors), the DAG layout,
self-containment, and the server."""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import urllib.request
from datetime import datetime

import pytest
from click.testing import CliRunner
from conftest import rows

from featurekit.cli import main
from featurekit.docsite import docs_server, generate_docs
from featurekit.docsite.layout import Placed, crossings, layers, layout


def site_data(page_path) -> dict:
    """The JSON the page embeds, parsed back the way the page's script reads it."""
    text = page_path.read_text()
    match = re.search(r"<script id='fk-data' type='application/json'>(.*?)</script>", text,
                      re.DOTALL)
    assert match is not None
    return json.loads(match.group(1))


def shop(factory) -> None:
    factory.seed("src", "id,ts,b,c\n1,2024-01-01,10,x\n2,2024-01-02,20,y\n3,2024-01-02,30,z\n",
                 timestamp="ts")
    factory.model("m1", "SELECT id, CAST(ts AS TIMESTAMP) AS ts, b * 2 AS b2, c FROM src",
                  header="entity: id\ntimestamp: ts\nmaterialized: table\nrefresh: 1d\n"
                         "description: Doubled b.\ncolumns:\n  b2: Twice b.")
    factory.model("m2", """
        SELECT m.id, m.ts, m.b2 + 1 AS x, s.c AS c2, count(*) OVER () AS n
        FROM m1 AS m JOIN src AS s ON s.id = m.id
    """, header="materialized: view")
    factory.model("m3", "SELECT * FROM m2 WHERE x > 0", header="materialized: table")


def by_id(data: dict) -> dict:
    return {n["id"]: n for n in data["nodes"]}


def upstream(node: dict) -> dict:
    return {c["name"]: [tuple(p) for p in c["upstream"]] for c in node["columns"]}


def test_lineage_follows_columns_across_models(duck_project):
    shop(duck_project)
    page = generate_docs(duck_project.open(), duck_project.root / "site")
    nodes = by_id(site_data(page))
    assert upstream(nodes["m1"]) == {"id": [("src", "id")], "ts": [("src", "ts")],
                                     "b2": [("src", "b")], "c": [("src", "c")]}
    assert upstream(nodes["m2"]) == {"id": [("m1", "id")], "ts": [("m1", "ts")],
                                     "x": [("m1", "b2")], "c2": [("src", "c")], "n": []}
    # SELECT * expands with the columns of what it reads
    assert upstream(nodes["m3"]) == {c: [("m2", c)] for c in ("id", "ts", "x", "c2", "n")}
    assert [c["name"] for c in nodes["src"]["columns"]] == ["id", "ts", "b", "c"]
    assert nodes["m1"]["columns"][2]["description"] == "Twice b."


def test_lineage_names_a_table_source_by_its_source_name(duck_project):
    duck_project.write("models_sql/sources.yml",
                       "sources:\n  events:\n    table: raw.event_log\n    timestamp: ts\n")
    duck_project.model("per_user",
                       "SELECT e.user_id, e.amount * 2 AS double FROM raw.event_log e")
    nodes = by_id(site_data(generate_docs(duck_project.open(), duck_project.root / "site")))
    assert upstream(nodes["per_user"]) == {"user_id": [("events", "user_id")],
                                           "double": [("events", "amount")]}
    assert nodes["per_user"]["depends_on"] == ["events"]


def test_generate_before_any_refresh_marks_models_never_refreshed(make_project):
    factory = make_project()
    shop(factory)
    project = factory.open()
    data = site_data(generate_docs(project, factory.root / "site"))
    nodes = by_id(data)
    assert data["refreshed"] is False
    for name in ("m1", "m2", "m3"):
        assert nodes[name]["last_run"] is None
        assert nodes[name]["freshness"]["status"] == "never"
        assert nodes[name]["compiled_sql"].upper().startswith("SELECT")
    assert [c["name"] for c in nodes["m3"]["columns"]] == ["id", "ts", "x", "c2", "n"]
    assert nodes["m1"]["tests"] == [] and nodes["m1"]["monitors"] == []


def test_generate_after_refresh_shows_runs_types_and_row_counts(make_project):
    factory = make_project()
    shop(factory)
    project = factory.open()
    assert {r.status for r in project.refresh()} == {"success"}
    data = site_data(generate_docs(project, factory.root / "site"))
    nodes = by_id(data)
    assert data["refreshed"] is True
    expected = rows(project, "SELECT count(*) FROM {schema}.m1")[0][0]
    run = nodes["m1"]["last_run"]
    assert run["status"] == "success" and run["rows"] == expected == 3
    assert datetime.fromisoformat(run["last_success"]) <= datetime.utcnow()
    assert nodes["m1"]["freshness"]["status"] == "ok"
    types = {c["name"]: (c["type"] or "").lower() for c in nodes["m1"]["columns"]}
    assert types["ts"].startswith("timestamp") and types["c"] in ("varchar", "text")
    assert nodes["m1"]["entity"] == ["id"] and nodes["m1"]["ttl"] is None
    assert nodes["m1"]["refresh"] == "1d" and nodes["m1"]["materialized"] == "table"


def test_monitors_watching_a_model_show_latest_status_and_history(make_project):
    factory = make_project()
    shop(factory)
    factory.write("monitors/m1_rows.yml", """
        description: Rows of m1.
        source: m1
        timestamp: ts
        current: {last: 1d}
        checks:
          - {test: row_count, min: 2}
    """)
    project = factory.open()
    project.refresh()
    first = project.monitor(run_all=True, as_of="2024-01-01T12:00:00").results
    second = project.monitor(run_all=True, as_of="2024-01-02T12:00:00").results
    data = site_data(generate_docs(project, factory.root / "site"))
    (monitor,) = by_id(data)["m1"]["monitors"]
    assert monitor["name"] == "m1_rows" and monitor["tests"] == ["row_count"]
    (check,) = monitor["checks"]
    # 1 row in the day before the first time, 2 in the day before the second
    assert [p[1] for p in check["history"]] == [1, 2]
    assert [p[2] for p in check["history"]] == [first[0].status, second[0].status]
    assert (check["status"], check["statistic"]) == (second[0].status, 2)
    assert by_id(data)["m2"]["monitors"] == []


def test_tests_of_a_model_show_their_latest_result(make_project):
    factory = make_project()
    shop(factory)
    factory.model("m4", "SELECT id, b FROM src",
                  header="materialized: table\ntests:\n  - not_null: id\n"
                         "  - expression: \"b < 25\"")
    project = factory.open()
    before = by_id(site_data(generate_docs(project, factory.root / "site")))["m4"]["tests"]
    assert [(t["kind"], t["status"]) for t in before] == [("not_null", None),
                                                         ("expression", None)]
    project.refresh()
    results = {r.test: r for r in project.test()}
    tests = by_id(site_data(generate_docs(project, factory.root / "site")))["m4"]["tests"]
    assert {t["name"]: (t["status"], t["failures"]) for t in tests} == {
        name: (r.status, r.failures) for name, r in results.items()}
    assert sorted((t["kind"], t["status"], t["failures"]) for t in tests) == [
        ("expression", "fail", 1), ("not_null", "pass", 0)]  # b = 30 fails b < 25
    assert by_id(site_data(generate_docs(project, factory.root / "site")))["m1"]["tests"] == []


def test_page_is_self_contained_and_escapes_user_text(duck_project):
    shop(duck_project)
    duck_project.model("m4", "SELECT 1 AS one",
                       header="description: ends </script><script>alert(1)</script> here")
    page = generate_docs(duck_project.open(), duck_project.root / "site")
    text = page.read_text()
    assert not re.search(r"https?:|//cdn|\bsrc=|fetch\(|XMLHttpRequest|import\(", text)
    assert "alert(1)</script>" not in text
    assert by_id(site_data(page))["m4"]["description"].startswith("ends </script>")
    assert [p.name for p in page.parent.iterdir()] == ["index.html"]


def test_dag_svg_places_every_model_right_of_its_inputs(duck_project):
    shop(duck_project)
    page = generate_docs(duck_project.open(), duck_project.root / "site")
    text = page.read_text()
    boxes = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in re.finditer(
        r"data-id='([^']+)'><title>[^<]*</title><rect x='([\d.]+)' y='([\d.]+)'", text)}
    assert set(boxes) == {"src", "m1", "m2", "m3"}
    for parent, child in [("src", "m1"), ("m1", "m2"), ("src", "m2"), ("m2", "m3")]:
        assert boxes[parent][0] < boxes[child][0]
    assert len(set(boxes.values())) == len(boxes)


# -- layout ------------------------------------------------------------------------------

def test_layers_are_longest_paths_without_recursion_limits():
    chain = [f"n{i}" for i in range(3000)]
    edges = list(itertools.pairwise(chain)) + [("n0", "n2999")]
    assert layers(chain, edges) == {name: i for i, name in enumerate(chain)}


def test_barycenter_ordering_finds_the_crossing_free_order():
    # Seeded in a bad order: every model reads the source on the "wrong" row.
    nodes = ["a", "b", "c", "z", "y", "x", "w"]
    edges = [("a", "x"), ("b", "y"), ("c", "z"), ("x", "w"), ("z", "w"), ("a", "w")]
    placed = layout(nodes, edges)
    best = _brute_force_min_crossings(nodes, edges)
    assert best == 0 and crossings(placed, edges) == best
    rows_by_layer: dict[int, list[int]] = {}
    for p in placed.values():
        rows_by_layer.setdefault(p.layer, []).append(p.row)
    assert all(sorted(r) == list(range(len(r))) for r in rows_by_layer.values())
    assert all(placed[a].layer < placed[b].layer for a, b in edges)


def _brute_force_min_crossings(nodes, edges) -> int:
    """Fewest crossings over every ordering of every layer (reference for small graphs)."""
    layer = layers(nodes, edges)
    groups = [[n for n in nodes if layer[n] == i] for i in sorted(set(layer.values()))]
    best = None
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        placed = {n: Placed(i, r) for i, order in enumerate(orders) for r, n in enumerate(order)}
        count = crossings(placed, edges)
        best = count if best is None else min(best, count)
    return best


# -- serve -------------------------------------------------------------------------------

def test_docs_serve_on_a_taken_port_says_so_and_suggests_port(duck_project):
    shop(duck_project)
    generate_docs(duck_project.open())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["docs", "serve", "--project-dir",
                                           str(duck_project.root), "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


def test_docs_serve_before_generate_says_what_to_run(duck_project):
    shop(duck_project)
    result = CliRunner().invoke(main, ["docs", "serve", "--project-dir", str(duck_project.root)])
    assert result.exit_code == 2 and "featurekit docs generate" in result.output


def test_docs_server_serves_the_generated_page(duck_project):
    shop(duck_project)
    result = CliRunner().invoke(main, ["docs", "generate", "--project-dir",
                                       str(duck_project.root)])
    assert result.exit_code == 0, result.output
    page = duck_project.root / "target" / "docs" / "index.html"
    server = docs_server(page.parent, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == page.read_bytes()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("bad", ["-1", "70000", "http"])
def test_docs_serve_rejects_a_bad_port(duck_project, bad):
    result = CliRunner().invoke(main, ["docs", "serve", "--project-dir", str(duck_project.root),
                                       "--port", bad])
    assert result.exit_code == 2 and "--port" in result.output
