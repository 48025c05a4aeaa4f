"""Data tests (model headers' `tests:` and tests_sql/*.sql): `featurekit test` and `build`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import rows, spark_too

from featurekit.cli import main
from featurekit.errors import ModelError

#: order_id, customer_id, channel, amount (None = empty cell)
ORDERS = [
    (1, 10, "pos", 5.0),
    (2, 10, "online", -1.0),
    (3, None, "pos", 7.0),
    (4, 11, "atm", 3.0),
    (4, 12, "pos", None),
    (5, 99, "online", 2.0),
    (6, 11, "atm", 4.0),
]
CUSTOMERS = [10, 11, 12]
ORDERS_SQL = """
    SELECT CAST(order_id AS BIGINT) AS order_id, CAST(customer_id AS BIGINT) AS customer_id,
           channel, CAST(amount AS DOUBLE) AS amount
    FROM orders
"""


def csv(header: str, records) -> str:
    return header + "\n" + "".join(
        ",".join("" if v is None else str(v) for v in record) + "\n" for record in records)


def orders_project(make_project, tests: str, extra_models: dict[str, str] | None = None):
    factory = make_project()
    factory.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    factory.seed("customers", csv("customer_id", [(c,) for c in CUSTOMERS]))
    factory.model("orders_clean", ORDERS_SQL, "materialized: table\ntests:\n" + tests)
    for name, sql in (extra_models or {}).items():
        factory.model(name, sql)
    return factory


def by_name(results):
    return {r.test: r for r in results}


@spark_too
def test_each_generic_test_counts_the_failing_rows(make_project):
    factory = orders_project(make_project, """
      - not_null: [customer_id, amount]
      - unique: order_id
      - unique: [order_id, customer_id]
      - accepted_values: {column: channel, values: [pos, online]}
      - relationships: {column: customer_id, to: customers, field: customer_id}
      - expression: "amount >= 0"
    """)
    project = factory.open()
    built = project.build()  # loads the customers seed the relationships test reads
    assert built.failed and [m.status for m in built.models] == ["success"]
    results = by_name(built.tests)
    # brute force over the rows above (NULL is no value: not a duplicate, not a bad value)
    ids = [o[0] for o in ORDERS]
    expected = {
        "not_null_orders_clean_customer_id": sum(o[1] is None for o in ORDERS),
        "not_null_orders_clean_amount": sum(o[3] is None for o in ORDERS),
        "unique_orders_clean_order_id": len({i for i in ids if ids.count(i) > 1}),
        "unique_orders_clean_order_id__customer_id": 0,
        "accepted_values_orders_clean_channel": len(
            {o[2] for o in ORDERS if o[2] not in ("pos", "online")}),
        "relationships_orders_clean_customer_id__customers_customer_id": sum(
            o[1] is not None and o[1] not in CUSTOMERS for o in ORDERS),
        "expression_orders_clean_6": sum(o[3] is not None and not o[3] >= 0 for o in ORDERS),
    }
    assert {name: r.failures for name, r in results.items()} == expected
    assert {r.status for name, r in results.items() if expected[name]} == {"fail"}
    assert {r.status for name, r in results.items() if not expected[name]} == {"pass"}
    assert results["unique_orders_clean_order_id"].samples == [{"order_id": 4, "n_records": 2}]
    assert results["accepted_values_orders_clean_channel"].samples == [
        {"channel": "atm", "n_records": sum(o[2] == "atm" for o in ORDERS)}]
    [orphan] = results["relationships_orders_clean_customer_id__customers_customer_id"].samples
    assert (orphan["order_id"], orphan["customer_id"]) == (5, 99)


@spark_too
def test_a_source_a_test_reads_must_be_loaded(make_project):
    factory = orders_project(make_project, "  - relationships: {column: customer_id, to: customers}\n")
    project = factory.open()
    project.refresh()  # loads only what models read: orders, not customers
    [result] = project.test()
    assert result.status == "error" and result.blocks
    assert result.message.startswith("source customers not built or loaded yet")


@spark_too
def test_warn_severity_reports_and_where_filters_rows(make_project):
    factory = orders_project(make_project, """
      - expression: {expression: "amount >= 0", severity: warn}
      - not_null: {columns: [customer_id], where: "channel = 'online'"}
      - accepted_values: {column: channel, values: [pos], where: "amount > 3"}
    """)
    project = factory.open()
    project.refresh()
    results = by_name(project.test())
    assert results["expression_orders_clean_1"].status == "warn"
    assert results["expression_orders_clean_1"].failures == 1
    assert not results["expression_orders_clean_1"].blocks
    online = [o for o in ORDERS if o[2] == "online"]
    assert results["not_null_orders_clean_customer_id"].failures == sum(
        o[1] is None for o in online)
    big = {o[2] for o in ORDERS if o[3] is not None and o[3] > 3 and o[2] != "pos"}
    assert results["accepted_values_orders_clean_channel"].failures == len(big)


@spark_too
def test_singular_tests_return_failing_rows_and_take_a_header(make_project):
    factory = orders_project(make_project, "  - unique: [order_id, customer_id]\n")
    factory.write("tests_sql/big_orders.sql", """
        /* featurekit
        severity: warn
        where: channel <> 'atm'
        */
        SELECT o.order_id, o.channel, c.customer_id
        FROM orders_clean AS o JOIN customers AS c ON c.customer_id = o.customer_id
        WHERE o.amount > 2
    """)
    project = factory.open()
    result = by_name(project.build().tests)["big_orders"]
    expected = [o for o in ORDERS if o[1] in CUSTOMERS and o[3] is not None and o[3] > 2
                and o[2] != "atm"]
    assert (result.kind, result.status, result.failures) == ("singular", "warn", len(expected))
    assert project.tests["big_orders"].depends_on == ["orders_clean"]


@spark_too
def test_results_are_recorded_in_the_metadata_schema(make_project):
    factory = orders_project(make_project, "  - not_null: [customer_id]\n  - unique: order_id\n")
    project = factory.open()
    project.refresh()
    project.test()
    project.test(["orders_clean"])
    recorded = rows(project, f"SELECT test, status, failures FROM "
                             f"{project.engine.relation('test_results', factory.metadata)} "
                             f"ORDER BY test")
    assert recorded == [("not_null_orders_clean_customer_id", "fail", 1)] * 2 + [
        ("unique_orders_clean_order_id", "fail", 1)] * 2


@spark_too
def test_build_stops_descendants_of_a_model_whose_error_test_fails(make_project):
    factory = orders_project(make_project, "  - unique: order_id\n", {
        "order_totals": "SELECT customer_id, sum(amount) AS total FROM orders_clean GROUP BY 1",
        "order_report": "SELECT count(*) AS n FROM order_totals",
        "customer_list": "SELECT customer_id FROM customers",
    })
    factory.write("models_sql/order_totals.sql", """
        /* featurekit
        materialized: table
        tests:
          - expression: {expression: "total < 0", severity: warn}
        */
        SELECT customer_id, sum(amount) AS total FROM orders_clean GROUP BY 1
    """)
    result = CliRunner().invoke(main, ["build", "--project-dir", str(factory.root),
                                       "--output", "json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    status = {m["model"]: m["status"] for m in document["models"]}
    assert status == {"orders_clean": "success", "order_totals": "skipped",
                      "order_report": "skipped", "customer_list": "success"}
    tests = {t["test"]: t["status"] for t in document["tests"]}
    assert tests == {"unique_orders_clean_order_id": "fail",
                     "expression_order_totals_1": "skipped"}


@spark_too
def test_build_warn_tests_do_not_stop_anything(make_project):
    factory = orders_project(make_project, "  - unique: {column: order_id, severity: warn}\n",
                             {"order_totals": "SELECT count(*) AS n FROM orders_clean"})
    project = factory.open()
    built = project.build()
    assert [(m.model, m.status) for m in built.models] == [
        ("orders_clean", "success"), ("order_totals", "success")]
    assert [(t.test, t.status) for t in built.tests] == [("unique_orders_clean_order_id", "warn")]
    assert not built.failed
    again = project.build()  # nothing due: the tests still run on the up-to-date models
    assert [m.status for m in again.models] == ["up_to_date", "up_to_date"]
    assert [t.status for t in again.tests] == ["warn"]


def test_unknown_column_is_an_error_at_load_when_the_sql_lists_columns(duck_project):
    duck_project.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    path = duck_project.model("orders_clean", ORDERS_SQL,
                              "materialized: table\ntests:\n  - unique: order_id\n"
                              "  - not_null: [custmer_id]\n")
    with pytest.raises(ModelError) as error:
        _ = duck_project.open().tests  # checked when first used
    assert str(error.value).startswith(f"{path.relative_to(duck_project.root)}:5: ")
    assert 'unknown column "custmer_id"' in str(error.value)
    assert 'did you mean "customer_id"' in str(error.value)


@spark_too
def test_unknown_column_of_a_star_model_is_found_at_test_time(make_project):
    factory = make_project()
    factory.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    factory.model("orders_all", "SELECT * FROM orders",
                  "materialized: table\ntests:\n  - expression: \"amout >= 0\"\n")
    project = factory.open()  # SELECT *: columns unknown until built
    project.refresh()
    result = CliRunner().invoke(main, ["test", "--project-dir", str(factory.root)])
    assert result.exit_code == 2
    assert "models_sql/orders_all.sql:4: test expression: unknown column" in result.stderr
    assert 'did you mean "amount"' in result.stderr and "Traceback" not in result.output


def test_relationships_to_an_unknown_model_names_the_line(duck_project):
    duck_project.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    duck_project.model("orders_clean", ORDERS_SQL,
                       "tests:\n  - relationships: {column: customer_id, to: custmers}\n")
    with pytest.raises(ModelError, match=r"orders_clean.sql:3: relationships test: unknown "
                                         r'model "custmers"'):
        _ = duck_project.open().tests  # checked when first used


def test_unknown_test_kind_names_the_line_and_the_kinds(duck_project):
    duck_project.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    duck_project.model("orders_clean", ORDERS_SQL,
                       "tests:\n  - not_null: [order_id]\n  - uniqe: order_id\n")
    with pytest.raises(ModelError, match=r'orders_clean.sql:4: unknown test "uniqe" '
                                         r'\(did you mean "unique"\?\)'):
        duck_project.open()


def test_singular_test_reading_an_unknown_model_names_file_and_line(duck_project):
    duck_project.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    duck_project.model("orders_clean", ORDERS_SQL)
    duck_project.write("tests_sql/bad.sql", "SELECT *\nFROM orders_clen\n")
    with pytest.raises(ModelError, match=r'tests_sql/bad.sql:2:6: unknown table "orders_clen" '
                                         r'\(did you mean "orders_clean"\?\)'):
        _ = duck_project.open().tests  # checked when first used


@spark_too
def test_the_example_projects_tests_pass_on_its_data(make_project):
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    factory = make_project()
    for folder in ("models_sql", "tests_sql", "seeds"):
        shutil.copytree(repo / folder, factory.root / folder, dirs_exist_ok=True)
    shutil.copy(repo / "pyproject.toml", factory.root / "pyproject.toml")
    built = factory.open().build()
    assert {m.status for m in built.models} == {"success"}
    assert len(built.tests) >= 20
    assert {t.test: t.status for t in built.tests if t.status != "pass"} == {}


@spark_too
def test_cli_test_prints_each_result_with_a_failing_row_and_exits_1(make_project):
    factory = orders_project(make_project, "  - unique: order_id\n  - not_null: [order_id]\n")
    factory.open().refresh()
    result = CliRunner().invoke(main, ["test", "--project-dir", str(factory.root)],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "1 failing row; e.g. order_id=4, n_records=2" in result.stdout
    assert "1 fail, 1 pass" in result.stdout


def test_tests_are_selected_by_model_or_by_their_own_name(duck_project):
    duck_project.seed("orders", csv("order_id,customer_id,channel,amount", ORDERS))
    duck_project.model("orders_clean", ORDERS_SQL,
                       "tests:\n  - unique: order_id\n  - not_null: [order_id, amount]\n")
    duck_project.model("totals", "SELECT sum(amount) AS total FROM orders_clean",
                       "tests:\n  - not_null: [total]\n")
    duck_project.write("tests_sql/no_orders.sql", "SELECT * FROM orders_clean WHERE false\n")
    project = duck_project.open()
    project.refresh()

    def names(select=None, exclude=None):
        return [r.test for r in project.test(select, exclude)]

    everything = ["unique_orders_clean_order_id", "not_null_orders_clean_order_id",
                  "not_null_orders_clean_amount", "no_orders", "not_null_totals_total"]
    assert names() == everything  # in dependency order: orders_clean's, then totals'
    assert names(["totals"]) == ["not_null_totals_total"]
    assert names(["no_orders"]) == ["no_orders"]
    assert names(["no_orders", "totals"]) == ["no_orders", "not_null_totals_total"]
    assert names(None, ["not_null_orders_clean_amount", "totals"]) == [
        "unique_orders_clean_order_id", "not_null_orders_clean_order_id", "no_orders"]
