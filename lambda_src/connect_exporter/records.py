"""Pure functions that turn one `UserDataList` item into one flat record, column by column of `schema`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .schema import COLUMNS, Agent, iso_utc

__all__ = ["Names", "flatten", "iso_utc"]


@dataclass(frozen=True)
class Names:
    """Id -> name lookups for one instance; a missing id yields None (the record keeps the id)."""

    users: Mapping[str, str | None] = field(default_factory=dict)
    routing_profiles: Mapping[str, str | None] = field(default_factory=dict)
    hierarchy_groups: Mapping[str, str | None] = field(default_factory=dict)
    queues: Mapping[str, str | None] = field(default_factory=dict)


def flatten(user_data: Mapping[str, Any], snapshot_time: dt.datetime, names: Names) -> dict[str, Any]:
    """One record with every schema key present, in schema order; None wherever the API gave nothing."""
    agent = Agent(user_data, snapshot_time, names)
    return {column.name: column.value(agent) for column in COLUMNS}  # type: ignore[misc]
