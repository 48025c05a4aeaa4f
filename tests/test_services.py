"""Feature services: loading, load-time errors, and a service name wherever a feature list goes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from featurekit.errors import ConfigError

SPEND = "customer_id,feature_ts,spend\n1,2024-01-01 00:00:00,10.0\n1,2024-01-02 00:00:00,20.0\n"
PROFILE = "customer_id,feature_ts,age\n1,2020-01-01 00:00:00,30\n2,2020-01-01 00:00:00,40\n"
SERVICES = """\
feature_services:
  churn_v1:
    description: Spend and age.
    version: 2
    features:
      - customer_spend.spend
      - customer_profile.*
"""


def write_views(p) -> None:
    p.seed("spend_src", SPEND)
    p.seed("profile_src", PROFILE)
    p.model("customer_spend",
            "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
            "CAST(spend AS DOUBLE) AS spend FROM spend_src",
            "entity: customer_id\ntimestamp: feature_ts\nttl: 2d")
    p.model("customer_profile",
            "SELECT customer_id, CAST(feature_ts AS TIMESTAMP) AS feature_ts, "
            "CAST(age AS INTEGER) AS age FROM profile_src",
            "entity: customer_id\ntimestamp: feature_ts\nmaterialized: table")
    p.model("plain_counts", "SELECT customer_id, count(*) AS n FROM spend_src GROUP BY 1")


@pytest.fixture
def served(make_project):
    p = make_project()
    write_views(p)
    p.write("models_sql/feature_services.yml", SERVICES)
    project = p.open()
    assert {r.status for r in project.refresh()} == {"success"}
    return project


def test_service_is_loaded_with_its_place(duck_project):
    write_views(duck_project)
    duck_project.write("models_sql/feature_services.yml", SERVICES)
    service = duck_project.open().feature_service("churn_v1")
    assert service.features == ("customer_spend.spend", "customer_profile.*")
    assert (service.version, service.description, service.line) == ("2", "Spend and age.", 2)
    assert service.views == ("customer_spend", "customer_profile")
    assert service.path == "models_sql/feature_services.yml"


def test_no_services_file_means_no_services(duck_project):
    write_views(duck_project)
    assert duck_project.open().feature_services == {}


@pytest.mark.parametrize("features, line, message", [
    ("[customer_spend.spend, customer_spnd.spend]", 3,
     'unknown feature view "customer_spnd" in "customer_spnd.spend" '
     '(did you mean "customer_spend"?)'),
    ("[customer_spend.spnd]", 3,
     'feature view customer_spend has no column "spnd" (did you mean "spend"?)'),
    ("[plain_counts.n]", 3, "model plain_counts is not a feature view"),
    ("[customer_spend]", 3, 'must be "view.column" or "view.*"'),
    ("[]", 3, "must be a non-empty list"),
])
def test_bad_reference_is_an_error_at_load_time(duck_project, features, line, message):
    write_views(duck_project)
    duck_project.write("models_sql/feature_services.yml",
                       f"feature_services:\n  s1:\n    features: {features}\n")
    with pytest.raises(ConfigError) as error:
        _ = duck_project.open().feature_services  # checked when first used
    assert str(error.value).startswith(f"models_sql/feature_services.yml:{line}: ")
    assert message in str(error.value)


def test_reference_on_its_own_line_is_reported_there(duck_project):
    write_views(duck_project)
    duck_project.write("models_sql/feature_services.yml",
                       "feature_services:\n  s1:\n    features:\n      - customer_spend.spend\n"
                       "      - customer_profile.agee\n")
    with pytest.raises(ConfigError, match=r'feature_services.yml:5: .*"agee" \(did you mean "age"'):
        _ = duck_project.open().feature_services  # checked when first used


@pytest.mark.parametrize("body, message", [
    ("feature_services:\n  s1:\n    feature: [customer_spend.spend]\n",
     ':3: unknown key "feature" in feature service s1 (did you mean "features"?)'),
    ("feature_services:\n  s1:\n    description: x\n", ":2: feature service s1 has no features"),
    ("feature_services:\n  customer_spend:\n    features: [customer_spend.spend]\n",
     ':2: feature service "customer_spend" has the name of a model'),
    ("feature_services:\n  v1.2:\n    features: [customer_spend.spend]\n",
     ':2: feature service "v1.2" has a dot in its name'),
    ("services:\n  s1: {}\n", ":1: the file holds one key, feature_services"),
    ("feature_services:\n  s1: [\n", ":3: invalid YAML"),
])
def test_malformed_file_names_the_line(duck_project, body, message):
    write_views(duck_project)
    duck_project.write("models_sql/feature_services.yml", body)
    with pytest.raises(ConfigError, match="feature_services.yml") as error:
        _ = duck_project.open().feature_services  # checked when first used
    assert message in str(error.value)


def test_training_set_takes_a_service_name(served):
    labels = pd.DataFrame({"customer_id": [1, 2, 1],
                           "event_timestamp": pd.to_datetime(["2024-01-02 12:00:00",
                                                              "2024-01-05 00:00:00",
                                                              "2023-12-31 00:00:00"])})
    by_service = served.training_set(labels, "churn_v1")
    by_list = served.training_set(labels, ["customer_spend.spend", "customer_profile.*"])
    pd.testing.assert_frame_equal(by_service, by_list)
    # expected by hand: spend at or before t within 2d (customer 2 has none); age from 2020
    assert by_service["spend"].tolist()[0] == 20.0 and by_service["spend"][1:].isna().all()
    assert by_service["age"].tolist() == [30, 40, 30]


def test_service_mixes_with_plain_references(served):
    labels = pd.DataFrame({"customer_id": [1], "event_timestamp": [pd.Timestamp("2024-01-02")]})
    frame = served.training_set(labels, ["churn_v1", "customer_spend.spend"], full_names=True)
    assert list(frame.columns)[2:] == ["customer_spend__spend", "customer_profile__age"]


def test_online_features_take_a_service_name(served):
    frame = served.online_features("churn_v1", {"customer_id": [1, 2]},
                                   now=pd.Timestamp("2024-01-02 06:00"))
    assert frame["spend"].tolist()[0] == 20.0 and frame["age"].tolist() == [30, 40]


def test_unknown_service_name_suggests_the_closest(served):
    labels = pd.DataFrame({"customer_id": [1], "event_timestamp": [pd.Timestamp("2024-01-02")]})
    from featurekit.errors import RetrievalError

    with pytest.raises(RetrievalError, match='did you mean "churn_v1"'):
        served.training_set(labels, "churn_v2")
    with pytest.raises(ConfigError, match='no feature service named "churn_v2" '
                                          r'\(did you mean "churn_v1"\?\)'):
        served.feature_service("churn_v2")


def test_cli_train_set_and_ls_know_services(served, tmp_path):
    from featurekit.cli import main

    root = str(served.root)
    labels = tmp_path / "labels.csv"
    labels.write_text("customer_id,event_timestamp\n1,2024-01-02 12:00:00\n")
    out = tmp_path / "out.parquet"
    served.close()
    result = CliRunner().invoke(main, ["train-set", "--project-dir", root, "--labels",
                                       str(labels), "--features", "churn_v1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)[["spend", "age"]].values.tolist() == [[20.0, 30]]
    listed = CliRunner().invoke(main, ["ls", "--project-dir", root, "-o", "json"])
    assert listed.exit_code == 0, listed.output
    services = json.loads(listed.output)["feature_services"]
    assert [(s["name"], s["views"]) for s in services] == [
        ("churn_v1", ["customer_spend", "customer_profile"])]
    table = CliRunner().invoke(main, ["ls", "--project-dir", root])
    assert "feature services" in table.output and "churn_v1" in table.output


def test_example_project_service_and_skew_monitor_load():
    from pathlib import Path

    from featurekit.project import Project

    project = Project(Path(__file__).resolve().parents[1])
    assert "fraud_v1" in project.feature_services
    [check] = project.monitors["fraud_skew"].checks
    assert (check.test, check.options["service"]) == ("skew", "fraud_v1")


def test_manifest_lists_the_services(duck_project):
    from featurekit.manifest import build_manifest

    write_views(duck_project)
    duck_project.write("models_sql/feature_services.yml", SERVICES)
    manifest = build_manifest(duck_project.open(), catalog=False)
    entry = manifest["feature_services"]["churn_v1"]
    assert entry["features"] == ["customer_spend.spend", "customer_profile.*"]
    assert (entry["version"], entry["line"], entry["views"]) == (
        "2", 2, ["customer_spend", "customer_profile"])
