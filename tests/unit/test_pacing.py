"""Token-bucket pacing and backoff, with a fake clock: no real sleeping."""

from __future__ import annotations

import random

import pytest

from connect_exporter.pacing import TokenBucket, backoff_delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_burst_is_free_then_calls_are_spaced_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.slept == [] and clock.now == 0  # the burst costs no waiting
    for _ in range(20):
        bucket.acquire()
    assert len(clock.slept) == 20 and all(s == pytest.approx(0.5) for s in clock.slept)
    # 25 calls at 2/s with a burst of 5 take the API floor: (25 - 5) / 2 seconds.
    assert clock.now == pytest.approx(10.0)


def test_idle_time_refills_up_to_the_burst_only():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    clock.now += 100  # a long pause refills 5 tokens, not 200
    for _ in range(6):
        bucket.acquire()
    assert clock.slept == [pytest.approx(0.5)]


def test_a_call_from_a_full_bucket_starts_the_refill_when_it_is_answered():
    # The server's bucket is full too and stays capped until the request reaches it: counting refill
    # from the send would put every later call ahead of the server by the first call's latency.
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=5, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.now += 0.1  # the first call's round trip (connection set-up included)
    bucket.settle()
    for _ in range(5):
        bucket.acquire()
        bucket.settle()
    assert clock.slept == [pytest.approx(0.5)] and clock.now == pytest.approx(0.6)


def test_drain_after_a_throttle_waits_a_full_interval():
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=5, clock=clock, sleep=clock.sleep)
    bucket.drain()
    assert bucket.wait_time() == pytest.approx(0.25)
    bucket.acquire()
    assert clock.slept == [pytest.approx(0.25)]


def test_bucket_rejects_impossible_settings():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=5)


def test_backoff_is_full_jitter_capped():
    rng = random.Random(1)
    delays = [backoff_delay(attempt, base=0.25, cap=8.0, rng=rng) for attempt in range(12) for _ in range(50)]
    assert all(0 <= d <= 8.0 for d in delays)
    assert max(backoff_delay(0, rng=rng) for _ in range(200)) <= 0.25
    assert max(delays) > 4.0  # later attempts really do wait longer
