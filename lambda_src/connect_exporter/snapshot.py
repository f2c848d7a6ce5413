"""One snapshot: every configured instance and filter, fetched, flattened, written, measured.

Each filter is written as soon as it is complete, so a later failure (another filter's API error,
the Lambda deadline) never costs data already fetched; failures are collected and reported at the end.
"""

from __future__ import annotations

import datetime as dt
import marshal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .config import ALL_AGENTS, ExporterConfig, FilterConfig, InstanceConfig
from .directory import Directory
from .metrics import (
    FilterHealth,
    FilterSummary,
    InstanceHealth,
    Summarizer,
    agent_documents,
    filter_documents,
    instance_document,
)
from .observability import emit_emf, logger
from .pager import CallStats, ConnectApi, describe_error, fetch_filter, filter_chunks, parallel_pages
from .records import flatten, name
from .sinks import AlreadyWritten, GzipLines, Sink, object_key


@dataclass
class FilterOutcome:
    instance_id: str
    filter_name: str
    records: int = 0
    uri: str | None = None
    error: str | None = None
    summary: FilterSummary | None = None
    stats: CallStats = field(default_factory=CallStats)
    bytes_written: int = 0
    short_of_total: int = 0
    already_written: bool = False  # an earlier run wrote this minute; it stands, this run's data is dropped
    seconds: float = 0.0
    agent_documents: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SnapshotReport:
    snapshot_time: dt.datetime
    outcomes: list[FilterOutcome] = field(default_factory=list)
    api_stats: CallStats = field(default_factory=CallStats)
    duration_seconds: float = 0.0
    emf_documents: int = 0
    emf_bytes: int = 0

    @property
    def failures(self) -> list[FilterOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def written(self) -> list[FilterOutcome]:
        return [o for o in self.outcomes if o.ok and not o.already_written]

    @property
    def already_written(self) -> list[FilterOutcome]:
        return [o for o in self.outcomes if o.already_written]


Progress = Callable[[str, str, int, int], None]
# A span around each filter (name, annotations): the handler's X-Ray subsegment; nothing elsewhere.
Span = Callable[[str, Mapping[str, str]], AbstractContextManager[Any]]


def no_span(name: str, annotations: Mapping[str, str]) -> AbstractContextManager[Any]:
    return nullcontext()


class SnapshotFailed(Exception):
    """Raised after every good filter is written, naming the filters that were not."""

    def __init__(self, report: SnapshotReport) -> None:
        self.report = report
        lines = [f"instance {o.instance_id} filter {o.filter_name}: {o.error}" for o in report.failures]
        super().__init__(f"{len(lines)} filter(s) failed: " + "; ".join(lines))


def snapshot_time(value: str | dt.datetime | None = None) -> dt.datetime:
    """The snapshot time in UTC: an ISO-8601 string or datetime as given, or now truncated to the minute."""
    if value is None:
        return dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    if isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def run_snapshot(
    config: ExporterConfig,
    at: dt.datetime,
    api: ConnectApi,
    directory: Directory,
    sink: Sink,
    emit: Callable[[Iterable[dict[str, Any]]], int] = emit_emf,
    clock: Callable[[], float] = time.monotonic,
    progress: Progress | None = None,
    span: Span = no_span,
) -> SnapshotReport:
    """Export one snapshot; never raises for a filter's failure (see `SnapshotReport.failures`).
    `progress(instance_id, filter_name, agents, approximate_total)` hears of each page (a terminal's bar)."""
    started = clock()
    run = _Run(config, at, api, directory, sink, emit, SnapshotReport(snapshot_time=at), clock, progress, span)
    for instance in config.instances:
        instance_started = clock()
        lookups = CallStats()
        outcomes = _export_instance(run, instance, lookups)
        run.report.outcomes.extend(outcomes)
        calls = CallStats()
        for stats in (lookups, *(o.stats for o in outcomes)):
            calls.merge(stats)
        run.report.api_stats.merge(calls)
        health = InstanceHealth(
            failed_filters=sum(not o.ok for o in outcomes),
            api_calls=calls.total_calls,
            throttles=calls.throttles,
            duration_seconds=clock() - instance_started,
            already_written_filters=sum(o.already_written for o in outcomes),
        )
        run.send([instance_document(config.metrics.namespace, at, instance.instance_id, health)])
    run.report.duration_seconds = clock() - started
    return run.report


@dataclass(frozen=True)
class _Run:
    """What every filter of one snapshot shares."""

    config: ExporterConfig
    at: dt.datetime
    api: ConnectApi
    directory: Directory
    sink: Sink
    emit: Callable[[Iterable[dict[str, Any]]], int]
    report: SnapshotReport
    clock: Callable[[], float] = time.monotonic
    progress: Progress | None = None
    span: Span = no_span

    def send(self, documents: list[dict]) -> None:
        self.report.emf_bytes += self.emit(documents)
        self.report.emf_documents += len(documents)


class _NamesAhead:
    """One instance's names, read in a second thread from its first page on: the List APIs have quotas
    of their own, so the lookups overlap paging instead of following it. Not started for an instance
    that never answers (unknown, denied), which would only add failing calls and warnings."""

    def __init__(self, pool: ThreadPoolExecutor, run: _Run, instance_id: str, lookups: CallStats) -> None:
        self._pool, self._run, self._instance_id, self._lookups = pool, run, instance_id, lookups
        self._future: Future | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:  # pages of several chunks may arrive at once
            if self._future is None:
                self._future = self._pool.submit(self._run.directory.names, self._run.api, self._instance_id, self._lookups)

    def ready(self) -> bool:
        return self._future is not None and self._future.done()

    def wait(self) -> None:
        if self._future is not None:
            self._future.result()


class _Waiting:
    """Records flattened before the instance's names arrived, spooled in marshal batches (memory up to a few
    MB, then /tmp) until `records.name` completes them: holding them costs no memory that grows with agents,
    and the work left for after the names is a few dictionary reads a record."""

    def __init__(self) -> None:
        self._file: Any = None

    def add(self, records: list[dict[str, Any]]) -> None:
        if self._file is None:
            self._file = tempfile.SpooledTemporaryFile(max_size=GzipLines.SPOOL_BYTES)
        batch = marshal.dumps(records)  # plain dicts, lists, strings and numbers: marshal is the fastest codec
        self._file.write(len(batch).to_bytes(8, "little") + batch)

    def drain(self) -> Iterator[list[dict[str, Any]]]:
        if self._file is not None:
            self._file.seek(0)
            while header := self._file.read(8):
                yield marshal.loads(self._file.read(int.from_bytes(header, "little")))
            self._file.close()
            self._file = None


def _export_instance(run: _Run, instance: InstanceConfig, lookups: CallStats) -> list[FilterOutcome]:
    instance_id = instance.instance_id
    profiles: list[str] = []
    profiles_error: Exception | None = None
    if any(f.kind == ALL_AGENTS for f in instance.filters):
        try:
            profiles = run.directory.routing_profile_ids(run.api, instance_id, lookups)
        except Exception as exc:  # reported on each all-agents filter below
            profiles_error = exc
    outcomes = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="names") as pool:
        names = _NamesAhead(pool, run, instance_id, lookups)
        for filt in instance.filters:
            outcome = FilterOutcome(instance_id, filt.name)
            filter_started = run.clock()
            try:
                if filt.kind == ALL_AGENTS and profiles_error:
                    raise profiles_error
                with run.span(f"## filter {filt.name}", {"instance_id": instance_id, "filter_name": filt.name}):
                    _export_filter(run, instance_id, filt, profiles, names, outcome, lookups)
            except Exception as exc:  # one filter's failure must not cost the others
                outcome.error = describe_error(exc)
                logger.error("filter failed", extra={"instance_id": instance_id, "filter_name": filt.name, "error": outcome.error})
            outcome.seconds = run.clock() - filter_started
            health = FilterHealth(
                failed=not outcome.ok,
                api_calls=outcome.stats.total_calls,
                throttles=outcome.stats.throttles,
                short_of_total=outcome.short_of_total,
                already_written=outcome.already_written,
            )
            run.send(
                filter_documents(run.config.metrics.namespace, run.at, instance_id, filt.name, outcome.summary, health,
                                 run.config.families(filt))
                + outcome.agent_documents
            )
            outcomes.append(outcome)
    return outcomes


