"""Online lookups on DuckDB and PostgreSQL (Spark too where marked @spark_too): integer keys
of any width, a cache that heals."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from featurekit.errors import RetrievalError
from tests.conftest import spark_too

SPEND = "customer_id,feature_ts,spend\n1,2024-01-01 00:00:00,10.0\n2,2024-01-02 00:00:00,5.0\n"
NOW = datetime(2024, 1, 3, tzinfo=UTC)


@pytest.fixture
def factory(make_project):
    p = make_project()
    p.seed("spend_src", SPEND)
    return p


def build(p, columns: str):
    p.model("spend", f"SELECT CAST(customer_id AS INTEGER) AS customer_id, "
                     f"CAST(feature_ts AS TIMESTAMP) AS feature_ts, {columns} FROM spend_src",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    return project


@spark_too
def test_integer_keys_wider_than_the_view_column_are_missing_not_an_error(factory):
    project = build(factory, "spend")
    got = project.online_features(["spend.spend"], {"customer_id": [2, 2**40, np.int64(1)]},
                                  now=NOW)
    assert list(got["spend__status"]) == ["present", "missing", "present"]
    assert list(got["spend"][[0, 2]]) == [5.0, 10.0]


@pytest.mark.parametrize("key", [2**63, -(2**63) - 1, np.uint64(2**63 + 1)])
def test_integer_keys_beyond_64_bits_are_refused_naming_the_column(factory, key):
    project = build(factory, "spend")
    with pytest.raises(RetrievalError, match='entities column "customer_id" holds .* 64-bit'):
        project.online_features(["spend.spend"], {"customer_id": [1, key]}, now=NOW)


@spark_too
def test_a_view_rebuilt_with_other_columns_since_cached_is_looked_up_again(factory):
    project = build(factory, "spend, spend * 2 AS doubled")
    first = project.online_features(["spend.*"], {"customer_id": [1]}, now=NOW)
    assert list(first.columns[1:3]) == ["spend", "doubled"]
    # Same request shape, so the cached statement runs first: it names a dropped column.
    build(factory, "spend, spend * 3 AS tripled")
    again = project.online_features(["spend.*"], {"customer_id": [1]}, now=NOW)
    assert "doubled" not in again.columns
    assert list(again["tripled"]) == [30.0] and list(again["spend__status"]) == ["present"]
