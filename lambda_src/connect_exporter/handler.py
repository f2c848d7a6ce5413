"""Lambda entry point: parse the scheduled event, take the minute's samples, and fail loudly after saving.

Whatever the event, the handler answers before Lambda's timeout: a run it cannot make (no usable time, a time
in the future, ARNs of another account or Region) is refused in one log line with EMF that says so
(`RunsRefused`, and every filter counted in `FailedFilters`); a run it makes takes one snapshot, or one every
`EXPORTER_SAMPLE_SECONDS` (`sampling`), each stopping its paging before its slot ends or the reserve, reports
each filter it could not write, and raises after saving the rest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Field, field_validator

from .clients import connect_client, s3_client
from .config import (
    DEADLINE_RESERVE_SECONDS,
    DEFAULT_CONFIG_PATH,
    SAMPLE_SECONDS_PROBLEM,
    ConfigError,
    ExporterConfig,
    SampleSeconds,
    home_problems,
    load_config,
)
from .connect import ConnectApi
from .directory import Directory
from .metrics import late_run_document, refused_run_document
from .observability import SERVICE, emit_emf, logger
from .sampling import run_samples, slots
from .sinks import S3Sink, parse_destination
from .snapshot import BadSnapshotTime, SnapshotFailed, snapshot_time
from .validation import Model, Rule, Say, validate

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


class Settings(Model):
    """The function's environment, read once per container (each variable named in its own problem line)."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=False)  # variables are text: "5" is 5 seconds

    config_path: str = Field(DEFAULT_CONFIG_PATH, validation_alias="EXPORTER_CONFIG_PATH")
    destination: Annotated[
        str, Field(pattern=r"^s3://", validation_alias="EXPORTER_DESTINATION"), Say("must be s3://bucket/prefix")
    ]
    deadline_reserve_seconds: float = Field(
        DEADLINE_RESERVE_SECONDS, ge=0, le=900, validation_alias="EXPORTER_DEADLINE_RESERVE_SECONDS"
    )
    # The schedule's period; a run that starts a whole period after its scheduled time writes nothing.
    schedule_seconds: float | None = Field(None, ge=0, le=900, validation_alias="EXPORTER_SCHEDULE_SECONDS")
    # Seconds between samples within a run (deployment.sample_seconds): 60 is one sample a minute.
    sample_seconds: Annotated[SampleSeconds, Field(validation_alias="EXPORTER_SAMPLE_SECONDS"), Say(SAMPLE_SECONDS_PROBLEM)] = 60

    @field_validator("destination")
    @classmethod
    def _bucket(cls, destination: str) -> str:
        try:
            parse_destination(destination)  # a bucket name that is not one fails here, not at the first write
        except ValueError as exc:
            raise Rule((), str(exc)) from None  # the message quotes the destination
        return destination

    @field_validator("schedule_seconds", mode="before")
    @classmethod
    def _unset(cls, value: Any) -> Any:
        return value or None  # an empty variable is no schedule

    @field_validator("sample_seconds", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value  # the variable is text

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return validate(cls, dict(environ), "")


class StartupFailed(Exception):
    """The function's environment or config cannot run: one line, and Lambda's error metric counts it."""


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


def scheduled_time(event: Any) -> str | None:
    """The time the schedule fired: Scheduler input `scheduled_time`, or an EventBridge rule's `time`; None
    for an event that names none (a console test), which runs now. A key present with no usable value, or
    an event that is not an object, raises BadSnapshotTime."""
    if event is None:
        return None
    if not isinstance(event, dict):
        raise BadSnapshotTime(f"the event is a JSON {type(event).__name__}, not an object with scheduled_time")
    for key in ("scheduled_time", "time"):
        if key in event:
            value = event[key]
            if not isinstance(value, str) or not value.strip():
                raise BadSnapshotTime(f"the event's {key} {value!r} is not an ISO-8601 date and time")
            return value
    return None


def is_late(at: dt.datetime, now: dt.datetime, schedule_seconds: float | None) -> bool:
    """True once the next scheduled run should have begun: a retry this late would label data read now
    with an old minute, and would draw the Connect quota beside the current run."""
    return schedule_seconds is not None and (now - at).total_seconds() >= schedule_seconds


def refuse(rt: Runtime, reason: str, now: dt.datetime) -> dict[str, Any]:
    """No run: one error line, and per instance every filter failed (timestamped now, not the bad time)."""
    logger.error("run refused", extra={"reason": reason})
    emit_emf(refused_run_document(rt.config.metrics.namespace, now, i.instance_id, len(i.filters)) for i in rt.config.instances)
    return {"refused": reason, "filters": 0, "written": 0, "already_written": 0}


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        rt = runtime()
    except (ConfigError, ValueError, OSError) as exc:
        logger.error("cannot start: the function's environment or config is unusable", extra={"error": str(exc)})
        raise StartupFailed(" ".join(str(exc).split())) from None
    now = dt.datetime.now(dt.UTC)
    # The function's own Region and account: the config's ARNs must name them (synth checks when it knows them).
    arn = str(getattr(context, "invoked_function_arn", "")).split(":")
    home = home_problems(rt.config, rt.settings.config_path, os.environ.get("AWS_REGION"), arn[4] if len(arn) > 4 else None)
    if home:
        return refuse(rt, home[0], now)
    try:
        period = rt.settings.schedule_seconds or 60.0
        at = snapshot_time(scheduled_time(event), now=now, ahead_seconds=period)
    except BadSnapshotTime as exc:
        return refuse(rt, str(exc), now)
    if is_late(at, now, rt.settings.schedule_seconds):
        logger.warning("late run skipped: the next scheduled run has begun", extra={"snapshot_time": at.isoformat()})
        emit_emf(late_run_document(rt.config.metrics.namespace, at, i.instance_id) for i in rt.config.instances)
        return {"snapshot_time": at.isoformat(), "skipped": "late", "filters": 0, "written": 0, "already_written": 0}
    # Each sample's view of this client gets its own deadline: its slot's end, or the Lambda's less the reserve.
    api = ConnectApi(rt.connect, rt.config.pacing)
    results = run_samples(
        rt.config,
        slots(at, period, rt.settings.sample_seconds),
        api,
        rt.directory,
        rt.sink,
        sample_seconds=rt.settings.sample_seconds,
        lambda_remaining=lambda: context.get_remaining_time_in_millis() / 1000,
        reserve=rt.settings.deadline_reserve_seconds,
        span=traced,
    )
    reports = [r.report for r in results if r.report is not None]
    if any(report.failures for report in reports):
        raise SnapshotFailed(*reports)
    outcomes = [o for report in reports for o in report.outcomes]
    return {
        "snapshot_time": at.isoformat(),
        "samples": len(reports),
        "samples_skipped": len(results) - len(reports),
        "filters": len(outcomes),
        "written": sum(len(report.written) for report in reports),
        "already_written": sum(len(report.already_written) for report in reports),
        "records": sum(o.records for o in outcomes),
        "api_calls": sum(report.api_stats.total_calls for report in reports),
        "throttles": sum(report.api_stats.throttles for report in reports),
    }
