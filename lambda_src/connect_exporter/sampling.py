"""Samples within one run: `sample_seconds` apart on the wall clock, each a complete snapshot of its own.

Connect's real-time reports refresh every 15 s; a once-a-minute snapshot leaves an alarm up to a minute behind
before the run even starts. So one invocation a minute may take 2, 3, 4 or 6 samples, at the scheduled minute
and every `sample_seconds` after it. Each sample is a whole snapshot (every instance and filter, its own
write-once objects, keys and `snapshot_time`, its own EMF), with the rules of a run applied to it alone:

- **slot**: a sample owns `[time, time + sample_seconds)`; it stops paging at the slot's end, so its data is
  never read later than the next sample's label (and the Lambda deadline, less the reserve, still comes first);
- **late**: a sample whose slot has passed before it could start (a late invocation, a slow sample before it)
  is skipped and counted in `LateRunsSkipped`, never taken late under an old label;
- **write-once**: the key holds the sample's second, so a retried run adds only what is missing.

Samples share the run's Connect buckets, so their calls together keep to the account's quota.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .config import ExporterConfig
from .connect import MIN_CALL_SECONDS, ConnectApi, Deadline
from .directory import Directory
from .metrics import HIGH_RESOLUTION, STANDARD_RESOLUTION, late_run_document, refused_run_document
from .observability import emit_emf, logger
from .sinks import Sink
from .snapshot import SnapshotReport, Span, no_span, run_snapshot

Wall = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


@dataclass(frozen=True)
class Slot:
    """One sample's time, the end of its slot (None: a run of one sample, bounded by the Lambda alone) and the
    seconds it stands for (its records' `period_seconds`: what time in status weighs it by)."""

    at: dt.datetime
    end: dt.datetime | None
    seconds: int


def slots(at: dt.datetime, period_seconds: float, sample_seconds: int) -> list[Slot]:
    """The samples of a run scheduled at `at`: one when `sample_seconds` is a minute (whatever the schedule's
    period) or not below the period, else `period / sample_seconds` of them, evenly spaced from `at`, the last
    slot ending where the next run begins."""
    if sample_seconds >= min(60, period_seconds):
        return [Slot(at, None, round(period_seconds))]
    step = dt.timedelta(seconds=sample_seconds)
    return [Slot(at + k * step, at + (k + 1) * step, sample_seconds) for k in range(int(period_seconds // sample_seconds))]


def slot_resolution(sample_seconds: int) -> int:
    """EMF StorageResolution of the slot metrics: high (1 s) below a minute, where alarms evaluate 10-30 s periods."""
    return HIGH_RESOLUTION if sample_seconds < 60 else STANDARD_RESOLUTION


def slot_deadline(slot: Slot, lambda_remaining: Callable[[], float] | None, reserve: float, wall: Wall) -> Deadline:
    """Paging stops at the slot's end or at the Lambda's deadline less `reserve`, whichever is first; the write
    that follows may use the reserve (so it may end just after the slot)."""
    if slot.end is None:
        return Deadline(lambda_remaining, reserve)
    end = slot.end

    def remaining() -> float:
        to_slot_end = (end - wall()).total_seconds() + reserve
        return to_slot_end if lambda_remaining is None else min(lambda_remaining(), to_slot_end)

    return Deadline(remaining, reserve)


@dataclass
class SampleResult:
    """One sample: its report, or why it was not taken."""

    slot: Slot
    report: SnapshotReport | None = None
    skipped: str | None = None  # "late": its slot passed before it could start; "deadline": no time left


def run_samples(
    config: ExporterConfig,
    planned: list[Slot],
    api: ConnectApi,
    directory: Directory,
    sink: Sink,
    *,
    sample_seconds: int,
    lambda_remaining: Callable[[], float] | None = None,
    reserve: float = 0.0,
    wall: Wall | None = None,
    sleep: Callable[[float], None] | None = None,
    emit: Callable[[Iterable[dict[str, Any]]], int] = emit_emf,
    span: Span = no_span,
    clock: Callable[[], float] = time.monotonic,
) -> list[SampleResult]:
    """Take each planned sample at its time (waiting for it), skipping the ones that can no longer be taken.
    Never raises for a filter's failure: each sample's report lists its own. `wall` and `sleep` default to the
    real clock (looked up at the call, so a test's world can stand in for it)."""
    wall, sleep = wall or _utc_now, sleep or _sleep
    results = []
    resolution = slot_resolution(sample_seconds)
    for slot in planned:
        now = wall()
        if slot.end is not None and now >= slot.end:
            results.append(_skip(config, slot, "late", emit, f"its slot ended at {slot.end:%H:%M:%S}Z"))
            continue
        # A run of one sample starts at once, as it always has; a sampling run waits for each sample's time.
        wait = max(0.0, (slot.at - now).total_seconds()) if slot.end is not None else 0.0
        if wait and lambda_remaining is not None and lambda_remaining() - reserve - wait < MIN_CALL_SECONDS:
            # Waiting would outlive the function: refused, and every filter counted failed (validate and synth
            # keep the last slot inside the timeout, so this is a deployment at odds with its config).
            results.append(_skip(config, slot, "deadline", emit, "the Lambda deadline comes before its time"))
            continue
        if wait:
            sleep(wait)
        deadline = slot_deadline(slot, lambda_remaining, reserve, wall)
        report = run_snapshot(
            config,
            slot.at,
            api.within(deadline),
            directory,
            sink,
            emit=emit,
            span=span,
            clock=clock,
            slot_resolution=resolution,
            period_seconds=slot.seconds,
        )
        results.append(SampleResult(slot, report))
    return results


def _skip(
    config: ExporterConfig, slot: Slot, why: str, emit: Callable[[Iterable[dict[str, Any]]], int], reason: str
) -> SampleResult:
    """A sample not taken, timestamped with its time: late, a warning and `LateRunsSkipped` per instance (as a
    late run); out of time, an error line and every filter counted in `FailedFilters` (as a refused run)."""
    extra = {"snapshot_time": slot.at.isoformat(), "skipped": why, "reason": reason}
    namespace = config.metrics.namespace
    if why == "late":
        logger.warning("sample skipped", extra=extra)
        emit(late_run_document(namespace, slot.at, i.instance_id) for i in config.instances)
    else:
        logger.error("sample refused", extra=extra)
        emit(refused_run_document(namespace, slot.at, i.instance_id, len(i.filters)) for i in config.instances)
    return SampleResult(slot, skipped=why)
