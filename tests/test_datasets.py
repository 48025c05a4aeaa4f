"""Saved, reproducible training sets: save, load, list, verify; on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from featurekit.errors import DatasetError
from tests.conftest import spark_too

SPEND = "customer_id,feature_ts,spend\n1,2024-01-01 00:00:00,10.0\n1,2024-01-02 00:00:00,20.0\n"
PROFILE = "customer_id,feature_ts,age\n1,2020-01-01 00:00:00,30\n2,2020-01-01 00:00:00,40\n"
LABELS = pd.DataFrame({
    "customer_id": [1, 2, 1, 1],
    "event_timestamp": pd.to_datetime(["2024-01-02 12:00:00", "2024-01-05 00:00:00",
                                       "2023-12-31 00:00:00", "2024-01-01 06:00:00"]),
    "label": [1, 0, 0, 1],
}, index=[10, 11, 12, 13])
# By hand: spend is the latest row at or before t within 2 days; age the latest at or before t.
EXPECTED_SPEND = [20.0, None, None, 10.0]
EXPECTED_AGE = [30, 40, 30, 30]


@pytest.fixture
def factory(make_project):
    p = make_project()
    p.seed("spend_src", SPEND)
    p.seed("profile_src", PROFILE)
    p.model("customer_spend",
            "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
            "CAST(spend AS DOUBLE) AS spend FROM spend_src",
            "entity: customer_id\ntimestamp: feature_ts\nttl: 2d\nmaterialized: table")
    p.model("customer_profile",
            "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
            "CAST(age AS INTEGER) AS age FROM profile_src",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    p.write("models_sql/feature_services.yml",
            "feature_services:\n  churn_v1:\n    features: [customer_spend.spend, "
            "customer_profile.age]\n")
    return p


@pytest.fixture
def project(factory):
    project = factory.open()
    assert {r.status for r in project.refresh()} == {"success"}
    return project


def nulls(values) -> list:
    return [None if pd.isna(v) else v for v in values]


@spark_too
def test_save_returns_the_training_set_and_stores_it(project):
    frame = project.training_set(LABELS, "churn_v1", save="churn_2024_01")
    assert list(frame.index) == [10, 11, 12, 13]
    assert nulls(frame["spend"]) == EXPECTED_SPEND and frame["age"].tolist() == EXPECTED_AGE
    loaded = project.load_training_set("churn_2024_01")
    assert list(loaded.columns) == ["customer_id", "event_timestamp", "label", "spend", "age"]
    assert nulls(loaded["spend"]) == EXPECTED_SPEND and loaded["age"].tolist() == EXPECTED_AGE
    assert loaded["event_timestamp"].tolist() == LABELS["event_timestamp"].tolist()
    unsaved = project.training_set(LABELS, "churn_v1")
    pd.testing.assert_frame_equal(frame, unsaved)


@spark_too
def test_manifest_records_the_request_and_the_views(project):
    project.training_set(LABELS, "churn_v1", save="churn_2024_01")
    dataset = project.dataset("churn_2024_01")
    manifest = dataset.manifest
    assert dataset.rows == manifest["rows"] == 4
    assert dataset.path.startswith(".featurekit/datasets/test/churn_2024_01-")
    assert (project.root / dataset.path).is_file()
    request = manifest["request"]
    assert request["features"] == ["churn_v1"]
    assert request["resolved_features"] == ["customer_spend.spend", "customer_profile.age"]
    assert request["services"]["churn_v1"]["features"] == request["resolved_features"]
    assert request["labels"]["columns"] == ["customer_id", "event_timestamp", "label"]
    assert request["timestamp"] == "event_timestamp"
    assert manifest["columns"] == {"spend": "customer_spend.spend", "age": "customer_profile.age"}
    assert manifest["target"]["name"] == "test"
    from featurekit import __version__

    assert manifest["featurekit_version"] == __version__
    runs = project.ls()
    for view in ("customer_spend", "customer_profile"):
        recorded = manifest["views"][view]
        status = next(s for s in runs if s.model == view)
        assert recorded["last_success"] == status.last_success.isoformat()
        assert recorded["fingerprint"] == project.fingerprint(view)
    assert manifest["views"]["customer_spend"]["high_water_mark"] == "2024-01-02T00:00:00"
    # the manifest row is queryable in SQL, in the metadata schema
    engine = project.engine
    [(name, rows)] = engine.fetchall(
        f"SELECT name, rows FROM {engine.relation('datasets', engine.metadata_schema)}")
    assert (name, rows) == ("churn_2024_01", 4)


@spark_too
def test_content_hash_is_the_hash_of_the_file_values(project):
    """Independent reference: SHA-256 over a canonical JSON of the saved file's rows."""
    project.training_set(LABELS, "churn_v1", save="a")
    project.training_set(LABELS.iloc[::-1], "churn_v1", save="b")
    project.training_set(LABELS, "churn_v1", save="c")
    hashes = {d.name: d.content_hash for d in project.datasets()}
    assert hashes["a"] == hashes["c"] != hashes["b"]

    def reference(name: str) -> str:
        rows = project.load_training_set(name).astype(object).where(lambda f: f.notna(), None)
        return hashlib.sha256(json.dumps(rows.values.tolist(), default=str).encode()).hexdigest()

    assert reference("a") == reference("c") != reference("b")


