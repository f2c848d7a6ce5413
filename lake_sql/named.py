"""Every Athena named query the stack ships: over the snapshots (through the view), then over agent activity."""

from __future__ import annotations

from .activity import ACTIVITY_QUERIES
from .queries import SNAPSHOT_QUERIES, NamedQuery

QUERIES: tuple[NamedQuery, ...] = (*SNAPSHOT_QUERIES, *ACTIVITY_QUERIES)
