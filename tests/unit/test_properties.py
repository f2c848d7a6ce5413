"""Property-based tests: config validation over any JSON, and flattening over any response botocore's
`connect` model allows (plus values newer than the model: unknown channels, states and methods)."""

from __future__ import annotations

import datetime as dt
import json
import re

import botocore.session
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connect_exporter.config import (
    CONTACT_STATES,
    FILTER_KINDS,
    ConfigError,
    ExporterConfig,
    FilterConfig,
    parse_config,
)
from connect_exporter.metrics import CHANNELS, FilterHealth, filter_documents
from connect_exporter.pager import fetch_filter, filter_chunks
from connect_exporter.records import Names, flatten
from connect_exporter.schema import COLUMNS, CONTACT_COLUMNS

from ..hive_types import conforms, hive_type
from ..support import summarize
from .test_pager import FakeConnect, api

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = "exporter.json"

# --- config -----------------------------------------------------------------------------------------

ident = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
instance_ids = st.uuids().map(str)


@st.composite
def filters(draw, instance_id: str, name: str) -> dict:
    kind = draw(st.sampled_from(["all", *FILTER_KINDS]))
    filt: dict = {"name": name}
    if kind != "all":
        arn_type = FILTER_KINDS[kind][1]
        ids = draw(st.lists(st.uuids().map(str), min_size=1, max_size=250, unique=True))
        as_arn = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
        filt[kind] = [
            f"arn:aws:connect:us-east-1:123456789012:instance/{instance_id}/{arn_type}/{i}" if arn else i
            for i, arn in zip(ids, as_arn, strict=True)
        ]
    if draw(st.booleans()):
        filt["contact_states"] = draw(st.lists(st.sampled_from(CONTACT_STATES), min_size=1, unique=True))
    return filt


@st.composite
def valid_configs(draw) -> dict:
    ids = draw(st.lists(instance_ids, min_size=1, max_size=3, unique=True))
    instances = []
    for iid in ids:
        names = draw(st.lists(ident, min_size=1, max_size=5, unique=True))
        instances.append({"instance_id": iid, "filters": [draw(filters(iid, n)) for n in names]})
    config: dict = {"instances": instances}
    if draw(st.booleans()):
        config["pacing"] = {
            "requests_per_second": draw(st.floats(0.01, 1000)),
            "burst": draw(st.integers(1, 1000)),
            "max_attempts": draw(st.integers(1, 20)),
        }
    if draw(st.booleans()):
        config["metrics"] = {
            "namespace": draw(st.from_regex(r"[A-Za-z0-9._#:-]{1,40}", fullmatch=True)),
            "per_agent": draw(st.booleans()),
        }
    return config


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@SETTINGS
@given(valid_configs())
def test_every_valid_config_parses_into_exactly_what_it_says(raw):
    config = parse_config(json.dumps(raw), SOURCE)
    assert isinstance(config, ExporterConfig)
    assert [i.instance_id for i in config.instances] == [i["instance_id"] for i in raw["instances"]]
    for parsed, given_instance in zip(config.instances, raw["instances"], strict=True):
        for filt, given_filter in zip(parsed.filters, given_instance["filters"], strict=True):
            kinds = [k for k in FILTER_KINDS if k in given_filter]
            assert filt.name == given_filter["name"]
            assert filt.kind == (kinds[0] if kinds else "all")
            assert filt.values == tuple(given_filter.get(filt.kind, ()))
            assert filt.contact_states == tuple(given_filter.get("contact_states", ()))
    if "pacing" in raw:
        assert config.pacing.burst == raw["pacing"]["burst"]


def _resolves(doc, path: str) -> bool:
    """Does `a.b[2]["odd key"]` name a place in the document (or a key missing from an object there)?"""
    node = doc
    steps = re.findall(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]', path)
    if "".join(f".{k}" if k else f"[{i or q}]" for k, i, q in steps).lstrip(".") != path:
        return False  # something in the path is not a key, an index or a quoted key
    for n, (key, index, quoted) in enumerate(steps):
        last = n == len(steps) - 1
        key = json.loads(quoted) if quoted else key
        if index:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        elif isinstance(node, dict) and (key in node or last):
            node = node.get(key)
        else:
            return False
    return True


