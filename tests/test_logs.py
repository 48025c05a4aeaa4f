"""Prediction and outcome logs on DuckDB and PostgreSQL (Spark too where marked @spark_too):
typed, idempotent, all-or-nothing."""

from __future__ import annotations

import uuid
import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from featurekit import logs
from featurekit.errors import LogSchemaError
from featurekit.logs import UnknownPredictionWarning
from tests.conftest import rows, spark_too


@pytest.fixture
def project(make_project):
    return make_project().open()


def scores(n: int = 3, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "prediction_id": [f"p{i}" for i in range(start, start + n)],
        "customer_id": list(range(start, start + n)),
        "score": [0.25 * i for i in range(start, start + n)],
        "country": ["GB"] * n,
    })


def count(project, table: str) -> int:
    return rows(project, f"SELECT count(*) FROM {{schema}}.{table}")[0][0]


def as_utc(moment: datetime) -> datetime:
    """An instant as read back: zoned, or naive UTC (Spark hands out every timestamp so)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def kinds(project, table: str) -> dict[str, str]:
    return {name: kind.lower() for name, kind in project.engine.columns(table)}


@spark_too
def test_first_batch_creates_a_typed_table(project):
    written = project.log_predictions("fraud", scores(), version="v3")
    assert written == 3 and written.skipped == 0
    columns = kinds(project, "predictions_fraud")
    assert list(columns) == ["prediction_id", "model_version", "predicted_at", "customer_id",
                             "score", "country"]
    assert "int" in columns["customer_id"] and "double" in columns["score"]
    if project.engine.type == "spark":  # its instant type; the naive one is timestamp_ntz
        assert columns["predicted_at"] == "timestamp"
    else:
        assert "time zone" in columns["predicted_at"]
    got = rows(project, "SELECT prediction_id, model_version, score FROM {schema}.predictions_fraud "
                        "ORDER BY prediction_id")
    assert got == [("p0", "v3", 0.0), ("p1", "v3", 0.25), ("p2", "v3", 0.5)]


def test_generated_ids_are_unique_uuid4_and_returned(project):
    frame = scores(1000).drop(columns="prediction_id")
    written = project.log_predictions("fraud", frame, version="v1")
    ids = written.prediction_ids
    assert written == 1000 and len(set(ids)) == 1000
    assert all(uuid.UUID(i).version == 4 and len(i) == 32 for i in ids[:50])
    stored = {r[0] for r in rows(project, "SELECT prediction_id FROM {schema}.predictions_fraud")}
    assert stored == set(ids)


@spark_too
def test_retrying_a_batch_writes_nothing_twice(project):
    assert project.log_predictions("fraud", scores(3), version="v1") == 3
    again = project.log_predictions("fraud", scores(3), version="v1")
    assert again == 0 and again.skipped == 3
    overlap = project.log_predictions("fraud", scores(4, start=1), version="v1")
    assert overlap == 2 and overlap.skipped == 2
    assert count(project, "predictions_fraud") == 5


@spark_too
def test_predicted_at_given_is_kept_in_utc_else_now(project):
    before = datetime.now(UTC)
    project.log_predictions("fraud", scores(1), version="v1")
    frame = scores(2, start=1)
    frame["predicted_at"] = [pd.Timestamp("2024-03-01 12:00"),  # naive = UTC
                             pd.Timestamp("2024-03-01 12:00", tz="Europe/Berlin")]
    project.log_predictions("fraud", frame, version="v1")
    got = dict(rows(project, "SELECT prediction_id, predicted_at FROM {schema}.predictions_fraud"))
    assert before <= as_utc(got["p0"]) <= datetime.now(UTC)
    assert as_utc(got["p1"]) == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert as_utc(got["p2"]) == datetime(2024, 3, 1, 11, tzinfo=UTC)


@spark_too
def test_frame_with_a_column_the_table_lacks_is_rejected_whole(project):
    project.log_predictions("fraud", scores(2), version="v1")
    bad = scores(2, start=2).assign(scroe=1.0)
    with pytest.raises(LogSchemaError) as info:
        project.log_predictions("fraud", bad, version="v1")
    message = str(info.value)
    assert "predictions_fraud" in message and "scroe" in message
    assert "allow_new_columns=True" in message and "nothing was written" in message
    assert count(project, "predictions_fraud") == 2
    assert "scroe" not in kinds(project, "predictions_fraud")


def test_frame_missing_a_column_is_rejected(project):
    project.log_predictions("fraud", scores(2), version="v1")
    with pytest.raises(LogSchemaError, match="lacks column.s. country"):
        project.log_predictions("fraud", scores(2, start=2).drop(columns="country"), version="v1")
    assert count(project, "predictions_fraud") == 2


def test_frame_with_a_wrong_type_is_rejected(project):
    project.log_predictions("fraud", scores(2), version="v1")
    bad = scores(2, start=2).assign(score=["high", "low"], customer_id=[1.5, 2.5])
    with pytest.raises(LogSchemaError) as info:
        project.log_predictions("fraud", bad, version="v1")
    assert "score is" in str(info.value) and "customer_id is double" in str(info.value)
    assert count(project, "predictions_fraud") == 2
    # Integers into a floating column are fine.
    assert project.log_predictions("fraud", scores(1, start=5).assign(score=[1]), version="v1") == 1


@spark_too
def test_allow_new_columns_adds_them(project):
    project.log_predictions("fraud", scores(2), version="v1")
    written = project.log_predictions("fraud", scores(1, start=2).assign(threshold=0.7),
                                      version="v2", allow_new_columns=True)
    assert written == 1
    got = rows(project, "SELECT prediction_id, threshold FROM {schema}.predictions_fraud "
                        "ORDER BY prediction_id")
    assert got == [("p0", None), ("p1", None), ("p2", 0.7)]


@pytest.mark.parametrize(("ids", "message"), [
    (["a", None, "c"], "prediction_id has 1 NULLs"),
    (["a", "b", "a"], "prediction_id repeats within the batch (a)"),
])
def test_bad_ids_write_nothing(project, ids, message):
    frame = scores(3).assign(prediction_id=ids)
    with pytest.raises(LogSchemaError) as info:
        project.log_predictions("fraud", frame, version="v1")
    assert message in str(info.value)
    assert project.engine.relation_kind("predictions_fraud") is None


def test_model_name_must_be_an_identifier(project):
    with pytest.raises(LogSchemaError, match="letters, digits and underscores"):
        project.log_predictions("fraud; DROP TABLE x", scores(1), version="v1")


def test_arrow_frames_are_accepted(project):
    assert project.log_predictions("fraud", pa.Table.from_pandas(scores(2)), version="v1") == 2


@spark_too
def test_outcomes_join_predictions_in_the_labeled_view(project):
    project.log_predictions("fraud", scores(3), version="v1")
    outcomes = pd.DataFrame({"prediction_id": ["p0", "p2"], "is_fraud": [1, 0],
                             "observed_at": pd.to_datetime(["2024-05-01", "2024-05-02"])})
    written = project.log_outcomes("fraud", outcomes)
    assert written == 2 and written.unknown_ids == []
    got = rows(project, "SELECT prediction_id, score, is_fraud, observed_at "
                        "FROM {schema}.predictions_fraud_labeled ORDER BY prediction_id")
    assert [(r[0], r[1], r[2]) for r in got] == [("p0", 0.0, 1), ("p1", 0.25, None),
                                                 ("p2", 0.5, 0)]
    assert as_utc(got[0][3]) == datetime(2024, 5, 1, tzinfo=UTC)
    again = project.log_outcomes("fraud", outcomes)
    assert again == 0 and again.skipped == 2


@spark_too
def test_unknown_prediction_ids_are_kept_and_reported(project):
    project.log_predictions("fraud", scores(1), version="v1")
    outcomes = pd.DataFrame({"prediction_id": ["p0", "ghost"], "is_fraud": [1, 1]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = project.log_outcomes("fraud", outcomes)
    assert written == 2 and written.unknown_ids == ["ghost"]
    assert any(issubclass(w.category, UnknownPredictionWarning) and "ghost" in str(w.message)
               for w in caught)
    assert count(project, "outcomes_fraud") == 2


@spark_too
def test_outcomes_before_predictions_join_once_logged(project):
    with pytest.warns(UnknownPredictionWarning):
        project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p1"], "is_fraud": [1]}))
    project.log_predictions("fraud", scores(2), version="v1")
    got = rows(project, "SELECT prediction_id, is_fraud FROM {schema}.predictions_fraud_labeled "
                        "ORDER BY prediction_id")
    assert got == [("p0", None), ("p1", 1)]


def test_labeled_view_follows_new_prediction_columns(project):
    project.log_predictions("fraud", scores(1), version="v1")
    project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [0]}))
    project.log_predictions("fraud", scores(1, start=1).assign(segment="x"), version="v1",
                            allow_new_columns=True)
    got = rows(project, "SELECT prediction_id, segment, is_fraud "
                        "FROM {schema}.predictions_fraud_labeled ORDER BY prediction_id")
    assert got == [("p0", None, 0), ("p1", "x", None)]


def test_outcomes_need_prediction_ids_of_the_logged_type(project):
    project.log_predictions("fraud", scores(1), version="v1")
    with pytest.raises(LogSchemaError, match="needs a prediction_id column"):
        project.log_outcomes("fraud", pd.DataFrame({"pred_id": ["p0"], "is_fraud": [1]}))
    with pytest.raises(LogSchemaError, match="prediction_id holds int64"):
        project.log_outcomes("fraud", pd.DataFrame({"prediction_id": [1], "is_fraud": [1]}))
    assert project.engine.relation_kind("outcomes_fraud") is None


# -- columns without values, integer widths ------------------------------------------------
TYPED = pd.DataFrame({"prediction_id": ["a"], "n": [7], "flag": [True], "x": [0.5],
                      "seen_at": [pd.Timestamp("2024-01-01 12:00")], "s": ["t"]})


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"prediction_id": ["b", "c"], **{c: [None, None] for c in TYPED.columns[1:]}}),
    pd.DataFrame({"prediction_id": ["b", "c"], **{c: [np.nan, np.nan] for c in TYPED.columns[1:]}}),
    pd.DataFrame({c: [] for c in TYPED.columns}),
], ids=["all-none", "all-nan", "empty"])
@spark_too
def test_columns_without_values_fit_columns_of_any_type(project, frame):
    project.log_predictions("fraud", TYPED, version="v1")
    written = project.log_predictions("fraud", frame, version="v1")
    assert written == len(frame)
    got = rows(project, "SELECT prediction_id, n, flag, x, seen_at, s FROM {schema}.predictions_fraud "
                        "ORDER BY prediction_id")
    first = (*got[0][:4], as_utc(got[0][4]), got[0][5])
    assert first == ("a", 7, True, 0.5, datetime(2024, 1, 1, 12, tzinfo=UTC), "t")
    assert got[1:] == [(i, None, None, None, None, None) for i in frame["prediction_id"]]
    project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["a"], "is_fraud": [True]}))
    ids = list(frame["prediction_id"])
    unknown = pd.DataFrame({"prediction_id": ids, "is_fraud": [None] * len(ids)})
    assert project.log_outcomes("fraud", unknown) == len(ids)
    got = rows(project, "SELECT prediction_id, is_fraud FROM {schema}.predictions_fraud_labeled "
                        "ORDER BY prediction_id")
    assert got == [("a", True)] + [(i, None) for i in ids]


@spark_too
def test_integers_are_stored_64_bit_whatever_the_first_batch_held(project):
    small = pd.DataFrame({"prediction_id": ["a"], "n": np.array([1], dtype="int8"),
                          "u": np.array([7], dtype="uint32")})
    project.log_predictions("fraud", small, version="v1")
    assert kinds(project, "predictions_fraud")["n"] == "bigint"
    assert kinds(project, "predictions_fraud")["u"] == "bigint"
    wide = pd.DataFrame({"prediction_id": ["b"], "n": np.array([-(2**40)], dtype="int64"),
                         "u": np.array([2**63 - 1], dtype="uint64")})
    assert project.log_predictions("fraud", wide, version="v1") == 1
    got = rows(project, "SELECT prediction_id, n, u FROM {schema}.predictions_fraud "
                        "ORDER BY prediction_id")
    assert got == [("a", 1, 7), ("b", -(2**40), 2**63 - 1)]


@pytest.mark.parametrize("values", [np.array([1, 2**63], dtype="uint64"), [1, 2**64],
                                    [1, -(2**63) - 1]], ids=["uint64", "int>2**64", "int<-2**63"])
def test_integers_beyond_64_bits_are_refused_naming_the_column(project, values):
    frame = pd.DataFrame({"prediction_id": ["a", "b"], "big": values})
    with pytest.raises(LogSchemaError, match='predictions_fraud: .*column "big".*nothing was'):
        project.log_predictions("fraud", frame, version="v1")
    assert project.engine.relation_kind("predictions_fraud") is None


# -- the labeled view ------------------------------------------------------------------------
def test_a_missing_labeled_view_is_recreated_by_the_next_write(project):
    project.log_predictions("fraud", scores(2), version="v1")
    project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [1]}))
    # What a crash between the outcome table's commit and the view's creation used to leave.
    project.engine.execute(f"DROP VIEW {project.engine.relation('predictions_fraud_labeled')}")
    project.log_predictions("fraud", scores(1, start=2), version="v1")
    got = rows(project, "SELECT prediction_id, is_fraud FROM {schema}.predictions_fraud_labeled "
                        "ORDER BY prediction_id")
    assert got == [("p0", 1), ("p1", None), ("p2", None)]


@spark_too
def test_the_labeled_view_is_created_with_the_tables_or_nothing_is(project):
    project.log_predictions("fraud", scores(2), version="v1")
    blocker = project.engine.relation("predictions_fraud_labeled")
    project.engine.execute(f"CREATE TABLE {blocker} (x INTEGER)")
    with pytest.raises(LogSchemaError, match="predictions_fraud_labeled .*nothing was written"):
        project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [1]}))
    assert project.engine.relation_kind("outcomes_fraud") is None
    project.engine.execute(f"DROP TABLE {blocker}")
    project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [1]}))
    assert rows(project, "SELECT count(*) FROM {schema}.predictions_fraud_labeled") == [(2,)]


@spark_too
def test_a_log_whose_first_write_fails_midway_is_not_created(project, monkeypatch):
    project.log_predictions("fraud", scores(2), version="v1")

    def fail(*args, **kwargs):
        raise RuntimeError("interrupted")

    # A failure after the outcomes table is created (its rows, index and the view follow).
    monkeypatch.setattr(logs, "_ensure_labeled_view", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [1]}))
    assert project.engine.relation_kind("outcomes_fraud") is None
    monkeypatch.undo()
    project.log_outcomes("fraud", pd.DataFrame({"prediction_id": ["p0"], "is_fraud": [1]}))
    assert rows(project, "SELECT count(*) FROM {schema}.outcomes_fraud") == [(1,)]


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()])
def test_postgres_appends_in_key_order_for_both_arrow_string_layouts(arrow_type):
    from featurekit.engines.postgres import _key_order

    values = ["b", "a", "ä", "abcdefghZ", "abcdefghA", "", "zz", "abc", "ab"]
    column = pa.chunked_array([pa.array(values[:4], arrow_type), pa.array(values[4:], arrow_type)])
    ordered = [values[i] for i in _key_order(column)]
    # By the first 8 UTF-8 bytes (ties keep their order): the order of a "C" index.
    assert ordered == sorted(values, key=lambda v: v.encode()[:8])


@spark_too
def test_zoned_times_load_as_the_same_instants(project):
    berlin = pa.array([datetime(2024, 3, 1, 12, tzinfo=UTC), None], pa.timestamp("us", tz="UTC"))
    data = pa.table({"seen": berlin.cast(pa.timestamp("us", tz="Europe/Berlin")),
                     "seen_ns": berlin.cast(pa.timestamp("ns", tz="America/New_York"))})
    project.engine.load_arrow(data, "zoned")
    got = rows(project, "SELECT seen, seen_ns FROM {schema}.zoned ORDER BY seen NULLS LAST")
    noon = datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert [tuple(v if v is None else as_utc(v).astimezone(UTC) for v in row) for row in got] == [
        (noon, noon), (None, None)]
