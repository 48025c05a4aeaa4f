"""Point-in-time training sets and online features, on DuckDB and PostgreSQL (and Spark for
the tests marked @spark_too).

The core property: ``training_set`` equals a brute-force loop over every label row and every
feature row (``reference`` below), on generated data with exact ties at both ttl bounds.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurekit.errors import RetrievalError
from tests.conftest import SPARK_ENGINES, examples, spark_too

T0 = datetime(2024, 1, 1)
H = timedelta(hours=1)

SPEND = """\
customer_id,feature_ts,spend
1,2024-01-01 00:00:00,10.0
1,2024-01-02 00:00:00,20.0
1,2024-01-05 00:00:00,
2,2024-01-01 00:00:00,5.0
"""
PROFILE = "customer_id,feature_ts,age\n1,2020-01-01 00:00:00,30\n2,2020-01-01 00:00:00,40\n"
PAIR = """\
customer_id,merchant_id,feature_ts,pair_count
1,7,2024-01-01 00:00:00,1
1,8,2024-01-01 00:00:00,2
1,7,2024-01-03 00:00:00,3
"""
VIEW_SQL = "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, {cols} FROM {src}"


@pytest.fixture
def shop(make_project):
    """Feature views: customer_spend (ttl 2d), customer_profile (no ttl), customer_merchant
    (composite key), plus a model that is not a feature view. Built with refresh."""
    p = make_project()
    p.seed("spend_src", SPEND)
    p.seed("profile_src", PROFILE)
    p.seed("pair_src", PAIR)
    p.model("customer_spend", VIEW_SQL.format(cols="CAST(spend AS DOUBLE) AS spend",
                                               src="spend_src"),
            "entity: customer_id\ntimestamp: feature_ts\nttl: 2d")
    p.model("customer_profile", VIEW_SQL.format(cols="CAST(age AS INTEGER) AS age",
                                                 src="profile_src"),
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    p.model("customer_merchant",
            "SELECT customer_id, merchant_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
            "pair_count FROM pair_src",
            "entity: [customer_id, merchant_id]\ntimestamp: feature_ts")
    p.model("plain_counts", "SELECT customer_id, count(*) AS n FROM spend_src GROUP BY 1")
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    return project


def labels_frame(*rows, **extra) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "event_timestamp"])
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"])
    for name, values in extra.items():
        frame[name] = values
    return frame


def values(frame: pd.DataFrame, column: str) -> list:
    return [None if pd.isna(v) else v for v in frame[column]]


# -- semantics -------------------------------------------------------------------------------
@spark_too
def test_latest_row_at_or_before_t_within_ttl(shop):
    labels = labels_frame(
        (1, "2024-01-01 00:00:00"),  # exactly at a feature row: inclusive
        (1, "2024-01-01 23:59:59"),
        (1, "2024-01-02 00:00:00"),
        (1, "2024-01-04 00:00:00"),  # t - ttl == feature_ts: inclusive
        (1, "2024-01-04 00:00:01"),  # one second past the ttl: NULL
        (1, "2023-12-31 00:00:00"),  # before any row
        (1, "2024-01-05 12:00:00"),  # latest row has a NULL value
        (3, "2024-01-02 00:00:00"),  # unknown entity
    )
    train = shop.training_set(labels, ["customer_spend.spend"], timestamp="event_timestamp")
    assert values(train, "spend") == [10.0, 10.0, 20.0, 20.0, None, None, None, None]


@spark_too
def test_every_label_row_once_in_order_with_all_columns(shop):
    labels = labels_frame(
        (2, "2024-01-02"), (1, "2024-01-02"), (2, "2024-01-02"), (1, "2024-01-01"),
        note=["a", "b", "c", "d"], weight=[0.5, 1.5, 2.5, 3.5],
    )
    labels.index = [10, 10, 3, 7]  # duplicate index values are kept as they are
    train = shop.training_set(labels, ["customer_spend.*"], timestamp="event_timestamp")
    assert list(train.columns) == ["customer_id", "event_timestamp", "note", "weight", "spend"]
    assert list(train.index) == [10, 10, 3, 7]
    assert list(train["note"]) == ["a", "b", "c", "d"]
    assert values(train, "spend") == [5.0, 20.0, 5.0, 10.0]


@spark_too
def test_several_views_each_with_its_own_entity_and_ttl(shop):
    labels = labels_frame((1, "2024-01-10"), (2, "2024-01-02"), merchant_id=[7, 8])
    train = shop.training_set(
        labels, ["customer_spend.spend", "customer_profile.age", "customer_merchant.*"],
        timestamp="event_timestamp",
    )
    assert values(train, "spend") == [None, 5.0]  # 2d ttl: customer 1's row is too old
    assert values(train, "age") == [30, 40]  # no ttl: the 2020 row still counts
    assert values(train, "pair_count") == [3, None]  # composite key (2, 8) has no row


@spark_too
def test_composite_key_matches_both_columns(shop):
    labels = labels_frame((1, "2024-01-02"), (1, "2024-01-03"), (1, "2024-01-03"),
                          merchant_id=[7, 7, 8])
    train = shop.training_set(labels, ["customer_merchant.pair_count"],
                              timestamp="event_timestamp")
    assert values(train, "pair_count") == [1, 3, 2]


@spark_too
def test_tz_aware_timestamps_are_converted_naive_are_utc(shop):
    naive = labels_frame((1, "2024-01-02 00:00:00"), (1, "2024-01-01 23:00:00"))
    aware = naive.copy()
    aware["event_timestamp"] = aware["event_timestamp"].dt.tz_localize("UTC").dt.tz_convert(
        "America/New_York"
    )
    got_naive = shop.training_set(naive, ["customer_spend.spend"], timestamp="event_timestamp")
    got_aware = shop.training_set(aware, ["customer_spend.spend"], timestamp="event_timestamp")
    assert values(got_naive, "spend") == values(got_aware, "spend") == [20.0, 10.0]
    # New York wall time 19:00 on Jan 1 is midnight UTC Jan 2: the Jan 2 row counts.
    assert str(got_aware["event_timestamp"].iloc[0]) == "2024-01-01 19:00:00-05:00"


def test_full_names_and_entity_column_mapping(shop):
    labels = pd.DataFrame({"buyer": [1, 2], "at": pd.to_datetime(["2024-01-02", "2024-01-02"])})
    train = shop.training_set(labels, ["customer_spend.spend", "customer_profile.*"],
                              timestamp="at", full_names=True,
                              entity_columns={"customer_id": "buyer"})
    assert list(train.columns) == ["buyer", "at", "customer_spend__spend",
                                   "customer_profile__age"]
    assert values(train, "customer_spend__spend") == [20.0, 5.0]


def test_arrow_in_arrow_out(shop):
    labels = pa.Table.from_pandas(labels_frame((1, "2024-01-02"), (2, "2024-01-01")))
    train = shop.training_set(labels, ["customer_spend.spend"], timestamp="event_timestamp",
                              as_arrow=True)
    assert isinstance(train, pa.Table)
    assert train.column_names == ["customer_id", "event_timestamp", "spend"]
    assert train["spend"].to_pylist() == [20.0, 5.0]


@spark_too
def test_labels_from_a_sql_query_naming_a_model(shop):
    train = shop.training_set(
        "SELECT customer_id, feature_ts + INTERVAL 12 HOUR AS t FROM customer_spend "
        "ORDER BY customer_id, feature_ts",
        ["customer_spend.spend"], timestamp="t",
    )
    assert list(train.columns) == ["customer_id", "t", "spend"]
    assert values(train, "spend") == [10.0, 20.0, None, 5.0]


@spark_too
def test_a_failing_labels_query_is_told_without_the_compiled_sql(shop):
    with pytest.raises(RetrievalError) as failed:
        shop.training_set("SELECT customer_id, CAST('soon' AS DATE) AS t FROM customer_spend",
                          ["customer_spend.spend"], timestamp="t")
    message = str(failed.value)
    assert message.startswith("labels query failed on target ")
    assert "soon" in message  # the driver's reason, naming the bad value
    assert "\n" not in message and "== SQL" not in message and "LINE 1" not in message
    assert "__fk" not in message and "customer_spend" not in message  # no compiled text


@spark_too
def test_empty_label_frame_gives_empty_frame_with_columns(shop):
    labels = pd.DataFrame({"customer_id": pd.Series([], dtype="int64"),
                           "event_timestamp": pd.Series([], dtype="datetime64[us]")})
    train = shop.training_set(labels, ["customer_spend.*", "customer_profile.age"],
                              timestamp="event_timestamp")
    assert len(train) == 0
    assert list(train.columns) == ["customer_id", "event_timestamp", "spend", "age"]
    untyped = pd.DataFrame(columns=["customer_id", "event_timestamp"])
    train = shop.training_set(untyped, ["customer_spend.spend"], timestamp="event_timestamp")
    assert list(train.columns) == ["customer_id", "event_timestamp", "spend"] and len(train) == 0


@pytest.fixture
def big_pg(tmp_path):
    """PostgreSQL only (DuckDB has no indexes to probe): a materialized feature view of 20k
    rows over 1,000 customers."""
    from tests.conftest import ProjectFactory, require_engine

    require_engine("postgres")
    p = ProjectFactory("postgres", tmp_path / "big")
    p._sources = {}
    try:
        project = p.open()
        schema = project.target.schema
        project.engine.execute(
            f'CREATE TABLE "{schema}".big_src AS SELECT g % 1000 AS customer_id, '
            f"TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute' AS feature_ts, g * 1.0 AS spend "
            f"FROM generate_series(0, 19999) g"
        )
        p.write("models_sql/sources.yml", f"sources:\n  big_src:\n    table: {schema}.big_src\n")
        p.model("big", "SELECT customer_id, feature_ts, spend FROM big_src",
                "entity: customer_id\ntimestamp: feature_ts\nttl: 7d")
        project.close()
        project = p.open()
        assert {r.status for r in project.refresh()} == {"success"}
        yield project
    finally:
        p.cleanup()


def test_postgres_join_probes_the_index_not_a_scan_per_label(big_pg):
    from featurekit.engines.pit import PitView

    engine = big_pg.engine
    engine.execute('CREATE TEMP TABLE "l" ("customer_id" BIGINT, "__fk_t" TIMESTAMP, '
                   '"__fk_row" BIGINT)')
    engine.execute("INSERT INTO l SELECT g % 1000, TIMESTAMP '2024-01-05', g "
                   "FROM generate_series(1, 5000) g")
    engine.execute("ANALYZE l")
    view = PitView(engine.relation("big"), [("customer_id", "customer_id")],
                   "feature_ts", timedelta(days=7), [("spend", "spend")])
    plan = "\n".join(r[0] for r in engine.fetchall(
        f"EXPLAIN {engine.point_in_time_sql('l', [view], 5000)}"))
    assert "Index" in plan and "Seq Scan on big " not in plan, plan


def test_postgres_fetch_reports_an_error_mid_result_and_stays_usable(big_pg):
    import psycopg

    engine = big_pg.engine
    with pytest.raises(psycopg.errors.DivisionByZero):
        engine.fetch_arrow("SELECT 1 / (g - 15000) AS x FROM generate_series(1, 20000) AS g")
    assert engine.fetch_arrow("SELECT g FROM generate_series(1, 50000) AS g").num_rows == 50000


def test_online_features_is_one_indexed_query_on_postgres(big_pg):
    from featurekit.online import online_sql
    from featurekit.retrieval import resolve_features

    requests = resolve_features(big_pg, ["big.spend"], False)
    requests[0].keys = [("customer_id", "customer_id")]
    statement, _ = online_sql(big_pg, requests, 2)
    plan = "\n".join(r[0] for r in big_pg.engine.fetchall(f"EXPLAIN {statement.sql}", [1, 2]))
    assert "Seq Scan" not in plan and "Index" in plan, plan
    got = big_pg.online_features(["big.spend"], pd.DataFrame({"customer_id": [1, 2]}),
                                 now=datetime(2024, 1, 15, tzinfo=UTC))
    assert values(got, "spend") == [19001.0, 19002.0]
    assert list(got["big__status"]) == ["present", "present"]


@spark_too
def test_values_come_back_as_stored(make_project):
    """Strings that look like NULL stay strings, NaN stays NaN, NULL stays NULL."""
    p = make_project()
    p.model("codes", "SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-01', 'NA', CAST('NaN' AS "
                     "DOUBLE), TRUE), (2, TIMESTAMP '2024-01-01', NULL, NULL, NULL)) "
                     "AS t(customer_id, feature_ts, country, x, flag)",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    project = p.open()
    project.refresh()
    train = project.training_set(labels_frame((1, "2024-01-02"), (2, "2024-01-02")),
                                 ["codes.*"], as_arrow=True)
    assert train["country"].to_pylist() == ["NA", None]
    x = train["x"].to_pylist()
    assert math.isnan(x[0]) and x[1] is None
    assert train["flag"].to_pylist() == [True, None]


@spark_too
def test_bigint_features_stay_exact_integers_when_a_label_has_no_match(make_project):
    """A missing match is NULL, not a float: 2**63 - 1 comes back exactly (pandas Int64)."""
    p = make_project()
    p.model("big_ints", "SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-01', "
                        "CAST(9223372036854775807 AS BIGINT), CAST(7 AS INTEGER))) "
                        "AS t(customer_id, feature_ts, n, small)",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    project = p.open()
    project.refresh()
    labels = labels_frame((1, "2024-01-02"), (2, "2024-01-02"), (1, "2023-01-01"))
    train = project.training_set(labels, ["big_ints.*"])
    assert str(train["n"].dtype) == "Int64" and str(train["small"].dtype) == "Int32"
    assert values(train, "n") == [2**63 - 1, None, None]
    assert values(train, "small") == [7, None, None]
    arrow = project.training_set(labels, ["big_ints.*"], as_arrow=True)
    assert arrow.schema.field("n").type == pa.int64()
    assert arrow["n"].to_pylist() == [2**63 - 1, None, None]
    # Integer label columns read from Arrow keep their type through the pandas path too.
    from_arrow = project.training_set(pa.Table.from_pandas(labels.assign(
        weight=pd.array([1, None, 3], dtype="Int64"))), ["big_ints.n"])
    assert values(from_arrow, "weight") == [1, None, 3]
    assert str(from_arrow["weight"].dtype) == "Int64"


@spark_too
def test_decimal_features_come_back_as_float64(make_project):
    p = make_project()
    p.model("prices", "SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-01', "
                      "CAST(12.34 AS DECIMAL(10, 2))), (2, TIMESTAMP '2024-01-01', NULL)) "
                      "AS t(customer_id, feature_ts, price)",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    project = p.open()
    project.refresh()
    labels = labels_frame((1, "2024-01-02"), (2, "2024-01-02"), (3, "2024-01-02"))
    arrow = project.training_set(labels, ["prices.price"], as_arrow=True)
    assert arrow.schema.field("price").type == pa.float64()
    assert arrow["price"].to_pylist() == [12.34, None, None]
    train = project.training_set(labels, ["prices.price"])
    assert train["price"].dtype == "float64"
    assert values(train, "price") == [12.34, None, None]


@pytest.mark.parametrize("internal", ["__fk_row", "__fk_t", "__fk_k0", "__fk_c0"])
@spark_too
def test_label_and_feature_columns_named_like_internal_ones(make_project, internal):
    """Names featurekit uses inside its join cannot collide with the user's."""
    p = make_project()
    p.seed("src", "customer_id,feature_ts,spend\n1,2024-01-01 00:00:00,10.0\n"
                  "1,2024-01-03 00:00:00,30.0\n2,2024-01-02 00:00:00,20.0\n")
    p.model("fv", f'SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, spend, '
                  f'spend * 2 AS "{internal}" FROM src',
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    project = p.open()
    project.refresh()
    labels = pd.DataFrame({
        internal: [2, 1, 1, 1],  # the entity column, named like an internal column
        "at": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-04", "2023-01-01"]),
    })
    train = project.training_set(labels, ["fv.*"], timestamp="at", full_names=True,
                                 entity_columns={"customer_id": internal})
    assert list(train[internal]) == [2, 1, 1, 1]
    assert values(train, "fv__spend") == [20.0, 10.0, 30.0, None]
    assert values(train, f"fv__{internal}") == [40.0, 20.0, 60.0, None]
    # A non-key label column with an internal name is carried through untouched.
    labels = labels_frame((1, "2024-01-02"), (2, "2024-01-02"))
    labels[internal] = [7, 8]
    train = project.training_set(labels, ["fv.spend"])
    assert list(train[internal]) == [7, 8] and values(train, "spend") == [10.0, 20.0]


# Not on Spark: the subprocess cannot open the embedded metastore this process holds.
def test_reading_features_imports_no_sql_parser(shop):
    """Opening a project loads no driver, pandas or sqlglot; reading features never needs
    sqlglot (it is parsed SQL's library: compile and refresh load it)."""
    import subprocess
    import sys
    import textwrap

    shop.close()  # DuckDB allows one process per file
    code = textwrap.dedent(f"""
        import sys, featurekit
        project = featurekit.Project({str(shop.root)!r})
        heavy = ("duckdb", "psycopg", "pandas", "pyarrow", "sqlglot")
        print(sorted(m for m in heavy if m in sys.modules))
        import pandas as pd
        labels = pd.DataFrame({{"customer_id": [1],
                                "event_timestamp": pd.to_datetime(["2024-01-02"])}})
        print(project.training_set(labels, ["customer_spend.spend"])["spend"].tolist())
        print(project.online_features(["customer_profile.age"], {{"customer_id": [2]}})["age"]
              .tolist())
        print("sqlglot" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=shop.root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["[]", "[20.0]", "[40]", "False"]


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"timestamp": "event_ts"}, 'no timestamp column "event_ts" (did you mean "event_timestamp"?)'),
    ({"features": ["customer_spnd.spend"]},
     'unknown feature view "customer_spnd" in "customer_spnd.spend" (did you mean "customer_spend"?)'),
    ({"features": ["customer_spend.spnd"]},
     'feature view customer_spend has no column "spnd" (did you mean "spend"?)'),
    ({"features": ["plain_counts.*"]}, "model plain_counts is not a feature view"),
    ({"features": ["customer_spend"]}, 'must be "view.column" or "view.*"'),
    ({"features": ["customer_merchant.*"]},
     'no column "merchant_id" for entity merchant_id of feature view customer_merchant'),
])
def test_bad_requests_name_the_problem(shop, kwargs, message):
    labels = labels_frame((1, "2024-01-02"))
    request = {"features": ["customer_spend.spend"], "timestamp": "event_timestamp", **kwargs}
    with pytest.raises(RetrievalError) as info:
        shop.training_set(labels, **request)
    assert message in str(info.value)


def test_missing_entity_column_is_named(shop):
    labels = pd.DataFrame({"cust_id": [1], "event_timestamp": pd.to_datetime(["2024-01-02"])})
    with pytest.raises(RetrievalError) as info:
        shop.training_set(labels, ["customer_spend.spend"])
    assert 'no column "customer_id" for entity customer_id of feature view customer_spend' in str(
        info.value)
    assert "entity_columns=" in str(info.value)


def test_timestamp_column_must_hold_timestamps(shop):
    labels = pd.DataFrame({"customer_id": [1], "event_timestamp": ["2024-01-02"]})
    with pytest.raises(RetrievalError, match='timestamp column "event_timestamp" holds'):
        shop.training_set(labels, ["customer_spend.spend"])


def test_entity_type_mismatch_is_named(shop):
    labels = pd.DataFrame({"customer_id": ["1"],
                           "event_timestamp": pd.to_datetime(["2024-01-02"])})
    with pytest.raises(RetrievalError, match='label column "customer_id" holds'):
        shop.training_set(labels, ["customer_spend.spend"])


def test_name_collisions_need_full_names(shop):
    labels = labels_frame((1, "2024-01-02"), merchant_id=[7])
    with pytest.raises(RetrievalError, match="full_names=True"):
        shop.training_set(labels, ["customer_spend.*", "customer_merchant.customer_id"])
    labels["spend"] = [1.0]
    with pytest.raises(RetrievalError, match='has the name of the label column "spend"'):
        shop.training_set(labels, ["customer_spend.spend"])
    train = shop.training_set(labels, ["customer_spend.spend"], full_names=True)
    assert values(train, "customer_spend__spend") == [20.0]


@spark_too
def test_unbuilt_view_says_refresh(make_project):
    p = make_project()
    p.model("fv", "SELECT 1 AS customer_id, TIMESTAMP '2024-01-01' AS feature_ts, 2 AS x",
            "entity: customer_id\ntimestamp: feature_ts")
    project = p.open()
    with pytest.raises(RetrievalError, match="featurekit refresh --select fv"):
        project.training_set(labels_frame((1, "2024-01-02")), ["fv.x"])


# -- property: equal to a brute-force loop ------------------------------------------------------
TTL = timedelta(hours=3)


def reference(feature_rows, labels, ttl):
    """For each label (entity, t): the value of the latest row with ts <= t (and >= t - ttl)."""
    out = []
    for entity, t in labels:
        best = None
        for (key, ts), value in feature_rows.items():
            if entity is None or t is None or key != entity or ts > t:
                continue
            if ttl is not None and ts < t - ttl:
                continue
            if best is None or ts > best[0]:
                best = (ts, value)
        out.append(None if best is None else best[1])
    return out


@pytest.fixture
def raw_views(make_project):
    """Two views over one raw table the test rewrites: one with a 3h ttl, one without."""
    p = make_project()
    project = p.open()
    empty = pa.table({"entity": pa.array([], pa.int64()), "feature_ts": pa.array([], pa.timestamp("us")),
                      "value": pa.array([], pa.float64())})
    project.engine.load_arrow(empty, "raw_feats")
    p.write("models_sql/sources.yml",
            f"sources:\n  raw_feats:\n    table: {project.target.schema}.raw_feats\n")
    sql = "SELECT entity, feature_ts, value FROM raw_feats"
    p.model("with_ttl", sql, "entity: entity\ntimestamp: feature_ts\nttl: 3h\nmaterialized: view")
    p.model("no_ttl", sql, "entity: entity\ntimestamp: feature_ts\nmaterialized: view")
    project.close()
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    return project


# Small grids make exact ties frequent: t == feature_ts and t - ttl == feature_ts.
offsets = st.sampled_from([timedelta(0), timedelta(0), timedelta(0), timedelta(microseconds=1),
                           -timedelta(microseconds=1)])
feature_data = st.dictionaries(
    st.tuples(st.integers(0, 2), st.integers(0, 8).map(lambda k: T0 + k * H)),
    st.one_of(st.none(), st.integers(-50, 50).map(float)),
    max_size=20,
)
random_labels = st.tuples(
    st.one_of(st.integers(0, 3), st.none()),
    st.tuples(st.integers(0, 11), offsets).map(lambda ko: T0 + ko[0] * H + ko[1]),
)


@st.composite
def cases(draw):
    """Feature rows, and labels of which many sit exactly on a row's time or ttl bound."""
    rows = draw(feature_data)
    anchored = st.sampled_from(sorted(rows)).flatmap(lambda key: st.tuples(
        st.just(key[0]), st.tuples(st.sampled_from([timedelta(0), TTL]), offsets).map(
            lambda shift: key[1] + shift[0] + shift[1])))
    labels = draw(st.lists(st.one_of(random_labels, anchored) if rows else random_labels,
                           max_size=30))
    return rows, labels


@spark_too
def test_matches_brute_force_reference(raw_views, engine_name):
    @settings(max_examples=examples(engine_name, 30), deadline=None)
    @given(case=cases())
    def check(case):
        matches_reference(raw_views, *case)

    check()


def matches_reference(raw_views, feature_rows, labels):
    engine = raw_views.engine
    keys = list(feature_rows)
    engine.load_arrow(pa.table({
        "entity": pa.array([k[0] for k in keys], pa.int64()),
        "feature_ts": pa.array([k[1] for k in keys], pa.timestamp("us")),
        "value": pa.array(list(feature_rows.values()), pa.float64()),
    }), "raw_feats")
    frame = pd.DataFrame({
        "entity": pd.array([e for e, _ in labels], dtype="Int64"),
        "event_timestamp": pd.Series([t for _, t in labels], dtype="datetime64[us]"),
        "label_id": range(len(labels)),
    })
    expected_ttl = reference(feature_rows, labels, TTL)
    expected_no_ttl = reference(feature_rows, labels, None)
    # Every plan the engine can run: ASOF, LATERAL probes, the window over both sides.
    can = {"asof_join": engine.asof_join, "lateral_join": engine.lateral_join}
    plans = [(asof, lateral) for asof, lateral in [(True, True), (False, True), (False, False)]
             if (can["asof_join"] or not asof) and (can["lateral_join"] or not lateral)]
    for asof, lateral in plans:
        engine.asof_join, engine.lateral_join = asof, lateral
        try:
            train = raw_views.training_set(frame, ["with_ttl.value", "no_ttl.value"],
                                           full_names=True)
        finally:
            engine.asof_join, engine.lateral_join = can["asof_join"], can["lateral_join"]
        assert list(train["label_id"]) == list(range(len(labels)))
        assert values(train, "with_ttl__value") == expected_ttl
        assert values(train, "no_ttl__value") == expected_no_ttl


# -- online features -------------------------------------------------------------------------
def _online_plans() -> list:
    """(engine, lateral) for each lookup plan an engine runs: engines without LATERAL
    (lateral_join False) look up with the window plan only, which gives the same answers."""
    from featurekit.engines import engine_class

    return [pytest.param(engine, lateral, id=f"{engine}-{'lateral' if lateral else 'window'}")
            for engine in SPARK_ENGINES for lateral in (True, False)
            if not lateral or engine_class(engine).lateral_join]


@pytest.mark.parametrize(("engine_name", "lateral"), _online_plans(), indirect=["engine_name"])
def test_online_features_latest_row_with_time_and_status(engine_name, lateral, request):
    shop = request.getfixturevalue("shop")  # built only for the plans the engine runs
    shop.engine.lateral_join = lateral
    now = datetime(2024, 1, 6, tzinfo=UTC)
    got = shop.online_features(["customer_spend.spend", "customer_profile.age"],
                               {"customer_id": [2, 1, 9, 1]}, now=now)
    assert list(got["customer_id"]) == [2, 1, 9, 1]
    assert list(got["customer_spend__status"]) == ["stale", "present", "missing", "present"]
    assert values(got, "spend") == [None, None, None, None]  # stale -> NULL; 1's latest is NULL
    assert list(got["customer_spend__feature_ts"])[:2] == [datetime(2024, 1, 1),
                                                           datetime(2024, 1, 5)]
    assert values(got, "age") == [40, 30, None, 30]
    assert list(got["customer_profile__status"]) == ["present", "present", "missing", "present"]
    # Within the ttl the stored values come back (customer 1's latest row holds NULL).
    got = shop.online_features(["customer_spend.spend"], {"customer_id": [2, 1]},
                               now=datetime(2024, 1, 2, 12, tzinfo=UTC))
    assert values(got, "spend") == [5.0, None]
    assert list(got["customer_spend__status"]) == ["present", "present"]
    got = shop.online_features(["customer_merchant.pair_count"],
                               {"customer_id": [1, 1], "merchant_id": [8, 7]})
    assert values(got, "pair_count") == [2, 3]


@pytest.mark.parametrize("lateral", [True, False], ids=["lateral", "window"])
def test_online_features_composite_key_and_errors(shop, lateral):
    shop.engine.lateral_join = lateral
    got = shop.online_features(["customer_merchant.pair_count"],
                               {"customer_id": [1, 1], "merchant_id": [7, 9]})
    assert values(got, "pair_count") == [3, None]
    with pytest.raises(RetrievalError, match='entities has no column "merchant_id"'):
        shop.online_features(["customer_merchant.pair_count"], {"customer_id": [1]})
    with pytest.raises(RetrievalError, match='did you mean "spend"'):
        shop.online_features(["customer_spend.spnd"], {"customer_id": [1]})


# -- the train-set command ---------------------------------------------------------------------
@spark_too
def test_train_set_command_writes_the_training_set(shop, tmp_path):
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from featurekit.cli import main

    labels = labels_frame((1, "2024-01-02"), (2, "2024-01-02"), (1, "2023-01-01"))
    labels.to_parquet(tmp_path / "labels.parquet")
    out = tmp_path / "out" / "train.parquet"
    result = CliRunner().invoke(main, [
        "train-set", "--project-dir", str(shop.root), "--labels", str(tmp_path / "labels.parquet"),
        "--features", "customer_spend.spend,customer_profile.age", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows" in result.output
    table = pq.read_table(out)
    assert table.column_names == ["customer_id", "event_timestamp", "spend", "age"]
    assert table["spend"].to_pylist() == [20.0, 5.0, None]
    assert table["age"].to_pylist() == [30, 40, 30]


def test_train_set_command_reports_bad_requests_without_traceback(shop, tmp_path):
    from click.testing import CliRunner

    from featurekit.cli import main

    result = CliRunner().invoke(main, [
        "train-set", "--project-dir", str(shop.root), "--labels",
        "SELECT customer_id, feature_ts AS t FROM customer_spend",
        "--features", "customer_spend.spnd", "--timestamp", "t",
        "--out", str(tmp_path / "train.csv"),
    ])
    assert result.exit_code == 2
    assert 'no column "spnd" (did you mean "spend"?)' in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "train.csv").exists()
