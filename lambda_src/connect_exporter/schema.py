"""The one definition of a snapshot record.

The exporter writes exactly these keys, in this order, and the CDK stack builds the Glue table's
columns from the same list, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

HIERARCHY_LEVELS = 5

CONTACT_STRUCT = (
    "struct<contact_id:string,channel:string,initiation_method:string,agent_contact_state:string,"
    "state_start_time:timestamp,connected_to_agent_time:timestamp,queue_id:string,queue_name:string>"
)
CONTACT_FIELDS: tuple[str, ...] = (
    "contact_id",
    "channel",
    "initiation_method",
    "agent_contact_state",
    "state_start_time",
    "connected_to_agent_time",
    "queue_id",
    "queue_name",
)


@dataclass(frozen=True)
class Column:
    """A record key with its Athena (Hive DDL) type and a description for the Glue catalog."""

    name: str
    type: str
    comment: str


_SLOTS = "map<string,int>"

COLUMNS: tuple[Column, ...] = (
    Column("snapshot_time", "timestamp", "Scheduled time of the snapshot (UTC)"),
    Column("user_id", "string", "Agent (user) id"),
    Column("user_arn", "string", "Agent (user) ARN"),
    Column("username", "string", "Agent login name, from ListUsers"),
    Column("routing_profile_id", "string", "Routing profile id"),
    Column("routing_profile_arn", "string", "Routing profile ARN"),
    Column("routing_profile_name", "string", "Routing profile name, from ListRoutingProfiles"),
    *(Column(f"hierarchy_level_{n}_id", "string", f"Hierarchy group id at level {n}") for n in range(1, 6)),
    *(Column(f"hierarchy_level_{n}_name", "string", f"Hierarchy group name at level {n}") for n in range(1, 6)),
    Column("status_name", "string", "Agent status name (Available, Offline, custom statuses)"),
    Column("status_arn", "string", "Agent status ARN"),
    Column("status_start_time", "timestamp", "When the agent entered the status (UTC)"),
    Column("status_duration_seconds", "double", "snapshot_time - status_start_time, in seconds"),
    Column("next_status", "string", "Status the agent goes to after the current contact"),
    Column("available_slots", _SLOTS, "Available slots by channel"),
    Column("max_slots", _SLOTS, "Maximum slots by channel (routing profile concurrency)"),
    Column("active_slots", _SLOTS, "Active slots by channel"),
    Column("contact_count", "int", "Number of contacts the agent holds"),
    Column("contacts", f"array<{CONTACT_STRUCT}>", "The agent's contacts"),
)

FIELD_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)

# Partition keys, in S3 key order (see sinks.object_key). Not record keys: Athena takes them from the path.
PARTITION_COLUMNS: tuple[Column, ...] = (
    Column("instance_id", "string", "Amazon Connect instance id"),
    Column("filter_name", "string", "Exporter filter name"),
    Column("dt", "string", "UTC date of the snapshot, yyyy-MM-dd"),
    Column("hour", "int", "UTC hour of the snapshot, 0-23 (written as two digits in the path)"),
)
PARTITION_KEYS: tuple[str, ...] = tuple(c.name for c in PARTITION_COLUMNS)

# Timestamp format of every timestamp value in a record (Java SimpleDateFormat, for the Hive SerDe).
TIMESTAMP_FORMAT_JAVA = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