@spark_too
def test_save_of_an_existing_name_is_refused_unless_overwrite(project):
    project.training_set(LABELS, "churn_v1", save="churn")
    first = project.dataset("churn")
    with pytest.raises(DatasetError, match='"churn" is already saved; pass overwrite=True'):
        project.training_set(LABELS.iloc[:2], "churn_v1", save="churn")
    assert project.dataset("churn").content_hash == first.content_hash
    project.training_set(LABELS.iloc[:2], "churn_v1", save="churn", overwrite=True)
    second = project.dataset("churn")
    assert second.rows == 2 and len(project.load_training_set("churn")) == 2
    assert not (project.root / first.path).exists()  # the replaced file is gone
    assert [d.name for d in project.datasets()] == ["churn"]


@pytest.mark.parametrize("name", ["", "a b", "../x", "-x"])
def test_bad_dataset_name_is_refused(project, name):
    with pytest.raises(DatasetError, match="must be letters, digits"):
        project.training_set(LABELS, "churn_v1", save=name)


@spark_too
def test_verify_of_an_unchanged_set_is_identical(project):
    project.training_set(LABELS, "churn_v1", save="churn")
    result = project.verify_training_set("churn")
    assert result.identical and result.changed_columns == [] and result.changed_views == []
    assert not result.labels_changed and result.rows_now == 4


@spark_too
def test_verify_of_sql_labels_reruns_the_query(project, factory):
    sql = ("SELECT CAST(customer_id AS BIGINT) AS customer_id, "
           "CAST(feature_ts AS TIMESTAMP) + INTERVAL '1 hour' AS event_timestamp "
           "FROM spend_src")
    frame = project.training_set(sql, "churn_v1", save="by_sql")
    assert sorted(nulls(frame["spend"])) == [10.0, 20.0]  # a query without ORDER BY
    assert project.dataset("by_sql").manifest["request"]["labels"]["sql"] == sql
    assert project.verify_training_set("by_sql").identical
    factory.seed("spend_src", SPEND + "2,2024-01-03 00:00:00,5.0\n")
    project.refresh()
    result = project.verify_training_set("by_sql")
    assert not result.identical and result.labels_changed and result.rows_now == 3


@spark_too
def test_verify_names_the_view_whose_data_changed(project, factory):
    project.training_set(LABELS, "churn_v1", save="churn")
    factory.seed("spend_src", SPEND.replace("20.0", "25.0"))
    project.refresh()
    result = project.verify_training_set("churn")
    assert not result.identical and not result.labels_changed
    assert result.changed_columns == ["spend"]
    assert [(v.view, v.sql_changed, v.data_changed) for v in result.changed_views] == [
        ("customer_spend", False, True)]