_STEP = r'(?:\.?[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])'
PATH = re.compile(f"{_STEP}+")
TOP_LEVEL = ("must be a JSON object", "not valid JSON", "duplicate key", "cannot read config")


def _check_error(error: ConfigError | str, doc) -> None:
    """One line: `file: path: problem` with a path into the document, or `file: problem` about the whole."""
    message = str(error)
    assert "\n" not in message and message.startswith(f"{SOURCE}: ")
    rest = message[len(SOURCE) + 2 :]
    path = PATH.match(rest)
    if path and rest[path.end() :].startswith(": "):
        assert _resolves(doc, path.group()), message
    else:
        assert rest.startswith(TOP_LEVEL), message


def break_one_field(raw: dict, data) -> None:
    """Replace one value anywhere below the top of `raw` (a key's value or a list item) with any JSON."""
    places: list[tuple] = []

    def collect(node, here):
        places.append(here)
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            collect(child, (*here, key))

    collect(raw, ())
    place = data.draw(st.sampled_from(places[1:]))
    node = raw
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = data.draw(json_values)


@SETTINGS
@given(valid_configs(), st.data())
def test_any_one_broken_field_is_named_in_one_line(raw, data):
    """Replace one value anywhere in a valid config with any JSON: it still parses (the new value is
    also valid) or fails with one line naming a place that exists in the file."""
    break_one_field(raw, data)
    try:
        parse_config(json.dumps(raw), SOURCE)
    except ConfigError as error:
        _check_error(error, raw)


@SETTINGS
@given(valid_configs(), st.data())
def test_validate_reports_every_broken_field_and_first_the_one_synth_stops_at(raw, data):
    """Break up to three fields: the one error synth and `connect-exporter validate` both get holds one line per
    problem, each naming a place in the file, the first being the error's own message (what synth prints)."""
    for _ in range(data.draw(st.integers(1, 3))):
        break_one_field(raw, data)
    try:
        parse_config(json.dumps(raw), SOURCE)
    except ConfigError as error:
        assert error.problems and error.problems[0] == str(error)
        assert len(set(error.problems)) == len(error.problems)  # nothing said twice
        for problem in error.problems:
            _check_error(problem, raw)


@SETTINGS
@given(st.one_of(json_values, st.text(max_size=60)))
def test_anything_else_is_a_one_line_config_error_never_a_traceback(value):
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        parse_config(text, SOURCE)
    except ConfigError as error:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        _check_error(error, doc)


# --- flattening, from botocore's own output shape ------------------------------------------------------

MODEL = botocore.session.get_session().get_service_model("connect")
USER_DATA = MODEL.operation_model("GetCurrentUserData").output_shape.members["UserDataList"].member
ZONES = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))])


def from_shape(shape) -> st.SearchStrategy:
    """Any value botocore could hand back for this shape; enums also take values newer than the model."""
    kind = shape.type_name
    if kind == "structure":
        return st.fixed_dictionaries({}, optional={name: from_shape(member) for name, member in shape.members.items()})
    if kind == "list":
        return st.lists(from_shape(shape.member), max_size=4)
    if kind == "map":
        return st.dictionaries(from_shape(shape.key), from_shape(shape.value), max_size=6)
    if kind == "string":
        text = st.text(min_size=shape.metadata.get("min", 0), max_size=min(shape.metadata.get("max", 40), 40))
        return st.sampled_from(shape.enum) | text if shape.enum else text
    if kind in ("integer", "long"):
        return st.integers(shape.metadata.get("min", -(2**31)), 2**31 - 1)  # Glue's int is 32-bit
    if kind == "timestamp":
        return st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=ZONES)
    raise AssertionError(f"no strategy for {shape.name} ({kind})")


snapshot_times = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC))
COLUMN_TYPES = [(c.name, hive_type(c.type)) for c in COLUMNS]


