"""The config's published JSON Schema: the models' own, committed in sync, and as strict as an editor can be."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from connect_exporter.config import ConfigError, validate_config
from connect_exporter.tools.deployment import config_schema

from .test_config import BROKEN

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "config" / "config.schema.json"
EXAMPLE = json.loads((REPO / "config" / "example.json").read_text())
# Rules across objects that JSON Schema cannot state; `validate` (and synth) refuse them, the editor does not.
ACROSS_OBJECTS = ("is a duplicate (got 'a')", "instance_id: is a duplicate", "is a routing-profile ARN", "belongs to instance")


@pytest.fixture(scope="module")
def schema() -> jsonschema.Draft202012Validator:
    document = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


def test_the_committed_schema_is_what_the_models_publish():
    assert config_schema() == json.loads(SCHEMA_FILE.read_text()), "run: make schema"


@pytest.mark.parametrize("path", sorted(p.name for p in (REPO / "config").glob("*.json") if p != SCHEMA_FILE))
def test_every_example_names_the_schema_and_passes_it(schema, path):
    example = json.loads((REPO / "config" / path).read_text())
    assert example["$schema"] == "./config.schema.json"
    assert list(schema.iter_errors(example)) == []


@pytest.mark.parametrize("raw, expected", [b for b in BROKEN if not any(rule in b[1] for rule in ACROSS_OBJECTS)])
def test_the_schema_rejects_each_broken_config(schema, raw, expected):
    assert not schema.is_valid(raw), expected


@pytest.mark.parametrize("raw, expected", [b for b in BROKEN if any(rule in b[1] for rule in ACROSS_OBJECTS)])
def test_rules_across_objects_are_checked_by_validate_alone(schema, raw, expected):
    assert schema.is_valid(raw)
    with pytest.raises(ConfigError, match="|".join(map(re.escape, ACROSS_OBJECTS))):
        validate_config(raw)


@pytest.mark.parametrize(
    "deployment",
    [
        {"schedule": "rate(90 seconds)"},
        {"schedule": "rate(16 minutes)"},
        {"encryption": "aes"},
        {"reserved_concurrency": 0},
        {"prefix": "history/raw"},
        {"prefix": "snapshots/"},
        {"log_retention_days": 31},
        {"tracing": "yes"},
        {"alarms": [{"filter": "support", "channel": "FAX", "threshold": 1}]},
        {"database": "Connect-Data"},
        {"activity_interval_minutes": 20},
        {"sample_seconds": 45},
        {"chat": {}},
        {"chat": {"slack": {"workspace_id": "t-lower", "channel_id": "C1"}}},
        {"chat": {"teams": {"team_id": "not-a-uuid", "channel_id": "19%3ax%40thread.tacv2", "tenant_id": "x"}}},
        {"unknown": 1},
    ],
)
def test_the_schema_rejects_each_broken_deployment_setting(schema, deployment):
    config = copy.deepcopy(EXAMPLE)
    config["deployment"].update(deployment)
    assert not schema.is_valid(config)
