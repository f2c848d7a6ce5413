"""The one definition of a snapshot record: each column's name, Athena type, description and where its
value comes from in a `GetCurrentUserData` item.

`records.flatten` builds every record from this list, the CDK stack builds the Glue table's columns
from it, and the README's column table is rendered from it (`make docs`): adding a column is one edit here.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Timestamp format of every timestamp value in a record (Java SimpleDateFormat, for the Hive SerDe).
TIMESTAMP_FORMAT_JAVA = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
_YEAR_10000 = 253402300800  # epoch seconds of 10000-01-01T00:00:00Z
_INT_MAX = 2**31 - 1
_LEVELS = ("LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive")


def iso_utc(value: dt.datetime | float | str | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a Z: TIMESTAMP_FORMAT_JAVA, the one timestamp format of every record.
    Takes epoch seconds as Connect sends them (the exporter's client keeps them so), a datetime, or an
    ISO-8601 string (a proxy or a newer API version may send one); anything else raises ValueError."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _parse_time(value)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if value.year < 1970:
            raise ValueError(f"timestamp before 1970: {value!r}")
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    # Milliseconds truncated, as for a datetime; the microsecond added keeps 0.123 (stored as 0.12299…) at 123.
    seconds, millis = divmod(int(float(value) * 1000 + 0.001), 1000)
    if not 0 <= seconds < _YEAR_10000:  # outside four-digit years the text is no timestamp Athena reads
        raise ValueError(f"epoch seconds out of range: {value!r}")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _parse_time(text: str) -> dt.datetime | float:
    try:
        return float(text)
    except ValueError:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # ValueError when it is not a time either


def epoch_seconds(value: dt.datetime | float | str) -> float:
    if isinstance(value, str):
        value = _parse_time(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    seconds = float(value)
    if not 0 <= seconds < _YEAR_10000:  # also NaN and infinity, which JSON cannot carry
        raise ValueError(f"epoch seconds out of range: {value!r}")
    return seconds


def _slots(value: Mapping[str, int] | None) -> dict[str, int] | None:
    # Keep the API's channel keys as they are: a new channel must not be dropped. A count that is not a whole
    # number (null, text, 1.5) raises: the map is then null and counted, never a made-up number.
    if value is None:
        return None
    slots = {}
    for channel, count in value.items():
        if type(count) is not int or not 0 <= count <= _INT_MAX:  # the Glue column is a 32-bit int
            raise TypeError(f"slot count {count!r}")
        slots[str(channel)] = count
    return slots


def _text(value: Any) -> str | None:
    """A string column's value: text or None. Anything else raises, so the field is null and counted
    instead of a JSON object where Athena expects a string."""
    if value is None or type(value) is str:
        return value
    raise TypeError(f"not text: {value!r}")


def _seconds_between(start: dt.datetime | float | None, end: dt.datetime) -> float | None:
    if start is None:
        return None
    seconds = epoch_seconds(end) - epoch_seconds(start)  # also checks `start` is a time at all
    if isinstance(start, dt.datetime):  # exact in microseconds: two float epochs can round a tie the wrong way
        seconds = (end - (start if start.tzinfo else start.replace(tzinfo=dt.UTC))).total_seconds()
    return round(seconds, 3)


class Agent:
    """One `UserDataList` item with the blocks a column reads, each `{}` when the API left it out. A block of
    the wrong kind (a list where an object belongs, a null contact) is read as absent and its name added to
    `problems`: one bad block costs its fields, not the agent."""

    def __init__(
        self,
        item: Mapping[str, Any],
        snapshot_time: dt.datetime,
        problems: list[str] | None = None,
        period_seconds: int | None = None,
    ) -> None:
        self.snapshot_time = snapshot_time
        self.period_seconds = period_seconds
        self.item = item
        self.problems = problems if problems is not None else []
        self.user = self._block(item, "User")
        self.profile = self._block(item, "RoutingProfile")
        self.status = self._block(item, "Status")
        path = self._block(item, "HierarchyPath")
        self.levels = [self._block(path, level) for level in _LEVELS]
        contacts = item.get("Contacts")
        if contacts is None:
            contacts = []
        elif type(contacts) is not list:
            self.problems.append("Contacts")
            contacts = []
        self.contacts = contacts
        if any(type(c) is not dict for c in contacts):
            self.problems.extend(f"Contacts[{i}]" for i, c in enumerate(contacts) if type(c) is not dict)
            self.contacts = [c for c in contacts if type(c) is dict]

    def _block(self, parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if type(value) is dict:
            return value
        if value is not None:
            self.problems.append(key)
        return {}


@dataclass(frozen=True)
class Column:
    """A record key with its Athena (Hive DDL) type, a description for the Glue catalog, and where its value
    comes from: `value(agent)` for a record column, `value(contact)` for a contact field, or `named`
    (id key in the same record or contact, `Names` map) for a name, filled in by `records.name`: names can
    arrive after the pages (ListUsers pages at its own quota), and a record must not wait for them."""

    name: str
    type: str
    comment: str
    value: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    named: tuple[str, str] | None = field(default=None, repr=False, compare=False)


CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("contact_id", "string", "Contact id", lambda c: _text(c.get("ContactId"))),
    Column("channel", "string", "VOICE, CHAT, TASK, EMAIL, …", lambda c: _text(c.get("Channel"))),
    Column("initiation_method", "string", "INBOUND, OUTBOUND, TRANSFER, …", lambda c: _text(c.get("InitiationMethod"))),
    Column(
        "agent_contact_state", "string", "INCOMING, CONNECTED, CONNECTED_ONHOLD, …", lambda c: _text(c.get("AgentContactState"))
    ),
    Column(
        "state_start_time",
        "timestamp",
        "When the contact entered its state (UTC)",
        lambda c: iso_utc(c.get("StateStartTimestamp")),
    ),
    Column(
        "connected_to_agent_time",
        "timestamp",
        "When the contact reached the agent (UTC)",
        lambda c: iso_utc(c.get("ConnectedToAgentTimestamp")),
    ),
    Column("queue_id", "string", "Queue id", lambda c: _text(_get(c.get("Queue"), "Id"))),
    # Connect names standard queues only: a contact in an agent's own queue keeps a null name.
    Column("queue_name", "string", "Queue name, from ListQueues (null for an agent queue)", named=("queue_id", "queues")),
)


def _get(block: Any, key: str) -> Any:
    """`block[key]` of an optional nested object; a block that is not an object raises (the field is counted)."""
    if block is None:
        return None
    if type(block) is not dict:
        raise TypeError(f"not an object: {block!r}")
    return block.get(key)


# What reading a malformed value can raise; anything else is a bug and fails loudly.
UNREADABLE = (TypeError, ValueError, KeyError, AttributeError, OverflowError, IndexError)


def read_columns(columns: tuple[Column, ...], source: Any, problems: list[str], prefix: str = "") -> dict[str, Any]:
    """Each column's value, or None where it cannot be read (its name, under `prefix`, added to `problems`):
    the careful path, taken only when the fast one raised."""
    row: dict[str, Any] = {}
    for column in columns:
        try:
            row[column.name] = column.value(source) if column.value else None
        except UNREADABLE:
            row[column.name] = None
            problems.append(prefix + column.name)
    return row


CONTACT_STRUCT = "struct<" + ",".join(f"{c.name}:{c.type}" for c in CONTACT_COLUMNS) + ">"


def _contacts(agent: Agent) -> list[dict[str, Any]]:
    try:
        return [{c.name: c.value(contact) if c.value else None for c in CONTACT_COLUMNS} for contact in agent.contacts]
    except UNREADABLE:  # one bad field costs that field of that contact
        return [
            read_columns(CONTACT_COLUMNS, contact, agent.problems, f"contacts[{i}].") for i, contact in enumerate(agent.contacts)
        ]


_SLOTS = "map<string,int>"

COLUMNS: tuple[Column, ...] = (
    Column("snapshot_time", "timestamp", "Scheduled time of the snapshot (UTC)", lambda a: iso_utc(a.snapshot_time)),
    Column(
        "period_seconds",
        "int",
        "Seconds this snapshot stands for: its sampling period (sample_seconds, or the schedule's period at a "
        "minute's sampling), what time in status weighs it by; null (the CLI, older versions): the deployed rate",
        lambda a: a.period_seconds,
    ),
    Column("user_id", "string", "Agent (user) id", lambda a: _text(a.user.get("Id"))),
    Column("user_arn", "string", "Agent (user) ARN", lambda a: _text(a.user.get("Arn"))),
    Column("username", "string", "Agent login name, from ListUsers", named=("user_id", "users")),
    Column("routing_profile_id", "string", "Routing profile id", lambda a: _text(a.profile.get("Id"))),
    Column("routing_profile_arn", "string", "Routing profile ARN", lambda a: _text(a.profile.get("Arn"))),
    Column(
        "routing_profile_name",
        "string",
        "Routing profile name, from ListRoutingProfiles",
        named=("routing_profile_id", "routing_profiles"),
    ),
    *(
        Column(
            f"hierarchy_level_{n}_id",
            "string",
            f"Hierarchy group id at level {n}",
            lambda a, i=n - 1: _text(a.levels[i].get("Id")),
        )
        for n in range(1, 6)
    ),
    *(
        Column(
            f"hierarchy_level_{n}_name",
            "string",
            f"Hierarchy group name at level {n}, from ListUserHierarchyGroups",
            named=(f"hierarchy_level_{n}_id", "hierarchy_groups"),
        )
        for n in range(1, 6)
    ),
    Column(
        "status_name",
        "string",
        "Agent status name (Available, Offline, custom statuses)",
        lambda a: _text(a.status.get("StatusName")),
    ),
    Column("status_arn", "string", "Agent status ARN", lambda a: _text(a.status.get("StatusArn"))),
    Column(
        "status_start_time",
        "timestamp",
        "When the agent entered the status (UTC)",
        lambda a: iso_utc(a.status.get("StatusStartTimestamp")),
    ),
    Column(
        "status_duration_seconds",
        "double",
        "snapshot_time - status_start_time, in seconds",
        lambda a: _seconds_between(a.status.get("StatusStartTimestamp"), a.snapshot_time),
    ),
    Column(
        "next_status", "string", "Status the agent goes to after the current contact", lambda a: _text(a.item.get("NextStatus"))
    ),
    Column("available_slots", _SLOTS, "Available slots by channel", lambda a: _slots(a.item.get("AvailableSlotsByChannel"))),
    Column(
        "max_slots",
        _SLOTS,
        "Maximum slots by channel (routing profile concurrency)",
        lambda a: _slots(a.item.get("MaxSlotsByChannel")),
    ),
    Column("active_slots", _SLOTS, "Active slots by channel", lambda a: _slots(a.item.get("ActiveSlotsByChannel"))),
    Column("contact_count", "int", "Number of contacts the agent holds", lambda a: len(a.contacts)),
    Column("contacts", f"array<{CONTACT_STRUCT}>", "The agent's contacts (fields below)", _contacts),
)

# Partition keys, in S3 key order (see sinks.object_key). Not record keys: Athena takes them from the path.
PARTITION_COLUMNS: tuple[Column, ...] = (
    Column("instance_id", "string", "Amazon Connect instance id"),
    Column("filter_name", "string", "Exporter filter name"),
    Column("dt", "string", "UTC date of the snapshot, yyyy-MM-dd"),
    Column("hour", "int", "UTC hour of the snapshot, 0-23 (written as two digits in the path)"),
)
