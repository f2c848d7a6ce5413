"""Lambda entry point: parse the scheduled event, run one snapshot, and fail loudly after saving."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from .clients import connect_client, s3_client
from .config import DEFAULT_CONFIG_PATH, ExporterConfig, load_config
from .directory import Directory
from .metrics import late_run_document
from .observability import SERVICE, emit_emf, logger
from .connect import ConnectApi, Deadline
from .sinks import S3Sink, parse_destination
from .snapshot import SnapshotFailed, run_snapshot, snapshot_time

# X-Ray through Powertools, in Lambda only (the CLI never imports this module): it patches botocore, so every
# Connect and S3 call is a subsegment; filters get their own. Names, ids and counts only: never a record.
tracer = Tracer(service=SERVICE)


@contextlib.contextmanager
def traced(name: str, annotations: Mapping[str, str]) -> Iterator[None]:
    """A `run_snapshot` span: one X-Ray subsegment, annotated so traces can be searched by instance and filter."""
    with tracer.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            subsegment.put_annotation(key, value)
        yield


@dataclass(frozen=True)
class Settings:
    """The function's environment, read once per container."""

    config_path: str
    destination: str
    deadline_reserve_seconds: float
    # The schedule's period; a run that starts a whole period after its scheduled time writes nothing.
    schedule_seconds: float | None = None

    @classmethod
    def from_env(cls) -> Settings:
        destination = os.environ.get("EXPORTER_DESTINATION", "")
        if not destination.startswith("s3://"):
            raise ValueError(f"EXPORTER_DESTINATION must be s3://bucket/prefix (got {destination!r})")
        return cls(
            config_path=os.environ.get("EXPORTER_CONFIG_PATH", DEFAULT_CONFIG_PATH),
            destination=destination,
            deadline_reserve_seconds=float(os.environ.get("EXPORTER_DEADLINE_RESERVE_SECONDS", "5")),
            schedule_seconds=float(os.environ["EXPORTER_SCHEDULE_SECONDS"]) if os.environ.get("EXPORTER_SCHEDULE_SECONDS") else None,
        )


@dataclass(frozen=True)
class Runtime:
    """What a warm container keeps between invocations: config, clients and the name cache."""

    settings: Settings
    config: ExporterConfig
    connect: Any
    sink: S3Sink
    directory: Directory


@functools.cache
def runtime() -> Runtime:
    settings = Settings.from_env()
    config = load_config(settings.config_path)
    _, bucket, prefix = parse_destination(settings.destination)
    return Runtime(settings, config, connect_client(), S3Sink(s3_client(), bucket, prefix), Directory(config.names_ttl_seconds))


def scheduled_time(event: dict[str, Any]) -> str | None:
    """The time the schedule fired: Scheduler input `scheduled_time`, or an EventBridge rule's `time`."""
    return event.get("scheduled_time") or event.get("time")


def is_late(at: dt.datetime, now: dt.datetime, schedule_seconds: float | None) -> bool:
    """True once the next scheduled run should have begun: a retry this late would label data read now
    with an old minute, and would draw the Connect quota beside the current run."""
    return schedule_seconds is not None and (now - at).total_seconds() >= schedule_seconds


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    rt = runtime()
    at = snapshot_time(scheduled_time(event or {}))
    if is_late(at, dt.datetime.now(dt.timezone.utc), rt.settings.schedule_seconds):
        logger.warning("late run skipped: the next scheduled run has begun", extra={"snapshot_time": at.isoformat()})
        emit_emf(late_run_document(rt.config.metrics.namespace, at, i.instance_id) for i in rt.config.instances)
        return {"snapshot_time": at.isoformat(), "skipped": "late", "filters": 0, "written": 0, "already_written": 0}
    deadline = Deadline(lambda: context.get_remaining_time_in_millis() / 1000, rt.settings.deadline_reserve_seconds)
    api = ConnectApi(rt.connect, rt.config.pacing, deadline)
    report = run_snapshot(rt.config, at, api, rt.directory, rt.sink, span=traced)
    if report.failures:
        raise SnapshotFailed(report)
    return {
        "snapshot_time": at.isoformat(),
        "filters": len(report.outcomes),
        "written": len(report.written),
        "already_written": len(report.already_written),
        "records": sum(o.records for o in report.outcomes),
        "api_calls": report.api_stats.total_calls,
        "throttles": report.api_stats.throttles,
    }