@SETTINGS
@given(from_shape(USER_DATA), snapshot_times)
def test_any_user_data_flattens_to_a_record_the_glue_table_reads(user, at):
    names = Names(users={(user.get("User") or {}).get("Id", ""): "someone"})
    record = flatten(user, at, names)
    assert tuple(record) == tuple(c.name for c in COLUMNS)
    for name, kind in COLUMN_TYPES:
        assert conforms(record[name], kind), (name, record[name])
    assert json.loads(json.dumps(record)) == record
    assert record["user_id"] == (user.get("User") or {}).get("Id")
    contacts = user.get("Contacts") or []
    assert record["contact_count"] == len(record["contacts"]) == len(contacts)
    assert all(tuple(c) == tuple(c.name for c in CONTACT_COLUMNS) for c in record["contacts"])
    assert [c["agent_contact_state"] for c in record["contacts"]] == [c.get("AgentContactState") for c in contacts]
    for api_key, column in (
        ("AvailableSlotsByChannel", "available_slots"),
        ("MaxSlotsByChannel", "max_slots"),
        ("ActiveSlotsByChannel", "active_slots"),
    ):
        assert record[column] == user.get(api_key)  # every channel kept, new ones included
    start = (user.get("Status") or {}).get("StatusStartTimestamp")
    if start is not None:
        assert record["status_duration_seconds"] == round((at - start).total_seconds(), 3)


@SETTINGS
@given(st.lists(from_shape(USER_DATA), max_size=8), snapshot_times)
def test_any_records_sum_into_valid_emf_with_every_channel(users, at):
    records = [flatten(u, at, Names()) for u in users]
    summary = summarize(records)
    docs = filter_documents("ConnectUserData", at, "i-1", "f", summary, FilterHealth(failed=False))
    channel_docs = [d for d in docs if "Channel" in d]
    channels = [d["Channel"] for d in channel_docs]
    named = {
        ch for r in records for key in ("available_slots", "max_slots", "active_slots") for ch in (r[key] or {}) if ch.strip()
    }
    assert len(channels) == len(set(channels)) and set(channels) >= set(CHANNELS) | {ch[:1024] for ch in named}
    # Nothing is lost or double counted, whatever the channel keys (a blank one is reported as UNKNOWN).
    assert sum(d["MaxSlots"][0] for d in channel_docs) == sum(sum((r["max_slots"] or {}).values()) for r in records)
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["InstanceId", "Filter", "Channel"]] for d in channel_docs)
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert all(
            len(dims) <= 30 and all(isinstance(doc[d], str) and doc[d].strip() for d in dims) for dims in directive["Dimensions"]
        )
        assert len(directive["Metrics"]) <= 100 and doc["_aws"]["Timestamp"] == round(at.timestamp() * 1000)
        assert all(isinstance(doc[m["Name"]][0], (int, float)) for m in directive["Metrics"])


# --- paging -------------------------------------------------------------------------------------------


@SETTINGS
@given(
    st.dictionaries(
        st.from_regex(r"q[0-9]{1,3}", fullmatch=True),
        st.lists(st.from_regex(r"u[0-9]{1,3}", fullmatch=True), max_size=60, unique=True),
        min_size=1,
        max_size=250,
    ),
    st.integers(1, 100),
)
def test_any_overlap_of_queues_and_any_page_size_gives_every_agent_exactly_once(members, page):
    """However agents overlap across queues, chunks of 100 and pages: each comes back once, none missing."""
    client = FakeConnect(members, page=page)
    connect = api(client)
    filt = FilterConfig(name="q", queues=tuple(sorted(members)))
    users: list[dict] = []
    result = fetch_filter(connect, "i", list(filter_chunks(filt)), users.extend)
    stats = connect.stats
    ids = [u["User"]["Id"] for u in users]
    assert result.agents == len(ids)
    assert len(ids) == len(set(ids)) and set(ids) == {u for us in members.values() for u in us}
    assert result.short_of_total == 0
    assert all(len(r["Filters"]["Queues"]) <= 100 and r["MaxResults"] == 100 for r in client.requests)
    assert stats.calls["GetCurrentUserData"] == len(client.requests)