@spark_too
def test_verify_names_the_view_whose_sql_changed(project, factory):
    project.training_set(LABELS, "churn_v1", save="churn")
    factory.model("customer_profile",
                  "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
                  "CAST(age AS INTEGER) + 1 AS age FROM profile_src",
                  "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    changed = factory.open()
    changed.refresh()
    result = changed.verify_training_set("churn")
    assert not result.identical and result.changed_columns == ["age"]
    by_view = {v.view: (v.sql_changed, v.data_changed) for v in result.views}
    assert by_view == {"customer_spend": (False, False), "customer_profile": (True, True)}


def test_verify_of_an_unknown_dataset_names_the_closest(project):
    project.training_set(LABELS, "churn_v1", save="churn_2024_01")
    with pytest.raises(DatasetError, match=r'no saved training set named "churn_2024_02" '
                                           r'\(did you mean "churn_2024_01"\?\)'):
        project.verify_training_set("churn_2024_02")


def test_verify_with_nothing_saved_says_so(project):
    with pytest.raises(DatasetError, match='no saved training set named "x"; none is saved'):
        project.verify_training_set("x")


def test_load_of_a_missing_file_says_so(project):
    project.training_set(LABELS, "churn_v1", save="churn")
    (project.root / project.dataset("churn").path).unlink()
    with pytest.raises(DatasetError, match="is missing"):
        project.load_training_set("churn")


def test_saved_file_is_plain_parquet(project):
    project.training_set(LABELS, ["customer_spend.spend"], save="plain")
    table = pq.read_table(project.root / project.dataset("plain").path)
    assert table.num_rows == 4 and table.column_names[-1] == "spend"
    assert table.schema.field("spend").type == pa.float64()


def test_cli_train_set_save_and_datasets_commands(project, tmp_path):
    from featurekit.cli import main

    root = str(project.root)
    labels = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pandas(LABELS, preserve_index=False), labels)
    project.close()
    run = CliRunner().invoke
    saved = run(main, ["train-set", "--project-dir", root, "--labels", str(labels),
                       "--features", "churn_v1", "--save", "cli_set"])
    assert saved.exit_code == 0, saved.output
    assert "saved as cli_set" in saved.output
    again = run(main, ["train-set", "--project-dir", root, "--labels", str(labels),
                       "--features", "churn_v1", "--save", "cli_set"])
    assert again.exit_code == 2 and "--overwrite" in again.output
    listed = run(main, ["datasets", "ls", "--project-dir", root])
    assert listed.exit_code == 0 and "cli_set" in listed.output
    shown = run(main, ["datasets", "show", "cli_set", "--project-dir", root])
    assert shown.exit_code == 0 and "customer_spend.spend" in shown.output
    verified = run(main, ["datasets", "verify", "cli_set", "--project-dir", root])
    assert verified.exit_code == 0 and "identical" in verified.output, verified.output
    unknown = run(main, ["datasets", "verify", "cli_st", "--project-dir", root])
    assert unknown.exit_code == 2 and 'did you mean "cli_set"' in unknown.output
    neither = run(main, ["train-set", "--project-dir", root, "--labels", str(labels),
                         "--features", "churn_v1"])
    assert neither.exit_code == 2 and "--out" in neither.output


def test_cli_verify_exits_1_when_the_set_changed(project, factory, tmp_path):
    from featurekit.cli import main

    project.training_set(LABELS, "churn_v1", save="churn")
    factory.seed("spend_src", SPEND.replace("20.0", "25.0"))
    project.refresh()
    project.close()
    result = CliRunner().invoke(main, ["datasets", "verify", "churn", "--project-dir",
                                       str(project.root)])
    assert result.exit_code == 1, result.output
    assert "differs" in result.output and "customer_spend" in result.output
    assert "data changed" in result.output


def test_log_to_mlflow_records_a_dataset_input(project, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local file-based store
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    with mlflow.start_run() as run:
        project.training_set(LABELS, "churn_v1", save="churn", log_to_mlflow=True)
    saved = project.dataset("churn")
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    dataset = inputs[0].dataset
    assert dataset.name == "churn" and dataset.digest == saved.content_hash[:32]
    assert str((project.root / saved.path).resolve()) in dataset.source
    tags = {t.key: t.value for t in inputs[0].tags}
    assert tags["featurekit.content_hash"] == saved.content_hash
    assert tags["mlflow.data.context"] == "training"
    manifest = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/featurekit/datasets/churn.json")
    assert manifest == saved.manifest


def test_log_to_mlflow_needs_save(project):
    with pytest.raises(DatasetError, match="pass save=NAME"):
        project.training_set(LABELS, "churn_v1", log_to_mlflow=True)
