"""Amazon Connect as the exporter calls it: paced, retried, bounded by the run's deadline, counted, and paged
with a guard that always ends.

Every Connect call goes through `ConnectApi.call`, so the rules that keep a run safe live in one place: the
account's quota per operation (one token bucket each), retries of throttles, 5xx and dropped connections, a
deadline that bounds the wait, the backoff *and* the call in flight (a socket read timeout does not: a server
that trickles bytes resets it), and the calls each filter and instance reports. A run, an instance and a
filter each take a `counted()` view, so no statistics object is threaded through the layers.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .config import PacingConfig
from .pacing import Clock, Sleep, TokenBucket, backoff_delay

T = TypeVar("T")

THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling", "LimitExceededException"})
# A call starts only with this much time left before the reserve: nothing starts that cannot finish.
MIN_CALL_SECONDS = 1.0
# S3 writes may use the reserve, but not its last second: that is for the EMF and the handler's answer.
WRITE_MARGIN_SECONDS = 1.0
# A List operation of more pages than this (at 1,000 items a page) is a loop, not an instance.
LIST_MAX_PAGES = 200
MAX_PARALLEL = 8
ROUND_TRIP_SECONDS = 0.2  # a generous round trip to Connect from Lambda, parsing included


class ExportError(Exception):
    """A failure the exporter itself describes in one line (no type name needed)."""


class DeadlineReached(ExportError):
    """A call, wait or write that could not finish before the Lambda deadline (less the reserve)."""


class MalformedResponse(ExportError):
    """An answer that cannot be right: a list that is null or missing, or fewer items than its own count
    promises. botocore turns a body that is not JSON into an empty result instead of an error, which would
    otherwise pass for "no agents" and be written, once and for good, as an empty minute."""


class PagingError(ExportError):
    """Paging that would never end: a NextToken handed back, or more pages than the answers make possible."""


def require(page: Any, key: str, operation: str) -> list[Any]:
    """The list `key` of an answer; a missing, null or non-list value is malformed, never "nothing"."""
    if not isinstance(page, dict) or key not in page:
        raise MalformedResponse(f"{operation} answered without {key}: a malformed or truncated response")
    value = page[key]
    if not isinstance(value, list):
        shown = "null" if value is None else type(value).__name__
        raise MalformedResponse(f"{operation} answered {key} {shown}, not a list: a malformed response")
    return value


class Deadline:
    """Time left to work, keeping `reserve` seconds to write what is done and report. Without `remaining`
    (the CLI) there is no deadline."""

    def __init__(self, remaining: Callable[[], float] | None = None, reserve: float = 0.0) -> None:
        self._remaining = remaining
        self.reserve = reserve

    def left(self) -> float | None:
        """Seconds before the reserve (None: no deadline)."""
        return None if self._remaining is None else self._remaining() - self.reserve

    def check(self, upcoming_wait: float = 0.0, what: str = "paging") -> float | None:
        """Raise unless a call can wait `upcoming_wait` and still have MIN_CALL_SECONDS; return the seconds the
        call itself may then take (None: unbounded)."""
        left = self.left()
        if left is None:
            return None
        if left - upcoming_wait < MIN_CALL_SECONDS:
            raise DeadlineReached(f"stopped {what} with {left + self.reserve:.1f} s left before the Lambda deadline")
        return left - upcoming_wait

    def write_seconds(self) -> float | None:
        """Seconds an S3 write may take: into the reserve, less WRITE_MARGIN_SECONDS (None: unbounded)."""
        return None if self._remaining is None else self._remaining() - WRITE_MARGIN_SECONDS


def bounded(fn: Callable[[], T], seconds: float | None, late: str) -> T:
    """`fn()`, given at most `seconds` (None: as long as it takes). A call still running then is left to a
    daemon thread and `DeadlineReached(late)` raised: Lambda's timeout would otherwise end the run with no
    EMF and no word of the filters not written."""
    if seconds is None:
        return fn()
    if seconds <= 0:
        raise DeadlineReached(late)
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if not box:
        raise DeadlineReached(late)
    ok, value = box[0]
    if ok:
        return value
    raise value


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


@dataclass
class _Shared:
    """What every view of one ConnectApi shares: the client, the account's buckets, the deadline."""

    client: Any
    pacing: PacingConfig
    deadline: Deadline
    clock: Clock
    sleep: Sleep
    rng: random.Random
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ConnectApi:
    """Calls Connect through one paced bucket per operation (each has its own quota), with retries, inside
    the deadline. `stats` counts the calls made through this view and every view `counted()` from it.
    Thread-safe: chunks page side by side and names are read in a second thread."""

    def __init__(
        self,
        client: Any,
        pacing: PacingConfig,
        deadline: Deadline | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._shared = _Shared(client, pacing, deadline or Deadline(), clock, sleep, rng or random.Random())
        self.stats = CallStats()
        self._counters: tuple[CallStats, ...] = (self.stats,)

    @property
    def pacing(self) -> PacingConfig:
        return self._shared.pacing

    @property
    def deadline(self) -> Deadline:
        return self._shared.deadline

    def counted(self) -> ConnectApi:
        """A view with the same client, buckets and deadline whose `stats` count only its own calls (and
        still add to this view's)."""
        return self._view(self._shared)

    def within(self, deadline: Deadline) -> ConnectApi:
        """A counted view with the same client and buckets but its own deadline (a sample's slot): samples of
        one run share the account's pace, so a sample never starts on a bucket it thinks is full."""
        return self._view(replace(self._shared, deadline=deadline))  # buckets and lock: the same objects

    def _view(self, shared: _Shared) -> ConnectApi:
        view = object.__new__(ConnectApi)
        view._shared = shared
        view.stats = CallStats()
        view._counters = (view.stats, *self._counters)
        return view

    def _count(self, operation: str = "", throttle: bool = False, server_error: bool = False) -> None:
        with self._shared.lock:
            for stats in self._counters:
                if operation:
                    stats.calls[operation] += 1
                stats.throttles += throttle
                stats.server_errors += server_error

    def bucket(self, operation: str) -> TokenBucket:
        shared = self._shared
        with shared.lock:
            if operation not in shared.buckets:
                pace = shared.pacing.pace(operation)
                # Requests in flight side by side reach Connect up to that many out of step: keep as many
                # tokens of the account's burst unspent, so that jitter never finds its bucket empty.
                in_flight = parallel_pages(shared.pacing) if operation == "GetCurrentUserData" else 1
                burst = max(1, pace.burst - (in_flight - 1))
                shared.buckets[operation] = TokenBucket(pace.requests_per_second, burst, shared.clock, shared.sleep)
            return shared.buckets[operation]

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Call `operation` (e.g. "GetCurrentUserData"), paced, retrying throttles, 5xx and dropped connections;
        the wait, each try and each backoff end before the deadline."""
        shared = self._shared
        method = getattr(shared.client, _snake(operation))
        bucket = self.bucket(operation)
        attempts = shared.pacing.max_attempts
        for attempt in range(attempts):
            shared.deadline.check(bucket.wait_time(), f"paging ({operation})")
            bucket.acquire()
            seconds = shared.deadline.check(0.0, f"paging ({operation})")
            self._count(operation)
            try:
                if seconds is None:  # no deadline (the CLI): the client's own timeouts bound the call
                    return method(**params)
                late = f"{operation} did not answer within {seconds:.1f} s: stopped before the Lambda deadline"
                return bounded(lambda: method(**params), seconds, late)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if code in THROTTLE_CODES or status == 429:
                    self._count(throttle=True)
                    bucket.drain()
                elif status >= 500:
                    self._count(server_error=True)
                else:
                    raise
                if attempt == attempts - 1:
                    raise
            except (BotoConnectionError, HTTPClientError):
                self._count(server_error=True)
                if attempt == attempts - 1:
                    raise
            finally:
                bucket.settle()
            delay = backoff_delay(attempt, rng=shared.rng)
            shared.deadline.check(delay, f"retrying {operation}")
            shared.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def list_all(self, operation: str, list_key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a List* operation, paged on NextToken at the largest page size, guarded: a token
        handed back, a page of nothing but items already sent, or more than LIST_MAX_PAGES pages stops it."""
        items: list[dict[str, Any]] = []
        ids: set[Any] = set()
        guard = PageGuard(operation)
        token = None
        while True:
            page = self.call(operation, MaxResults=1000, **params, **({"NextToken": token} if token else {}))
            batch = [item for item in require(page, list_key, operation) if isinstance(item, dict)]
            new = [item for item in batch if item.get("Id") not in ids]
            if batch and not new:
                raise PagingError(
                    f"{operation} answered page {guard.pages + 1} with only items it had already sent: paging stopped"
                )
            ids.update(item.get("Id") for item in new)
            items.extend(new)
            token = page.get("NextToken")
            if not token:
                return items
            guard.follow(token, LIST_MAX_PAGES, f"at most {LIST_MAX_PAGES * 1000} resources")


class PageGuard:
    """Ends paging that would never end. Connect hands out a new NextToken for each page: one it has already
    given (a loop), or more pages than the answers make possible, stops paging with one line."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.pages = 0
        self._tokens: set[str] = set()

    def follow(self, token: str, max_pages: int, why: str) -> None:
        """Call with each NextToken before sending it."""
        self.pages += 1
        if token in self._tokens:
            raise PagingError(
                f"{self.what} handed back a NextToken it had already given, after {self.pages} page(s): paging stopped"
            )
        if self.pages >= max_pages:
            raise PagingError(
                f"{self.what} still had a NextToken after {self.pages} pages, more than its answers make possible "
                f"({why}): paging stopped"
            )
        self._tokens.add(token)


def parallel_pages(pacing: PacingConfig) -> int:
    """Requests a filter keeps in flight: one at the default pace, more for a GetCurrentUserData quota raised
    in `pacing.operations` that outpaces one request's round trip (20/s against 30-100 ms a call needs
    several). One request in flight keeps pages, and so lines, in the API's order."""
    if pacing.operations.GetCurrentUserData is None:
        return 1
    rate = pacing.pace("GetCurrentUserData").requests_per_second
    return max(1, min(MAX_PARALLEL, int(rate * ROUND_TRIP_SECONDS)))


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
