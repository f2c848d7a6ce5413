"""Config validation: every rule rejects with one line naming source, field and value."""

from __future__ import annotations

import json

import pytest

from connect_exporter.config import (
    ALL_AGENTS,
    ConfigError,
    FilterConfig,
    load_config,
    parse_config,
    validate_config,
)

IID = "11111111-2222-3333-4444-555555555555"
ARN = f"arn:aws:connect:us-east-1:123456789012:instance/{IID}"


def cfg(*filters, **top):
    return {"instances": [{"instance_id": IID, "filters": list(filters) or [{"name": "all-agents"}]}], **top}


def error_of(raw) -> str:
    """Every problem of `raw`, one line each naming the file (the first is the error's own message)."""
    with pytest.raises(ConfigError) as info:
        validate_config(raw, source="cfg.json")
    lines = info.value.problems
    assert lines[0] == str(info.value)
    assert all("\n" not in line and line.startswith("cfg.json") for line in lines)
    return "\n".join(lines)


def test_full_example_parses_into_typed_filters():
    config = validate_config(
        cfg(
            {"name": "all-agents"},
            {"name": "support", "queues": ["q1", f"{ARN}/queue/q2"]},
            {"name": "busy-voice", "routing_profiles": ["rp1"], "contact_states": ["CONNECTED", "CONNECTED_ONHOLD"]},
            {"name": "vip", "agents": ["a1"]},
            {"name": "emea", "user_hierarchy_groups": ["g1", "g2"]},
            pacing={"requests_per_second": 4, "burst": 10},
            metrics={"namespace": "Team/Connect", "per_agent": True},
        )
    )
    kinds = [(f.name, f.kind, f.values, f.contact_states) for f in config.instances[0].filters]
    assert kinds == [
        ("all-agents", ALL_AGENTS, (), ()),
        ("support", "queues", ("q1", f"{ARN}/queue/q2"), ()),
        ("busy-voice", "routing_profiles", ("rp1",), ("CONNECTED", "CONNECTED_ONHOLD")),
        ("vip", "agents", ("a1",), ()),
        ("emea", "user_hierarchy_groups", ("g1", "g2"), ()),
    ]
    assert config.pacing.requests_per_second == 4.0 and config.pacing.burst == 10
    assert config.metrics.namespace == "Team/Connect" and config.metrics.per_agent is True


def test_defaults_are_the_connect_quota_and_namespace():
    config = validate_config(cfg())
    assert (config.pacing.requests_per_second, config.pacing.burst) == (2.0, 5)
    assert config.metrics.namespace == "ConnectUserData" and config.metrics.per_agent is False


