"""Pure functions that turn one `UserDataList` item into one flat record (see `schema`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_LEVELS = ("LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive")


@dataclass(frozen=True)
class Names:
    """Id -> name lookups for one instance; a missing id yields None (the record keeps the id)."""

    users: Mapping[str, str | None] = field(default_factory=dict)
    routing_profiles: Mapping[str, str | None] = field(default_factory=dict)
    hierarchy_groups: Mapping[str, str | None] = field(default_factory=dict)
    queues: Mapping[str, str | None] = field(default_factory=dict)


def iso_utc(value: dt.datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a Z, the one timestamp format of every record."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def flatten(user_data: Mapping[str, Any], snapshot_time: dt.datetime, names: Names) -> dict[str, Any]:
    """One record with every schema key present; None wherever the API gave nothing."""
    user = user_data.get("User") or {}
    profile = user_data.get("RoutingProfile") or {}
    path = user_data.get("HierarchyPath") or {}
    status = user_data.get("Status") or {}
    user_id = user.get("Id")
    profile_id = profile.get("Id")
    status_start = status.get("StatusStartTimestamp")
    contacts = [_contact(c, names) for c in user_data.get("Contacts") or []]

    record: dict[str, Any] = {
        "snapshot_time": iso_utc(snapshot_time),
        "user_id": user_id,
        "user_arn": user.get("Arn"),
        "username": names.users.get(user_id) if user_id else None,
        "routing_profile_id": profile_id,
        "routing_profile_arn": profile.get("Arn"),
        "routing_profile_name": names.routing_profiles.get(profile_id) if profile_id else None,
    }
    level_ids = [(path.get(level) or {}).get("Id") for level in _LEVELS]
    for n, group_id in enumerate(level_ids, start=1):
        record[f"hierarchy_level_{n}_id"] = group_id
    for n, group_id in enumerate(level_ids, start=1):
        record[f"hierarchy_level_{n}_name"] = names.hierarchy_groups.get(group_id) if group_id else None
    record.update(
        {
            "status_name": status.get("StatusName"),
            "status_arn": status.get("StatusArn"),
            "status_start_time": iso_utc(status_start),
            "status_duration_seconds": _seconds_between(status_start, snapshot_time),
            "next_status": user_data.get("NextStatus"),
            "available_slots": _slots(user_data.get("AvailableSlotsByChannel")),
            "max_slots": _slots(user_data.get("MaxSlotsByChannel")),
            "active_slots": _slots(user_data.get("ActiveSlotsByChannel")),
            "contact_count": len(contacts),
            "contacts": contacts,
        }
    )
    return record


def _contact(contact: Mapping[str, Any], names: Names) -> dict[str, Any]:
    queue = contact.get("Queue") or {}
    queue_id = queue.get("Id")
    return {
        "contact_id": contact.get("ContactId"),
        "channel": contact.get("Channel"),
        "initiation_method": contact.get("InitiationMethod"),
        "agent_contact_state": contact.get("AgentContactState"),
        "state_start_time": iso_utc(contact.get("StateStartTimestamp")),
        "connected_to_agent_time": iso_utc(contact.get("ConnectedToAgentTimestamp")),
        "queue_id": queue_id,
        "queue_name": names.queues.get(queue_id) if queue_id else None,
    }


def _slots(value: Mapping[str, int] | None) -> dict[str, int] | None:
    # Keep the API's channel keys as they are: a new channel must not be dropped.
    return None if value is None else {str(k): int(v) for k, v in value.items()}


def _seconds_between(start: dt.datetime | None, end: dt.datetime) -> float | None:
    if start is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    return round((end - start).total_seconds(), 3)
