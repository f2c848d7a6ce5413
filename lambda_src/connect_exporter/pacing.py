"""Client-side pacing and retry backoff for Amazon Connect's per-account request quotas.

Every Connect API has a token-bucket quota per account and Region, shared by all callers and
instances (GetCurrentUserData: 2 requests/s, burst 5 by default). Pacing to that rate on the client
keeps a snapshot close to the floor `(calls - burst) / rate` instead of bouncing off 429s.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    """A token bucket that sleeps until a token is free; clock and sleep are injectable for tests.

    Thread-safe: a caller reserves its token under the lock (the bucket may go into debt) and sleeps outside
    it, so callers overlapping their requests still get tokens at the rate, in order."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._from_full = False
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Seconds until the next token is free (0 when one is free now)."""
        with self._lock:
            self._refill()
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def acquire(self) -> float:
        """Take one token, sleeping first if none is free; returns the seconds slept."""
        with self._lock:
            self._refill()
            self._from_full = self._tokens >= self.burst
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait

    def settle(self) -> None:
        """Call when the request has been answered. If its token came from a full bucket, the server's
        bucket was full too and kept discarding refill until the request reached it: count refill from
        now, not from the send, or the next calls run ahead of the server by the first call's latency."""
        with self._lock:
            if self._from_full:
                self._updated = self._clock()
                self._from_full = False

    def drain(self) -> None:
        """Empty the bucket: after a 429 someone else is spending the shared quota, so back off to the rate."""
        with self._lock:
            self._refill()
            self._tokens = min(self._tokens, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


def backoff_delay(attempt: int, base: float = 0.25, cap: float = 8.0, rng: random.Random | None = None) -> float:
    """'Full jitter' exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return (rng or random).uniform(0, min(cap, base * (2**attempt)))
