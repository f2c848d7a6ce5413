"""Paced, retried calls to Amazon Connect, and paging of one filter's GetCurrentUserData.

botocore has no paginator for GetCurrentUserData, and its filters take at most 100 queues,
routing profiles or agents (one hierarchy group) per call: a filter is split into chunks, each
chunk paged on NextToken, and agents de-duplicated by user id across chunks and pages.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .config import ALL_AGENTS, FILTER_KINDS, FilterConfig, PacingConfig
from .pacing import Clock, Sleep, TokenBucket, backoff_delay

THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling", "LimitExceededException"})
PAGE_SIZE = 100


class ExportError(Exception):
    """A failure the exporter itself describes in one line (no type name needed)."""


class DeadlineReached(ExportError):
    """Raised before a call that could not finish before the Lambda deadline."""


class MalformedResponse(ExportError):
    """A 200 answer without the list it must carry. botocore turns a body that is not JSON into an empty
    result instead of an error, which would otherwise pass for "no agents"."""


def require(page: dict[str, Any], key: str, operation: str) -> list[dict[str, Any]]:
    if key not in page:
        raise MalformedResponse(f"{operation} answered without {key}: a malformed or truncated response")
    return page[key] or []


class Deadline:
    """Time left to work, keeping `reserve` seconds to write what is done and report."""

    def __init__(self, remaining: Callable[[], float] | None = None, reserve: float = 0.0) -> None:
        self._remaining = remaining
        self.reserve = reserve

    def check(self, upcoming_wait: float = 0.0) -> None:
        if self._remaining is None:
            return
        left = self._remaining()
        if left - upcoming_wait < self.reserve:
            raise DeadlineReached(f"stopped paging with {left:.1f} s left before the Lambda deadline")


@dataclass
class CallStats:
    """What calls cost: counts by operation, throttles and server errors retried."""

    calls: Counter[str] = field(default_factory=Counter)
    throttles: int = 0
    server_errors: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def merge(self, other: CallStats) -> None:
        self.calls.update(other.calls)
        self.throttles += other.throttles
        self.server_errors += other.server_errors


class ConnectApi:
    """Calls Connect through one paced bucket per operation (each has its own quota), with retries.
    Safe to share between two threads that call different operations (a bucket is not locked)."""

    def __init__(
        self,
        client: Any,
        pacing: PacingConfig,
        deadline: Deadline | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.pacing = pacing
        self.deadline = deadline or Deadline()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, operation: str) -> TokenBucket:
        with self._lock:  # name lookups call from a second thread
            if operation not in self._buckets:
                pace = self.pacing.pace(operation)
                self._buckets[operation] = TokenBucket(pace.requests_per_second, pace.burst, self._clock, self._sleep)
            return self._buckets[operation]

    def call(self, operation: str, stats: CallStats, **params: Any) -> dict[str, Any]:
        """Call `operation` (e.g. "GetCurrentUserData"), paced, retrying throttles, 5xx and dropped connections."""
        method = getattr(self.client, _snake(operation))
        bucket = self.bucket(operation)
        attempts = self.pacing.max_attempts
        for attempt in range(attempts):
            self.deadline.check(bucket.wait_time())
            bucket.acquire()
            stats.calls[operation] += 1
            try:
                return method(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in THROTTLE_CODES or status == 429:
                    stats.throttles += 1
                    bucket.drain()
                elif status >= 500:
                    stats.server_errors += 1
                else:
                    raise
                if attempt == attempts - 1:
                    raise
            except (BotoConnectionError, HTTPClientError):
                stats.server_errors += 1
                if attempt == attempts - 1:
                    raise
            finally:
                bucket.settle()
            delay = backoff_delay(attempt, rng=self._rng)
            self.deadline.check(delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_all(self, operation: str, list_key: str, stats: CallStats, **params: Any) -> list[dict[str, Any]]:
        """Every item of a List* operation, paged on NextToken at the largest page size."""
        items: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.call(operation, stats, MaxResults=1000, **params, **({"NextToken": token} if token else {}))
            items.extend(require(page, list_key, operation))
            token = page.get("NextToken")
            if not token:
                return items


@dataclass
class FilterResult:
    """What paging one filter found, beyond the agents handed on page by page."""

    agents: int  # unique by user id
    # Sum over chunks of ApproximateTotalCount minus the unique agents received (agents who logged out
    # between pages, or a count the API over-estimated): visible, not silently lost.
    short_of_total: int


Agents = list[dict[str, Any]]


def filter_chunks(filt: FilterConfig, routing_profile_ids: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """The API `Filters` of each call a filter needs. An all-agents filter goes by routing profile:
    every agent has exactly one, so each comes back once."""
    if filt.kind == ALL_AGENTS:
        key, size, values = "RoutingProfiles", 100, tuple(routing_profile_ids)
    else:
        key, _, size = FILTER_KINDS[filt.kind]
        values = filt.values
    for start in range(0, len(values), size):
        chunk: dict[str, Any] = {key: list(values[start : start + size])}
        if filt.contact_states:
            chunk["ContactFilter"] = {"ContactStates": list(filt.contact_states)}
        yield chunk



def fetch_filter(
    api: ConnectApi,
    instance_id: str,
    chunks: Sequence[dict[str, Any]],
    stats: CallStats,
    on_agents: Callable[[Agents], None],
    on_page: Callable[[], None] = lambda: None,
) -> FilterResult:
    """Page every chunk and hand each page's agents not seen before to `on_agents` as the page arrives:
    only their ids are kept, so memory does not grow with the filter. Calls are counted into `stats`;
    `on_page` runs after each page received (the instance answers: worth reading its names)."""
    seen: set[str] = set()
    short = 0
    for chunk in chunks:
        approximate, received = _page_chunk(api, instance_id, chunk, stats, seen, on_agents, on_page)
        short += max(0, approximate - received)
    return FilterResult(len(seen), short)


def _page_chunk(
    api: ConnectApi,
    instance_id: str,
    chunk: dict[str, Any],
    stats: CallStats,
    seen: set[str],
    on_agents: Callable[[Agents], None],
    on_page: Callable[[], None],
) -> tuple[int, int]:
    token: str | None = None
    restarted = False
    seen_in_chunk: set[str] = set()
    approximate = 0
    while True:
        params: dict[str, Any] = {"InstanceId": instance_id, "Filters": chunk, "MaxResults": PAGE_SIZE}
        if token:
            params["NextToken"] = token
        try:
            page = api.call("GetCurrentUserData", stats, **params)
        except ClientError as exc:
            # An expired or invalid NextToken costs this chunk a restart, not the snapshot.
            if token and not restarted and _is_bad_token(exc):
                restarted, token = True, None
                continue
            raise
        items = require(page, "UserDataList", "GetCurrentUserData")
        on_page()
        approximate = max(approximate, int(page.get("ApproximateTotalCount") or 0))
        new = []
        for item in items:
            user_id = (item.get("User") or {}).get("Id")
            if not user_id:
                continue
            seen_in_chunk.add(user_id)
            if user_id not in seen:
                seen.add(user_id)
                new.append(item)
        if new:
            on_agents(new)
        token = page.get("NextToken")
        if not token:
            return approximate, len(seen_in_chunk)


def _is_bad_token(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in {"InvalidParameterException", "InvalidRequestException"} and (
        "token" in str(error.get("Message", "")).lower()
    )


def describe_error(exc: BaseException) -> str:
    """One line for any failure: the API's error code and message, or the exception's type and text."""
    if isinstance(exc, ExportError):
        return str(exc)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "")
        text = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip().rstrip(":")
        return f"{operation} {text}".strip()
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")
