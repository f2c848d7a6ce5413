"""One snapshot: every configured instance and filter, fetched, flattened, written, measured.

Each filter is written as soon as it is complete, so a later failure (another filter's API error,
the Lambda deadline) never costs data already fetched; failures are collected and reported at the end.
The steps of a filter are fetch (`pager`), flatten (`records`), name (`directory`), write (`sinks`) and
measure (`metrics`); this module only strings them together.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from .config import ALL_AGENTS, ExporterConfig, FilterConfig, InstanceConfig
from .connect import CallStats, ConnectApi, describe_error, parallel_pages
from .directory import Directory, NamesAhead
from .metrics import (
    STANDARD_RESOLUTION,
    FilterHealth,
    FilterSummary,
    InstanceHealth,
    Summarizer,
    agent_documents,
    filter_documents,
    instance_document,
)
from .observability import emit_emf, logger
from .pager import fetch_filter, filter_chunks
from .records import flatten, name
from .sinks import AlreadyWritten, GzipLines, RecordSpool, Sink, object_key

# Log lines naming an agent's unreadable fields, per filter; the rest are counted in MalformedFields only.
MALFORMED_LOG_LINES = 10


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
    malformed_fields: int = 0  # values the API sent that could not be read: null in their records, counted
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
    run_id: str = ""

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
    """Raised after every good filter is written, naming the filters that were not (with the sample's time
    when a run took several samples)."""

    def __init__(self, *reports: SnapshotReport) -> None:
        self.report = reports[0]
        self.reports = reports
        at = (lambda r: f"{r.snapshot_time:%H:%M:%S}Z ") if len(reports) > 1 else (lambda r: "")
        lines = [f"{at(r)}instance {o.instance_id} filter {o.filter_name}: {o.error}" for r in reports for o in r.failures]
        super().__init__(f"{len(lines)} filter(s) failed: " + "; ".join(lines))


# Amazon Connect opened in March 2017: no snapshot is older.
EARLIEST_SNAPSHOT = dt.datetime(2017, 1, 1, tzinfo=dt.UTC)


class BadSnapshotTime(ValueError):
    """A snapshot time that cannot be right, described in one line."""


def snapshot_time(
    value: str | dt.datetime | None = None, now: dt.datetime | None = None, ahead_seconds: float = 60.0
) -> dt.datetime:
    """The snapshot time in UTC, truncated to the minute (one object per minute, whatever the seconds): an
    ISO-8601 string or datetime as given, or now. A time before 2017 or more than `ahead_seconds` after
    `now` is refused: writing it would label today's agents with another minute, and write-once would then
    refuse the real run of that minute."""
    now = now or dt.datetime.now(dt.UTC)
    if value is None:
        parsed = now
    elif isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadSnapshotTime(f"snapshot time {value!r} is not an ISO-8601 date and time") from None
    else:
        raise BadSnapshotTime(f"snapshot time {value!r} is not an ISO-8601 date and time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = parsed.astimezone(dt.UTC).replace(second=0, microsecond=0)
    except (OverflowError, ValueError):
        raise BadSnapshotTime(f"snapshot time {value!r} is outside the calendar once in UTC") from None
    if parsed < EARLIEST_SNAPSHOT:
        raise BadSnapshotTime(
            f"snapshot time {parsed:%Y-%m-%dT%H:%M}Z is before {EARLIEST_SNAPSHOT:%Y}: not a time Connect has data for"
        )
    if (parsed - now).total_seconds() > ahead_seconds:
        raise BadSnapshotTime(
            f"snapshot time {parsed:%Y-%m-%dT%H:%M}Z is more than {ahead_seconds:g} s in the future "
            f"(now {now:%Y-%m-%dT%H:%M:%S}Z): refused, it would take that minute's place"
        )
    return parsed


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
    slot_resolution: int = STANDARD_RESOLUTION,
    period_seconds: int | None = None,
) -> SnapshotReport:
    """Export one snapshot; never raises for a filter's failure (see `SnapshotReport.failures`).
    `progress(instance_id, filter_name, agents, approximate_total)` hears of each page (a terminal's bar).
    Each run has an id of its own, stored with every object it writes (see `sinks.S3Sink`).
    `slot_resolution` is the slot metrics' EMF StorageResolution (1 when sampling below a minute);
    `period_seconds` the time this snapshot stands for, written in every record (None: off schedule)."""
    started = clock()
    run_api = api.counted()
    report = SnapshotReport(snapshot_time=at, api_stats=run_api.stats, run_id=uuid.uuid4().hex)
    run = _Run(config, at, directory, sink, emit, report, clock, progress, span, slot_resolution, period_seconds)
    for instance in config.instances:
        instance_started = clock()
        instance_api = run_api.counted()
        outcomes, lookups_failed = _export_instance(run, instance, instance_api)
        report.outcomes.extend(outcomes)
        health = InstanceHealth(
            failed_filters=sum(not o.ok for o in outcomes),
            api_calls=instance_api.stats.total_calls,
            throttles=instance_api.stats.throttles,
            duration_seconds=clock() - instance_started,
            already_written_filters=sum(o.already_written for o in outcomes),
            name_lookups_failed=lookups_failed,
        )
        run.send([instance_document(config.metrics.namespace, at, instance.instance_id, health)])
    report.duration_seconds = clock() - started
    return report


@dataclass(frozen=True)
class _Run:
    """What every filter of one snapshot shares."""

    config: ExporterConfig
    at: dt.datetime
    directory: Directory
    sink: Sink
    emit: Callable[[Iterable[dict[str, Any]]], int]
    report: SnapshotReport
    clock: Callable[[], float] = time.monotonic
    progress: Progress | None = None
    span: Span = no_span
    slot_resolution: int = STANDARD_RESOLUTION
    period_seconds: int | None = None

    def send(self, documents: list[dict]) -> None:
        self.report.emf_bytes += self.emit(documents)
        self.report.emf_documents += len(documents)


def _export_instance(run: _Run, instance: InstanceConfig, api: ConnectApi) -> tuple[list[FilterOutcome], int]:
    """Every filter of one instance, each on its own: one filter's failure must not cost the others.
    Returns the outcomes and how many name lookups failed."""
    instance_id = instance.instance_id
    profiles: list[str] = []
    profiles_error: Exception | None = None
    if any(f.kind == ALL_AGENTS for f in instance.filters):
        try:
            profiles = run.directory.routing_profile_ids(api.counted(), instance_id)
        except Exception as exc:  # reported on each all-agents filter below
            profiles_error = exc
    outcomes = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="names") as pool:
        names = NamesAhead(pool, run.directory, api.counted(), instance_id)
        for filt in instance.filters:
            filter_api = api.counted()
            filter_started = run.clock()
            try:
                if filt.kind == ALL_AGENTS and profiles_error:
                    raise profiles_error
                with run.span(f"## filter {filt.name}", {"instance_id": instance_id, "filter_name": filt.name}):
                    outcome = _export_filter(run, filter_api, instance_id, filt, profiles, names)
            except Exception as exc:  # one filter's failure must not cost the others
                outcome = FilterOutcome(instance_id, filt.name, error=describe_error(exc))
                logger.error(
                    "filter failed", extra={"instance_id": instance_id, "filter_name": filt.name, "error": outcome.error}
                )
            outcome.stats = filter_api.stats
            outcome.seconds = run.clock() - filter_started
            health = FilterHealth(
                failed=not outcome.ok,
                api_calls=outcome.stats.total_calls,
                throttles=outcome.stats.throttles,
                short_of_total=outcome.short_of_total,
                already_written=outcome.already_written,
                malformed_fields=outcome.malformed_fields,
            )
            run.send(
                filter_documents(
                    run.config.metrics.namespace,
                    run.at,
                    instance_id,
                    filt.name,
                    outcome.summary,
                    health,
                    run.config.families(filt),
                    run.slot_resolution,
                )
                + outcome.agent_documents
            )
            outcomes.append(outcome)
    return outcomes, len(names.failed)


def _export_filter(
    run: _Run,
    api: ConnectApi,
    instance_id: str,
    filt: FilterConfig,
    routing_profile_ids: list[str],
    names_ahead: NamesAhead,
) -> FilterOutcome:
    """Pages become records as they arrive and are gzipped into a spool: memory does not grow with agents.
    Lines follow the API's order (chunk by chunk, page by page), not sorted. Records flattened before the
    names arrive wait in a spool with their names empty, so only naming and encoding are left for then."""
    outcome = FilterOutcome(instance_id, filt.name)
    lines, summary, waiting = GzipLines(), Summarizer(), RecordSpool()
    per_agent = run.config.metrics.per_agent
    agents_malformed = 0

    def write(records: list[dict[str, Any]]) -> None:
        # A cache read; it re-reads users only if one is unknown and the list is older than a minute.
        names = names_ahead.names(r["user_id"] for r in records)
        for record in records:
            lines.write(name(record, names))
        if per_agent:
            outcome.agent_documents += agent_documents(run.config.metrics.namespace, run.at, instance_id, filt.name, records)

    def on_agents(agents: list[dict[str, Any]]) -> None:
        nonlocal agents_malformed
        records = []
        for agent in agents:
            problems: list[str] = []
            record = flatten(agent, run.at, problems=problems, period_seconds=run.period_seconds)
            if problems:  # one bad field costs that field: counted, and the first few agents named by id
                outcome.malformed_fields += len(problems)
                agents_malformed += 1
                if agents_malformed <= MALFORMED_LOG_LINES:
                    logger.warning(
                        "fields the API sent that cannot be read are null in this agent's record",
                        extra={
                            "instance_id": instance_id,
                            "filter_name": filt.name,
                            "user_id": record["user_id"],
                            "fields": ",".join(problems),
                        },
                    )
            summary.add(record)  # slots, statuses and contact states: no name needed
            records.append(record)
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

    result = fetch_filter(api, instance_id, chunks, on_agents, on_page=on_page, workers=workers)
    outcome.short_of_total = result.short_of_total
    outcome.malformed_fields += result.malformed_items
    names_ahead.wait()
    for held in waiting.drain():
        write(held)
    body = lines.finish()
    try:
        outcome.uri = run.sink.put(
            object_key(instance_id, filt.name, run.at), body, run_id=run.report.run_id, seconds=api.deadline.write_seconds()
        )
    except AlreadyWritten as exc:
        outcome.uri, outcome.already_written = exc.uri, True
        outcome.agent_documents = []
        logger.info(
            "filter already written for this minute; left as it was",
            extra={"instance_id": instance_id, "filter_name": filt.name, "uri": exc.uri},
        )
        return outcome
    finally:
        body.close()
    outcome.records = lines.records
    outcome.bytes_written = lines.size
    outcome.summary = summary.result()
    logger.info(
        "filter written",
        extra={"instance_id": instance_id, "filter_name": filt.name, "records": lines.records, "uri": outcome.uri},
    )
    return outcome