# Each broken config and the words of its error (tests/unit/test_config_schema.py holds the JSON Schema to them too).
BROKEN = [
    ([], "must be a JSON object"),
    ({}, "instances: is required"),
    ({"instances": [], "x": 1}, "x: unknown key"),
    ({"instances": []}, "instances: must hold at least 1"),
    (cfg(extra=1), "extra: unknown key"),
    ({"instances": [{"instance_id": IID}]}, "instances[0].filters: is required"),
    ({"instances": [{"instance_id": "a/b", "filters": [{"name": "x"}]}]}, "instances[0].instance_id: must be"),
    ({"instances": [{"instance_id": IID, "filters": []}]}, "instances[0].filters: must hold at least 1"),
    ({"instances": [{"instance_id": IID, "filters": [{"name": "a"}]}] * 2}, "instances[1].instance_id: is a duplicate"),
    (cfg({"name": "x", "queue": ["q"]}), "instances[0].filters[0].queue: unknown key"),
    (cfg({"queues": ["q"]}), "instances[0].filters[0].name: is required"),
    (cfg({"name": "Support"}), "filters[0].name: must match"),
    (cfg({"name": "-x"}), "filters[0].name: must match"),
    (cfg({"name": "a" * 64}), "filters[0].name: must match"),
    (cfg({"name": "a"}, {"name": "a"}), "filters[1].name: is a duplicate (got 'a')"),
    (cfg({"name": "x", "queues": ["q"], "agents": ["a"]}), "sets queues and agents; the API takes at most one"),
    (cfg({"name": "x", "queues": []}), "filters[0].queues: must hold at least 1"),
    (cfg({"name": "x", "queues": "q1"}), "filters[0].queues: must be a JSON array"),
    (cfg({"name": "x", "queues": [7]}), "filters[0].queues[0]: must be a string id or ARN (got 7)"),
    (cfg({"name": "x", "queues": ["q 1"]}), "filters[0].queues[0]: must be a queue id or ARN"),
    (cfg({"name": "x", "queues": ["q1", "q2", "q1"]}), "filters[0].queues[2]: repeats"),
    (cfg({"name": "x", "queues": [f"{ARN}/routing-profile/r1"]}), "is a routing-profile ARN; queues takes queue ARNs"),
    (
        cfg({"name": "x", "agents": ["arn:aws:connect:us-east-1:123456789012:instance/other/agent/a1"]}),
        "belongs to instance other",
    ),
    (cfg({"name": "x", "contact_states": ["TALKING"]}), "contact_states[0]: must be one of INCOMING"),
    (cfg({"name": "x", "contact_states": []}), "contact_states: must hold at least 1"),
    (
        cfg({"name": "x", "contact_states": ["MISSED", "MISSED"]}),
        "instances[0].filters[0].contact_states[1]: is a duplicate (got 'MISSED')",
    ),
    (cfg(pacing={"requests_per_second": 0}), "pacing.requests_per_second: must be a number"),
    (cfg(pacing={"burst": 2.5}), "pacing.burst: must be a whole number"),
    (cfg(pacing={"rate": 2}), "pacing.rate: unknown key"),
    (cfg(pacing={"requests per second": 2}), 'pacing["requests per second"]: unknown key'),
    (
        cfg(pacing={"operations": {"GetUserData": {"burst": 9}}}),
        "pacing.operations.GetUserData: unknown key; allowed keys: GetCurrentUserData, ListQueues, ListRoutingProfiles",
    ),
    (
        cfg(pacing={"operations": {"GetCurrentUserData": {"requests_per_second": 0}}}),
        "pacing.operations.GetCurrentUserData.requests_per_second: must be a number from 0.01 to 1000 (got 0)",
    ),
    (cfg(pacing={"operations": {"ListUsers": {"burst": 1.5}}}), "pacing.operations.ListUsers.burst: must be a whole number"),
    (cfg(pacing={"operations": {"ListUsers": 5}}), "pacing.operations.ListUsers: must be a JSON object (got 5)"),
    (cfg(metrics={"namespace": "AWS/Connect"}), "metrics.namespace: must be"),
    (cfg(metrics={"per_agent": "yes"}), "metrics.per_agent: must be true or false"),
    (cfg(names={"ttl_seconds": -1}), "names.ttl_seconds: must be a whole number"),
    (
        cfg(metrics={"families": ["slots", "queues"]}),
        "metrics.families[1]: must be one of slots, agents, status, contacts, health (got 'queues')",
    ),
    (cfg(metrics={"families": "slots"}), "metrics.families: must be a JSON array (got 'slots')"),
    (cfg({"name": "x", "metrics": ["slots", "slots"]}), "instances[0].filters[0].metrics[1]: is a duplicate (got 'slots')"),
    (cfg({"name": "x", "metrics": ["Slots"]}), "instances[0].filters[0].metrics[0]: must be one of slots"),
    (cfg(deployment=[1]), "deployment: must be a JSON object"),
]


@pytest.mark.parametrize("raw, expected", BROKEN)
def test_each_rule_rejects_with_a_one_line_error_naming_the_field(raw, expected):
    assert expected in error_of(raw)


def test_metric_families_default_to_all_and_a_filter_overrides_the_config():
    assert validate_config(cfg({"name": "a"})).families(FilterConfig(name="a")) == {
        "slots",
        "agents",
        "status",
        "contacts",
        "health",
    }
    config = validate_config(
        cfg(
            {"name": "a"},
            {"name": "b", "metrics": ["slots"]},
            {"name": "c", "metrics": []},
            metrics={"families": ["slots", "health"]},
        )
    )
    a, b, c = config.instances[0].filters
    assert (config.families(a), config.families(b), config.families(c)) == ({"slots", "health"}, {"slots"}, set())


def test_lists_longer_than_an_api_call_are_accepted_for_chunking():
    config = validate_config(cfg({"name": "big", "queues": [f"q{i}" for i in range(500)]}))
    assert len(config.instances[0].filters[0].values) == 500


def test_invalid_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"instances": [\n  {"instance_id": "x",,}]}')
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON at line 2 column 23"):
        load_config(path)


def test_duplicate_json_keys_are_rejected_not_silently_overwritten():
    text = json.dumps(cfg()).replace('"instances"', '"instances": [], "instances"', 1)
    with pytest.raises(ConfigError, match="duplicate key 'instances'"):
        parse_config(text, source="dup.json")


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"missing.json: cannot read config: No such file"):
        load_config(tmp_path / "missing.json")


def test_pacing_per_operation_overrides_only_the_operations_it_names():
    config = validate_config(
        cfg(
            pacing={
                "requests_per_second": 2,
                "burst": 5,
                "operations": {"GetCurrentUserData": {"requests_per_second": 20, "burst": 40}, "ListUsers": {"burst": 8}},
            }
        )
    )
    pace = config.pacing.pace
    assert (pace("GetCurrentUserData").requests_per_second, pace("GetCurrentUserData").burst) == (20, 40)
    assert (pace("ListUsers").requests_per_second, pace("ListUsers").burst) == (2, 8)  # unnamed values: the default
    assert (pace("ListQueues").requests_per_second, pace("ListQueues").burst) == (2, 5)
