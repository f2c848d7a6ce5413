"""Names for the ids GetCurrentUserData returns, from the List APIs, cached across warm invocations.

One List call per page of up to 1,000 resources, never one call per agent. A lookup that fails
(denied, throttled out, unknown) leaves the names null with a warning: the snapshot is not lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .observability import logger
from .pacing import Clock
from .pager import CallStats, ConnectApi, ExportError, describe_error
from .records import Names

# kind -> (operation, list key in the response, name key in a summary, extra request parameters)
SOURCES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "users": ("ListUsers", "UserSummaryList", "Username", {}),
    "routing_profiles": ("ListRoutingProfiles", "RoutingProfileSummaryList", "Name", {}),
    "hierarchy_groups": ("ListUserHierarchyGroups", "UserHierarchyGroupSummaryList", "Name", {}),
    # Standard queues only: Connect gives agent queues no name, and there is one per agent (50 pages
    # at 50,000 agents, at ListQueues' 2/s) for nothing.
    "queues": ("ListQueues", "QueueSummaryList", "Name", {"QueueTypes": ["STANDARD"]}),
}
# Users change often; when an unknown user id shows up, re-read users if the cache is older than this.
USER_REFRESH_SECONDS = 60.0


class LookupFailed(ExportError):
    """A List API needed to run a filter (not just to name things) failed."""


@dataclass
class _Entry:
    fetched_at: float
    names: dict[str, str | None]  # a resource without a name keeps its id


class Directory:
    """Per-instance id -> name maps with a TTL; one per process, so warm Lambdas reuse it."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}

    def routing_profile_ids(self, api: ConnectApi, instance_id: str, stats: CallStats) -> list[str]:
        """Every routing profile id, read fresh: a profile added since the last read must not hide its agents."""
        try:
            names = self._fetch(api, instance_id, "routing_profiles", stats)
        except (ClientError, BotoCoreError, ExportError) as exc:
            raise LookupFailed(f"cannot list routing profiles: {describe_error(exc)}") from None
        return sorted(names)

    def names(self, api: ConnectApi, instance_id: str, stats: CallStats, user_ids: Iterable[str] = ()) -> Names:
        """Names for one instance, from cache where fresh; failures give empty maps and a warning."""
        maps: dict[str, dict] = {}
        stale = [kind for kind in SOURCES if not self._fresh(instance_id, kind)]
        if len(stale) > 1:  # each List API has its own quota: read them side by side, not one after another
            per_kind = {kind: CallStats() for kind in stale}
            with ThreadPoolExecutor(max_workers=len(stale), thread_name_prefix="lists") as pool:
                maps.update(zip(stale, pool.map(lambda kind: self._cached(api, instance_id, kind, per_kind[kind]), stale), strict=True))
            for kind_stats in per_kind.values():
                stats.merge(kind_stats)
        for kind in SOURCES:
            if kind not in maps:
                maps[kind] = self._cached(api, instance_id, kind, stats)
        entry = self._cache.get((instance_id, "users"))
        if entry and self._clock() - entry.fetched_at > USER_REFRESH_SECONDS:
            if any(uid not in entry.names for uid in user_ids):
                maps["users"] = self._cached(api, instance_id, "users", stats, force=True)
        return Names(**maps)

    def _fresh(self, instance_id: str, kind: str) -> bool:
        entry = self._cache.get((instance_id, kind))
        return entry is not None and self._clock() - entry.fetched_at < self.ttl

    def _cached(self, api: ConnectApi, instance_id: str, kind: str, stats: CallStats, force: bool = False) -> dict:
        entry = self._cache.get((instance_id, kind))
        if entry and not force and self._clock() - entry.fetched_at < self.ttl:
            return entry.names
        try:
            return self._fetch(api, instance_id, kind, stats)
        except (ClientError, BotoCoreError, ExportError) as exc:
            operation = SOURCES[kind][0]
            logger.warning(
                f"{operation} failed; {kind} names stay null", extra={"instance_id": instance_id, "error": describe_error(exc)}
            )
            return entry.names if entry else {}

    def _fetch(self, api: ConnectApi, instance_id: str, kind: str, stats: CallStats) -> dict[str, str | None]:
        operation, list_key, name_key, params = SOURCES[kind]
        items = api.list_all(operation, list_key, stats, InstanceId=instance_id, **params)
        names = {item["Id"]: item.get(name_key) for item in items if item.get("Id")}
        self._cache[(instance_id, kind)] = _Entry(self._clock(), names)
        return names

