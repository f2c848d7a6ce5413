"""Names for the ids GetCurrentUserData returns, from the List APIs, cached across warm invocations.

One List call per page of up to 1,000 resources, never one call per agent. A lookup that fails
(denied, throttled out, unknown, a page loop, the deadline) leaves the names null with a warning and is
counted (`NameLookupsFailed`): the snapshot is not lost, and never waits on it past the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .connect import ConnectApi, ExportError, MalformedResponse, describe_error
from .observability import logger
from .pacing import Clock
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
# A lookup that failed is tried again after this long, not on every page: a denied or looping List API must not
# spend the account's shared List quota once per page and filter.
FAILED_RETRY_SECONDS = 60.0


class LookupFailed(ExportError):
    """A List API needed to run a filter (not just to name things) failed."""


@dataclass
class _Entry:
    fetched_at: float
    names: dict[str, str | None]  # a resource without a name keeps its id
    failed: bool = False  # the last read failed: `names` are the last good ones (or none), kept FAILED_RETRY_SECONDS


class Directory:
    """Per-instance id -> name maps with a TTL; one per process, so warm Lambdas reuse it."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], _Entry] = {}

    def routing_profile_ids(self, api: ConnectApi, instance_id: str) -> list[str]:
        """Every routing profile id, read fresh: a profile added since the last read must not hide its agents.
        Every instance has at least one (Basic Routing Profile): none is a malformed answer, not "no agents"."""
        try:
            names = self._fetch(api, instance_id, "routing_profiles")
            if not names:
                raise MalformedResponse("ListRoutingProfiles answered no routing profiles; every instance has at least one")
        except (ClientError, BotoCoreError, ExportError) as exc:
            raise LookupFailed(f"cannot list routing profiles: {describe_error(exc)}") from None
        return sorted(names)

    def names(self, api: ConnectApi, instance_id: str, user_ids: Iterable[str] = (), failed: set[str] | None = None) -> Names:
        """Names for one instance, from cache where fresh; a failed lookup gives an empty map (or the last one
        read), a warning, and its operation in `failed`."""
        failed = set() if failed is None else failed
        maps: dict[str, dict] = {}
        stale = [kind for kind in SOURCES if not self._fresh(instance_id, kind)]
        if len(stale) > 1:  # each List API has its own quota: read them side by side, not one after another
            with ThreadPoolExecutor(max_workers=len(stale), thread_name_prefix="lists") as pool:
                maps.update(zip(stale, pool.map(lambda kind: self._cached(api, instance_id, kind, failed), stale), strict=True))
        for kind in SOURCES:
            if kind not in maps:
                maps[kind] = self._cached(api, instance_id, kind, failed)
        entry = self._cache.get((instance_id, "users"))
        if entry and self._clock() - entry.fetched_at > USER_REFRESH_SECONDS and any(uid not in entry.names for uid in user_ids):
            maps["users"] = self._cached(api, instance_id, "users", failed, force=True)
        return Names(**maps)

    def _fresh(self, instance_id: str, kind: str) -> bool:
        entry = self._cache.get((instance_id, kind))
        return entry is not None and self._clock() - entry.fetched_at < (FAILED_RETRY_SECONDS if entry.failed else self.ttl)

    def _cached(self, api: ConnectApi, instance_id: str, kind: str, failed: set[str], force: bool = False) -> dict:
        entry = self._cache.get((instance_id, kind))
        # Fresh entries answer; a forced re-read (unknown users) waits for a failed one's retry time.
        if entry and self._fresh(instance_id, kind) and (entry.failed or not force):
            return entry.names
        try:
            return self._fetch(api, instance_id, kind)
        except (ClientError, BotoCoreError, ExportError) as exc:
            operation = SOURCES[kind][0]
            failed.add(operation)
            logger.warning(
                f"{operation} failed; {kind} names stay null", extra={"instance_id": instance_id, "error": describe_error(exc)}
            )
            names = entry.names if entry else {}
            self._cache[(instance_id, kind)] = _Entry(self._clock(), names, failed=True)
            return names

    def _fetch(self, api: ConnectApi, instance_id: str, kind: str) -> dict[str, str | None]:
        operation, list_key, name_key, params = SOURCES[kind]
        items = api.list_all(operation, list_key, InstanceId=instance_id, **params)
        names = {item["Id"]: _text(item.get(name_key)) for item in items if isinstance(item.get("Id"), str)}
        self._cache[(instance_id, kind)] = _Entry(self._clock(), names)
        return names


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None  # a name that is not text is no name


@dataclass
class NamesAhead:
    """One instance's names, read in a second thread from its first page on: the List APIs have quotas
    of their own, so the lookups overlap paging instead of following it. Not started for an instance
    that never answers (unknown, denied), which would only add failing calls and warnings. `failed` holds
    the List operations that failed during this run."""

    pool: ThreadPoolExecutor
    directory: Directory
    api: ConnectApi
    instance_id: str
    failed: set[str] = field(default_factory=set)
    _future: Future | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self._lock:  # pages of several chunks may arrive at once
            if self._future is None:
                self._future = self.pool.submit(self.names)

    def names(self, user_ids: Iterable[str] = ()) -> Names:
        return self.directory.names(self.api, self.instance_id, user_ids, self.failed)

    def ready(self) -> bool:
        return self._future is not None and self._future.done()

    def wait(self) -> None:
        if self._future is not None:
            self._future.result()
