"""Paced, retried calls to Amazon Connect, and paging of one filter's GetCurrentUserData.

botocore has no paginator for GetCurrentUserData, and its filters take at most 100 queues,
routing profiles or agents (one hierarchy group) per call: a filter is split into chunks, each
chunk paged on NextToken, and agents de-duplicated by user id across chunks and pages.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .config import ALL_AGENTS, FILTER_KINDS, FilterConfig, PacingConfig
from .pacing import Clock, Sleep, TokenBucket, backoff_delay

MAX_PARALLEL = 8
ROUND_TRIP_SECONDS = 0.2  # a generous round trip to Connect from Lambda, parsing included

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
                # Requests in flight side by side reach Connect up to that many out of step: keep as many
                # tokens of the account's burst unspent, so that jitter never finds its bucket empty.
                in_flight = parallel_pages(self.pacing) if operation == "GetCurrentUserData" else 1
                burst = max(1, pace.burst - (in_flight - 1))
                self._buckets[operation] = TokenBucket(pace.requests_per_second, burst, self._clock, self._sleep)
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


def filter_chunks(filt: FilterConfig, routing_profile_ids: Sequence[str] = (), parallel: int = 1) -> Iterator[dict[str, Any]]:
    """The API `Filters` of each call a filter needs. An all-agents filter goes by routing profile:
    every agent has exactly one, so each comes back once. With `parallel` > 1, routing profiles are split
    into at least that many chunks (their agents are disjoint: no page is read twice) to page side by side."""
    if filt.kind == ALL_AGENTS:
        key, size, values = "RoutingProfiles", 100, tuple(routing_profile_ids)
    else:
        key, _, size = FILTER_KINDS[filt.kind]
        values = filt.values
    if key == "RoutingProfiles" and parallel > 1:
        size = min(size, max(1, -(-len(values) // parallel)))
    for start in range(0, len(values), size):
        chunk: dict[str, Any] = {key: list(values[start : start + size])}
        if filt.contact_states:
            chunk["ContactFilter"] = {"ContactStates": list(filt.contact_states)}
        yield chunk



def parallel_pages(pacing: PacingConfig) -> int:
    """Requests a filter keeps in flight: one at the default pace, more for a GetCurrentUserData quota raised
    in `pacing.operations` that outpaces one request's round trip (20/s against 30-100 ms a call needs
    several). One request in flight keeps pages, and so lines, in the API's order."""
    raised = pacing.operations.get("GetCurrentUserData")
    if raised is None:
        return 1
    return max(1, min(MAX_PARALLEL, int(raised.requests_per_second * ROUND_TRIP_SECONDS)))


def fetch_filter(
    api: ConnectApi,
    instance_id: str,
    chunks: Sequence[dict[str, Any]],
    stats: CallStats,
    on_agents: Callable[[Agents], None],
    on_page: Callable[[int, int], None] = lambda received, total: None,
    workers: int = 1,
) -> FilterResult:
    """Page every chunk and hand each page's agents not seen before to `on_agents` as the page arrives:
    only their ids are kept, so memory does not grow with the filter. With `workers` > 1, chunks are paged
    side by side (pages of one chunk follow its NextToken, so they cannot), still at the bucket's pace;
    `on_agents` is called by one thread at a time. Calls are counted into `stats`; `on_page(agents received,
    ApproximateTotalCount of the chunks answered)` runs after each page (the instance answers: worth reading
    its names; a terminal shows progress). The first failure stops the rest."""
    seen: set[str] = set()
    totals: dict[int, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def take(index: int, items: Agents, approximate: int) -> None:
        with lock:
            new = [item for item in items if item["User"]["Id"] not in seen]  # `_page_chunk` kept only items with an id
            seen.update(item["User"]["Id"] for item in new)
            totals[index] = approximate
            if new:
                on_agents(new)
            on_page(len(seen), sum(totals.values()))

    def page(index: int, chunk: dict[str, Any]) -> int:
        chunk_stats = CallStats()
        try:
            approximate, received = _page_chunk(api, instance_id, chunk, chunk_stats, lambda items, n: take(index, items, n), stop)
            return max(0, approximate - received)
        except BaseException:
            stop.set()
            raise
        finally:
            with lock:
                stats.merge(chunk_stats)

    if workers <= 1 or len(chunks) <= 1:
        short = sum(page(index, chunk) for index, chunk in enumerate(chunks))
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(chunks)), thread_name_prefix="pages") as pool:
            short = sum(future.result() for future in [pool.submit(page, index, chunk) for index, chunk in enumerate(chunks)])
    return FilterResult(len(seen), short)


def _page_chunk(
    api: ConnectApi,
    instance_id: str,
    chunk: dict[str, Any],
    stats: CallStats,
    take: Callable[[Agents, int], None],
    stop: threading.Event,
) -> tuple[int, int]:
    token: str | None = None
    restarted = False
    seen_in_chunk: set[str] = set()
    approximate = 0
    while not stop.is_set():
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
        items = [item for item in require(page, "UserDataList", "GetCurrentUserData") if (item.get("User") or {}).get("Id")]
        approximate = max(approximate, int(page.get("ApproximateTotalCount") or 0))
        seen_in_chunk.update(item["User"]["Id"] for item in items)
        take(items, approximate)
        token = page.get("NextToken")
        if not token:
            break
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
