"""Model files: the /* featurekit */ header and its errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from featurekit.errors import ModelError
from featurekit.model import parse_model

HEADER = """/* featurekit
entity: [customer_id, merchant_id]
timestamp: feature_ts
materialized: table
refresh: "0 * * * *"
ttl: 7d
description: Spend.
columns:
  spend: Total spend.
*/
SELECT 1 AS customer_id
"""


def parse(text: str) -> object:
    return parse_model(Path("models_sql/m.sql"), text)


def test_header_fields_are_parsed():
    model = parse(HEADER)
    assert model.name == "m"
    assert model.entity == ["customer_id", "merchant_id"]
    assert model.timestamp == "feature_ts"
    assert model.materialized == "table"
    assert model.refresh == "0 * * * *"
    assert model.ttl == timedelta(days=7)
    assert model.columns == {"spend": "Total spend."}
    assert model.unique_key == ["customer_id", "merchant_id", "feature_ts"]


def test_header_is_blanked_but_lines_are_kept():
    model = parse(HEADER)
    assert "featurekit" not in model.sql
    assert model.sql.count("\n") == HEADER.count("\n")
    assert model.sql.splitlines()[10] == "SELECT 1 AS customer_id"


def test_no_header_defaults_to_materialized_view():
    model = parse("SELECT 1 AS a")
    assert model.materialized == "materialized_view"
    assert model.entity == [] and not model.is_feature_view


def test_single_entity_string_becomes_list():
    model = parse("/* featurekit\nentity: id\ntimestamp: ts\n*/\nSELECT 1")
    assert model.entity == ["id"]


def test_malformed_yaml_names_file_and_line():
    with pytest.raises(ModelError, match=r"models_sql/m.sql:3: invalid YAML"):
        parse("/* featurekit\nentity: id\ntimestamp: [ts\n*/\nSELECT 1")


def test_unknown_header_key_suggests_the_right_one():
    with pytest.raises(ModelError, match=r'unknown header key "entitiy" \(did you mean "entity"\?\)'):
        parse("/* featurekit\nentitiy: id\n*/\nSELECT 1")


def test_entity_without_timestamp_is_an_error():
    with pytest.raises(ModelError, match=r"models_sql/m.sql: model has entity \['id'\] but no timestamp"):
        parse("/* featurekit\nentity: id\n*/\nSELECT 1")


def test_unknown_materialization_suggests():
    with pytest.raises(ModelError, match=r'unknown materialized "tabel" \(did you mean "table"\?\)'):
        parse("/* featurekit\nmaterialized: tabel\n*/\nSELECT 1")


def test_bad_refresh_schedule():
    with pytest.raises(ModelError, match=r'refresh "every hour" is neither a duration'):
        parse("/* featurekit\nrefresh: every hour\n*/\nSELECT 1")


def test_bad_ttl():
    with pytest.raises(ModelError, match=r"ttl: .*is not a duration"):
        parse("/* featurekit\nttl: a week\n*/\nSELECT 1")


def test_header_that_is_not_a_mapping():
    with pytest.raises(ModelError, match=r"m.sql:1: the featurekit header must be a YAML mapping"):
        parse("/* featurekit\n- a\n- b\n*/\nSELECT 1")


def test_empty_sql_is_an_error():
    with pytest.raises(ModelError, match="has no SQL"):
        parse("/* featurekit\nmaterialized: view\n*/\n")


def test_incremental_needs_timestamp():
    with pytest.raises(ModelError, match="incremental models need"):
        parse("/* featurekit\nmaterialized: incremental\n*/\nSELECT 1")


def test_cron_step_closing_the_comment_gets_a_hint():
    with pytest.raises(ModelError, match=r"\*/ ends the header comment"):
        parse("/* featurekit\nrefresh: '*/30 * * * *'\n*/\nSELECT 1")