def _export_filter(
    run: _Run,
    instance_id: str,
    filt: FilterConfig,
    routing_profile_ids: list[str],
    names_ahead: _NamesAhead,
    outcome: FilterOutcome,
    lookups: CallStats,
) -> None:
    """Pages become records as they arrive and are gzipped into a spool: memory does not grow with agents.
    Lines follow the API's order (chunk by chunk, page by page), not sorted. Records flattened before the
    names arrive wait in a spool with their names empty, so only naming and encoding are left for then."""
    lines, summary, waiting = GzipLines(), Summarizer(), _Waiting()
    per_agent = run.config.metrics.per_agent

    def write(records: list[dict[str, Any]]) -> None:
        # A cache read; it re-reads users only if one is unknown and the list is older than a minute.
        names = run.directory.names(run.api, instance_id, lookups, (r["user_id"] for r in records))
        for record in records:
            lines.write(name(record, names))
            if per_agent:
                outcome.agent_documents += agent_documents(run.config.metrics.namespace, run.at, instance_id, filt.name, [record])

    def on_agents(agents: list[dict[str, Any]]) -> None:
        records = [flatten(agent, run.at) for agent in agents]
        for record in records:
            summary.add(record)  # slots, statuses and contact states: no name needed
        if not names_ahead.ready():
            waiting.add(records)
            return
        for held in waiting.drain():
            write(held)
        write(records)

    workers = parallel_pages(run.config.pacing)
    chunks = list(filter_chunks(filt, routing_profile_ids, parallel=workers))

    def on_page(received: int, total: int) -> None:
        names_ahead.start()
        if run.progress:
            run.progress(instance_id, filt.name, received, total)

    result = fetch_filter(run.api, instance_id, chunks, outcome.stats, on_agents, on_page=on_page, workers=workers)
    outcome.short_of_total = result.short_of_total
    names_ahead.wait()
    for held in waiting.drain():
        write(held)
    body = lines.finish()
    try:
        outcome.uri = run.sink.put(object_key(instance_id, filt.name, run.at), body)
    except AlreadyWritten as exc:
        outcome.uri, outcome.already_written = exc.uri, True
        outcome.agent_documents = []
        logger.info("filter already written for this minute; left as it was",
                    extra={"instance_id": instance_id, "filter_name": filt.name, "uri": exc.uri})
        return
    finally:
        body.close()
    outcome.records = lines.records
    outcome.bytes_written = lines.size
    outcome.summary = summary.result()
    logger.info(
        "filter written",
        extra={"instance_id": instance_id, "filter_name": filt.name, "records": lines.records, "uri": outcome.uri},
    )
