"""Pure functions that turn one `UserDataList` item into one flat record, column by column of `schema`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .schema import COLUMNS, CONTACT_COLUMNS, UNREADABLE, Agent, iso_utc, read_columns

__all__ = ["Names", "flatten", "iso_utc", "name"]


@dataclass(frozen=True)
class Names:
    """Id -> name lookups for one instance; a missing id yields None (the record keeps the id)."""

    users: Mapping[str, str | None] = field(default_factory=dict)
    routing_profiles: Mapping[str, str | None] = field(default_factory=dict)
    hierarchy_groups: Mapping[str, str | None] = field(default_factory=dict)
    queues: Mapping[str, str | None] = field(default_factory=dict)


NO_NAMES = Names()
_NAMED = tuple((c.name, *c.named) for c in COLUMNS if c.named)
_CONTACT_NAMED = tuple((c.name, *c.named) for c in CONTACT_COLUMNS if c.named)


def flatten(
    user_data: Mapping[str, Any],
    snapshot_time: dt.datetime,
    names: Names = NO_NAMES,
    problems: list[str] | None = None,
    period_seconds: int | None = None,
) -> dict[str, Any]:
    """One record with every schema key present, in schema order; None wherever the API gave nothing. A value
    that cannot be read (a null slot count, a contact that is not an object, a timestamp that is not one) is
    None too, and its field's name is added to `problems`: one bad field costs that field, not the agent.
    `period_seconds` is the time the snapshot stands for (None: unknown, off schedule)."""
    agent = Agent(user_data, snapshot_time, problems, period_seconds)
    try:
        record = {column.name: column.value(agent) if column.value else None for column in COLUMNS}
    except UNREADABLE:  # the careful path, column by column, only for the agent that needs it
        record = read_columns(COLUMNS, agent, agent.problems)
    return record if names is NO_NAMES else name(record, names)  # name columns start as None


def name(record: dict[str, Any], names: Names) -> dict[str, Any]:
    """Fill (or refill) a record's name columns from its own ids: a record flattened before its instance's
    names arrived is completed here, at a few dictionary reads instead of a second flatten."""
    for key, id_key, kind in _NAMED:
        record[key] = _lookup(getattr(names, kind), record[id_key])
    if _CONTACT_NAMED:
        for contact in record["contacts"]:
            for key, id_key, kind in _CONTACT_NAMED:
                contact[key] = _lookup(getattr(names, kind), contact[id_key])
    return record


def _lookup(names: Mapping[str, str | None], resource_id: str | None) -> str | None:
    return names.get(resource_id) if resource_id else None
