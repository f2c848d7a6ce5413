"""Input hardening, unit by unit: configs that are almost right, destinations that are almost S3, times at
the edges, answers with values of the wrong kind. Each bad input is one ConfigError or ValueError line that
names it; nothing else is ever raised, and nothing good is lost."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_exporter.config import ConfigError, home_problems, parse_config
from connect_exporter.metrics import agent_documents
from connect_exporter.records import flatten
from connect_exporter.schema import COLUMNS
from connect_exporter.sinks import parse_destination
from connect_exporter.snapshot import BadSnapshotTime, snapshot_time
from connect_exporter.tools.deployment import load_settings

from ..hive_types import conforms, hive_type

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((REPO / "config" / "example.json").read_text())
INSTANCE = EXAMPLE["instances"][0]["instance_id"]
NOW = dt.datetime(2026, 12, 2, 4, 0, 20, tzinfo=dt.UTC)


def with_changes(**deployment) -> dict:
    config = copy.deepcopy(EXAMPLE)
    config["deployment"].update(deployment)
    return config


def write(config: dict, folder: Path) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


def load(config: dict, folder: Path, **home) -> object:
    return load_settings(write(config, folder), **home)


# --- full-string matching: a trailing newline is not a name -------------------------------------------------


@pytest.mark.parametrize("where", ["filter", "instance_id", "prefix", "database", "alarm_email"])
def test_a_trailing_newline_is_refused_wherever_a_name_is_checked(where, tmp_path):
    config = copy.deepcopy(EXAMPLE)
    if where == "filter":
        config["instances"][0]["filters"][0]["name"] += "\n"
    elif where == "instance_id":
        config["instances"][0]["instance_id"] += "\n"
    else:
        config["deployment"][where] = {"prefix": "snapshots", "database": "connect_user_data", "alarm_email": "ops@example.com"}[
            where
        ] + "\n"
    field = {"filter": "filters[0].name", "instance_id": "instance_id"}.get(where, f"deployment.{where}")
    with pytest.raises(ConfigError, match=re.escape(field) + r": .*\\n"):
        load(config, tmp_path)


@pytest.mark.parametrize("ttl, ok", [(0, False), (59, False), (60, True), (900, True)])
def test_the_names_cache_lives_at_least_a_minute(ttl, ok, tmp_path):
    config = {**copy.deepcopy(EXAMPLE), "names": {"ttl_seconds": ttl}}
    if ok:
        assert load(config, tmp_path).exporter.names_ttl_seconds == ttl
    else:
        with pytest.raises(ConfigError, match=r"names.ttl_seconds: must be a whole number from 60 to 86400"):
            load(config, tmp_path)


# --- ARNs: of the filter's instance, of one account and Region, the deployment's where known -------------------


def arn(account="123456789012", region="us-east-1", partition="aws", instance=INSTANCE, kind="agent", rid="a1"):
    return f"arn:{partition}:connect:{region}:{account}:instance/{instance}/{kind}/{rid}"


def agents_config(*values: str) -> dict:
    config = copy.deepcopy(EXAMPLE)
    config["instances"][0]["filters"] = [{"name": "vip", "agents": list(values)}]
    config["deployment"].pop("alarms", None)
    return config


@pytest.mark.parametrize(
    "other, word",
    [
        (arn(account="210987654321", rid="a2"), "account 210987654321"),
        (arn(region="eu-west-1", rid="a2"), "Region eu-west-1"),
        (arn(partition="aws-cn", region="us-east-1", rid="a2"), "partition aws-cn"),
    ],
)
def test_arns_of_two_accounts_regions_or_partitions_are_refused(other, word, tmp_path):
    with pytest.raises(
        ConfigError, match=rf"agents\[1\]: is in .*{word}.* but .*agents\[0\] is in .*the exporter reads one account and Region"
    ):
        load(agents_config(arn(), other), tmp_path)


def test_arns_outside_the_deployments_account_or_region_are_refused_when_it_is_known(tmp_path):
    config = agents_config(arn(), arn(rid="a2"))
    assert load(config, tmp_path).exporter.instances[0].filters[0].values  # no environment known: consistent is enough
    assert load(config, tmp_path, region="us-east-1", account="123456789012")
    with pytest.raises(ConfigError, match=r"agents\[0\]: is in account 123456789012 \(the deployment's is 999999999999\)"):
        load(config, tmp_path, region="us-east-1", account="999999999999")
    problems = home_problems(load(config, tmp_path).exporter, "c.json", "cn-north-1", None)
    assert (
        len(problems) == 2
        and "partition aws (the deployment's is aws-cn), region us-east-1 (the deployment's is cn-north-1)" in problems[0]
    )


# --- alarm fields of the wrong JSON type are one line, not a TypeError --------------------------------------


@pytest.mark.parametrize("field", ["comparison", "instance_id", "channel", "metric", "filter"])
def test_an_alarm_field_that_is_a_list_is_one_line(field, tmp_path):
    alarm = {"filter": "all-agents", "channel": "VOICE", "threshold": 1, field: ["x"]}
    with pytest.raises(ConfigError, match=rf"deployment.alarms\[0\].{field}: .*\(got \[\"x\"\]\)"):
        load(with_changes(alarms=[alarm]), tmp_path)


def test_a_config_is_never_anything_but_config_errors_whatever_is_put_anywhere(tmp_path):
    """Every value of the example replaced by each of a set of hostile values, one at a time, in both modes."""
    hostile = [None, [], {}, ["x"], {"a": 1}, "", "x\n", -1, 10**40, 1.5, True]
    places: list[tuple] = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, child in items:
            places.append((*path, key))
            walk(child, (*path, key))

    walk(EXAMPLE, ())
    assert len(places) > 30
    for place in places:
        for value in hostile:
            config = copy.deepcopy(EXAMPLE)
            node = config
            for key in place[:-1]:
                node = node[key]
            node[place[-1]] = value
            path = write(config, tmp_path)
            try:
                load_settings(path)
            except ConfigError as error:  # every problem one line, the first the error's own message
                assert error.problems[0] == str(error)
                assert all("\n" not in p.replace("\\n", "") and p.startswith(f"{path}: ") for p in error.problems)


# --- destinations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dest, expected",
    [
        ("s3://my-bucket", ("s3", "my-bucket", "")),
        ("s3://my-bucket/a/b/", ("s3", "my-bucket", "a/b")),
        ("out/snapshots", ("local", "out/snapshots", "")),
        ("s3-exports/today", ("local", "s3-exports/today", "")),
    ],
)
def test_destinations_that_are_right(dest, expected):
    assert parse_destination(dest) == expected


@pytest.mark.parametrize(
    "dest",
    [
        "S3://b-1/x",
        "s3:/b-1/x",
        "s3//b-1/x",
        "s3:b-1",
        " s3://b-1",
        "",
        "   ",
        "s3://",
        "s3://ab",
        "s3://Bucket/x",
        "s3://b_1/x",
        "s3://b-1/a//x",
        "s3://b-1/../x",
        "s3://a..b/x",
    ],
)
def test_destinations_that_are_almost_right_are_refused(dest):
    with pytest.raises(ValueError, match="destination"):
        parse_destination(dest)


# --- times --------------------------------------------------------------------------------------------------


def test_times_are_truncated_to_the_minute_and_taken_in_utc():
    assert snapshot_time("2026-11-24T03:00:59.999Z", now=NOW) == dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
    assert snapshot_time("2026-11-24T05:30:10+02:00", now=NOW) == dt.datetime(2026, 11, 24, 3, 30, tzinfo=dt.UTC)
    assert snapshot_time(None, now=NOW) == NOW.replace(second=0)
    assert snapshot_time("2026-12-02T04:01:00Z", now=NOW) == NOW.replace(minute=1, second=0)  # within the period ahead


@pytest.mark.parametrize(
    "value, words",
    [
        ("2026-12-02T04:02:00Z", "in the future"),
        ("2099-01-01T00:00:00Z", "in the future"),
        ("2016-12-31T23:59:00Z", "before 2017"),
        ("9999-12-31T23:59:00-14:00", "outside the calendar"),
        ("0001-01-01T00:00:00+14:00", "outside the calendar"),
        ("tomorrow", "not an ISO-8601"),
        ("", "not an ISO-8601"),
        (1795491960, "not an ISO-8601"),
    ],
)
def test_impossible_times_are_refused_in_one_line(value, words):
    with pytest.raises(BadSnapshotTime, match=words):
        snapshot_time(value, now=NOW)


# --- records: a value of the wrong kind costs its field -----------------------------------------------------

garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            "User.Arn",
            "RoutingProfile",
            "RoutingProfile.Id",
            "Status",
            "Status.StatusName",
            "Status.StatusStartTimestamp",
            "HierarchyPath",
            "HierarchyPath.LevelOne",
            "AvailableSlotsByChannel",
            "AvailableSlotsByChannel.VOICE",
            "Contacts",
            "Contacts.0",
            "Contacts.0.StateStartTimestamp",
            "Contacts.0.Queue",
            "Contacts.0.Channel",
            "NextStatus",
        ]
    ),
    garbage,
)
def test_any_value_of_any_field_gives_a_record_the_glue_table_reads(place, value):
    item = {
        "User": {"Id": "u1", "Arn": "arn:u1"},
        "RoutingProfile": {"Id": "rp", "Arn": "arn:rp"},
        "Status": {"StatusName": "Available", "StatusArn": "arn:s", "StatusStartTimestamp": 1795491900.0},
        "HierarchyPath": {"LevelOne": {"Id": "g1", "Arn": "arn:g1"}},
        "AvailableSlotsByChannel": {"VOICE": 1, "CHAT": 2},
        "MaxSlotsByChannel": {"VOICE": 1, "CHAT": 2},
        "Contacts": [{"ContactId": "c1", "Channel": "VOICE", "StateStartTimestamp": 1795491950.0, "Queue": {"Id": "q1"}}],
        "NextStatus": "Break",
    }
    node = item
    *parents, last = place.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    problems: list[str] = []
    record = flatten(item, dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC), problems=problems)
    for column in COLUMNS:
        assert conforms(record[column.name], hive_type(column.type)), (column.name, record[column.name])
    assert record["user_id"] == "u1" and record["max_slots"] == {"VOICE": 1, "CHAT": 2}  # the rest of the record stands
    assert json.loads(json.dumps(record, allow_nan=False)) == record


def test_per_agent_metrics_name_the_user_id_never_the_username():
    record = {"user_id": "u-1", "username": "jane.doe@example.com", "available_slots": {"VOICE": 1}, "active_slots": {"VOICE": 0}}
    (doc,) = agent_documents("NS", dt.datetime(2026, 11, 24, tzinfo=dt.UTC), "i", "f", [record])
    assert doc["Agent"] == "u-1" and "jane" not in json.dumps(doc)


def test_parse_config_refuses_text_no_json_reader_can_take():
    for text, words in [("9" * 5000, "not a usable JSON document"), ("[" * 100000 + "]" * 100000, "nested too deeply")]:
        with pytest.raises(ConfigError, match=words):
            parse_config(text, "c.json")


# --- the history tier's writes stay within Athena's 100 partitions a query -----------------------------------


@pytest.mark.parametrize("instances, per_instance, ok", [(1, 100, True), (10, 10, True), (10, 11, False), (2, 51, False)])
def test_more_filters_than_one_history_write_may_cover_are_refused_in_one_line(instances, per_instance, ok, tmp_path):
    config = copy.deepcopy(EXAMPLE)
    config["deployment"]["alarms"] = []
    config["instances"] = [
        {"instance_id": f"aaaaaaaa-bbbb-4ccc-8ddd-{n:012d}", "filters": [{"name": f"f{m}"} for m in range(per_instance)]}
        for n in range(instances)
    ]
    if ok:
        assert len(load(config, tmp_path).exporter.instances) == instances
        return
    with pytest.raises(ConfigError, match=rf"instances: {instances * per_instance} filters in all: .* at most 100; split"):
        load(config, tmp_path)


@pytest.mark.parametrize(
    "days, raw, ok", [(2, 30, True), (30, 30, True), (8, 8, True), (9, 8, False), (31, 60, False), (0, 30, False)]
)
def test_the_reconciled_days_are_days_raw_still_holds(days, raw, ok, tmp_path):
    config = with_changes(history_reconcile_days=days, snapshot_retention_days=raw)
    if ok:
        assert load(config, tmp_path).deployment.history_reconcile_days == days
        return
    with pytest.raises(ConfigError, match=rf"deployment.history_reconcile_days: .*\(got {days}\)"):
        load(config, tmp_path)


@pytest.mark.parametrize("minutes, ok", [(15, True), (30, True), (60, True), (20, False), (0, False), ("15", False)])
def test_the_activity_interval_divides_an_hour_as_wfm_tools_import_it(minutes, ok, tmp_path):
    config = with_changes(activity_interval_minutes=minutes)
    if ok:
        assert load(config, tmp_path).deployment.activity_interval_minutes == minutes
        return
    with pytest.raises(ConfigError, match=rf"deployment.activity_interval_minutes: must be 15, 30 or 60 \(got '?{minutes}'?\)"):
        load(config, tmp_path)
