"""Deployment settings: the `deployment` section of the exporter's own config file.

The exporter's part of the file is validated by `config` (one definition); this module validates the
rest with the same one-line errors, so a bad file stops `cdk synth` before any template, and
`connect-exporter validate` makes exactly the checks synth makes, without CDK installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import (
    FILTER_NAME_RE,
    ConfigError,
    ExporterConfig,
    Validator,
    home_problems,
    load_config,
)
from .metrics import CHANNELS

RATE_RE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) minutes?\)$")
DATABASE_RE = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
LAYER_ARN_RE = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
KMS_KEY_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}$")
ENCRYPTION_MODES = ("s3-managed", "kms")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
COMPARISONS = {"<": "LESS_THAN_THRESHOLD", "<=": "LESS_THAN_OR_EQUAL_TO_THRESHOLD", ">": "GREATER_THAN_THRESHOLD", ">=": "GREATER_THAN_OR_EQUAL_TO_THRESHOLD"}
SLOT_METRICS = ("AvailableSlots", "MaxSlots", "ActiveSlots")
# Athena writes at most 100 partitions a query (HIVE_TOO_MANY_OPEN_PARTITIONS); every history write covers one
# day, one partition per (instance, filter): more filters than this and compaction would fail every hour.
MAX_WRITE_PARTITIONS = 100


@dataclass(frozen=True)
class AlarmRule:
    """e.g. AvailableSlots for support/VOICE < 1 for 3 of 5 minutes."""

    instance_id: str
    filter_name: str
    channel: str
    metric: str
    comparison: str
    threshold: float
    evaluation_periods: int
    datapoints_to_alarm: int


@dataclass(frozen=True)
class DeploymentSettings:
    exporter: ExporterConfig
    source: str
    schedule_minutes: int = 1
    prefix: str = "snapshots"
    snapshot_retention_days: int = 30
    log_retention_days: int = 30
    memory_mb: int = 512
    retain_data: bool = True
    stale_after_minutes: int = 5
    alarm_email: str | None = None
    alarms: tuple[AlarmRule, ...] = ()
    history_prefix: str = "history"
    # The Glue database; None: derived from the stack's name (`stack.database_name`), so two stacks never share one.
    database: str | None = None
    history_retention_days: int = 400
    history_max_lag_hours: int = 3
    # Days of raw the daily run compares with history (a late minute in them reaches history): it reads them
    # whole, once a day, and one query must stay under the workgroup's 20 GB scan cutoff.
    history_reconcile_days: int = 2
    # None: no reservation (accounts whose concurrency quota is 10 cannot reserve any).
    reserved_concurrency: int | None = 1
    # None: the public layer of the Powertools version the project pins, resolved from its SSM parameter.
    powertools_layer_arn: str | None = None
    # "s3-managed" (AWS-owned keys), "kms" (one customer-managed key created by the stack), or a KMS key ARN.
    encryption: str = "s3-managed"
    tracing: bool = True  # X-Ray active tracing and Powertools Tracer

    @property
    def customer_key(self) -> bool:
        return self.encryption != "s3-managed"

    @property
    def schedule_expression(self) -> str:
        return f"rate({self.schedule_minutes} minute{'s' if self.schedule_minutes > 1 else ''})"

    @property
    def timeout_seconds(self) -> int:
        """Below the schedule period, so one run ends before the next begins (Lambda's cap is 900 s)."""
        return min(self.schedule_minutes * 60 - 5, 900)


def load_settings(path: str | Path, problems: list[str] | None = None, region: str | None = None,
                  account: str | None = None) -> DeploymentSettings:
    """The exporter config and its `deployment` section, validated. Without `problems` the first problem
    raises `ConfigError` (synth stops there); with a list, each problem is appended as its own line and a
    default stands in for the bad value, so `connect-exporter validate` reports every one at once. `region`
    and `account`, where known (synth with an environment), must be those of every ARN in the config."""
    exporter = load_config(path, problems)
    v = Validator(str(path), problems)
    for problem in home_problems(exporter, str(path), region, account):
        if problems is None:
            raise ConfigError(problem)
        problems.append(problem)
    d: dict[str, Any] = {}
    with v.section():
        d = v.object(
            exporter.deployment,
            "deployment",
            optional={"schedule", "prefix", "snapshot_retention_days", "log_retention_days", "memory_mb", "retain_data",
                      "stale_after_minutes", "alarm_email", "alarms", "reserved_concurrency", "powertools_layer_arn",
                      "history_retention_days", "history_max_lag_hours", "history_reconcile_days", "database", "encryption", "tracing"},
        )

    def setting(key: str, default: Any, check: Callable[[Any], Any]) -> Any:
        with v.section():
            return check(d.get(key, default))
        return default  # the problem is recorded

    def integer(key: str, default: int, low: int, high: int) -> int:
        return setting(key, default, lambda value: v.integer(value, f"deployment.{key}", low, high))

    filters = {(i.instance_id, f.name) for i in exporter.instances for f in i.filters}
    if len(filters) > MAX_WRITE_PARTITIONS:
        with v.section():
            v.fail("instances", f"{len(filters)} filters in all: the history tier writes one partition per filter a query, "
                                f"and Athena writes at most {MAX_WRITE_PARTITIONS}; split the instances across stacks")
    alarms = []
    for n, raw in enumerate(setting("alarms", [], lambda value: v.array(value, "deployment.alarms"))):
        with v.section():
            alarms.append(_alarm(v, raw, f"deployment.alarms[{n}]", exporter, filters))
    # Raw snapshots only need to outlive compaction (and serve debugging): history keeps the long record.
    raw_days = integer("snapshot_retention_days", 30, 8, 3650)
    return DeploymentSettings(
        exporter=exporter,
        source=str(path),
        schedule_minutes=setting("schedule", "rate(1 minute)", lambda value: _schedule_minutes(v, value)),
        prefix=setting("prefix", "snapshots", lambda value: _prefix(v, value)),
        snapshot_retention_days=raw_days,
        history_retention_days=integer("history_retention_days", 400, 1, 3650),
        history_max_lag_hours=integer("history_max_lag_hours", 3, 2, 72),
        history_reconcile_days=integer("history_reconcile_days", 2, 1, min(30, raw_days)),  # raw must still hold them
        log_retention_days=setting("log_retention_days", 30, lambda value: _one_of(
            v, value, LOG_RETENTION_DAYS, "deployment.log_retention_days", f"must be one of CloudWatch's values {LOG_RETENTION_DAYS}")),
        memory_mb=integer("memory_mb", 512, 128, 10240),
        retain_data=setting("retain_data", True, lambda value: _boolean(v, value, "deployment.retain_data")),
        stale_after_minutes=integer("stale_after_minutes", 5, 1, 60),
        alarm_email=setting("alarm_email", None, lambda value: _matching(
            v, value, EMAIL_RE, "deployment.alarm_email", "must be an e-mail address")),
        alarms=tuple(alarms),
        reserved_concurrency=setting("reserved_concurrency", 1, lambda value: value if value is None else v.integer(
            value, "deployment.reserved_concurrency", 1, 1000)),
        database=setting("database", None, lambda value: _matching(
            v, value, DATABASE_RE, "deployment.database", "must be a Glue database name: a-z 0-9 _, starting with a letter, at most 100")),
        powertools_layer_arn=setting("powertools_layer_arn", None, lambda value: _matching(
            v, value, LAYER_ARN_RE, "deployment.powertools_layer_arn",
            "must be a Lambda layer version ARN (arn:...:lambda:REGION:ACCOUNT:layer:NAME:VERSION)")),
        encryption=setting("encryption", "s3-managed", lambda value: _encryption(v, value)),
        tracing=setting("tracing", True, lambda value: _boolean(v, value, "deployment.tracing")),
    )


def _schedule_minutes(v: Validator, schedule: Any) -> int:
    match = RATE_RE.fullmatch(schedule) if isinstance(schedule, str) else None
    if not match or int(match["n"]) > 15:
        v.fail("deployment.schedule", "must be rate(N minute[s]) with N from 1 to 15", schedule)
    assert match is not None  # v.fail raised otherwise
    return int(match["n"])


def _prefix(v: Validator, prefix: Any) -> str:
    if not isinstance(prefix, str) or not re.fullmatch(r"[a-z0-9][a-z0-9/_-]{0,100}", prefix) or prefix.endswith("/"):
        v.fail("deployment.prefix", "must be a key prefix of a-z 0-9 / _ - without a trailing /", prefix)
    if prefix.split("/")[0] == DeploymentSettings.history_prefix:
        v.fail("deployment.prefix", f"must not be under {DeploymentSettings.history_prefix}/, where the history table lives", prefix)
    return prefix


def _encryption(v: Validator, encryption: Any) -> str:
    if encryption not in ENCRYPTION_MODES and not (isinstance(encryption, str) and KMS_KEY_ARN_RE.fullmatch(encryption)):
        v.fail("deployment.encryption", 'must be "s3-managed", "kms" or a KMS key ARN (arn:...:kms:REGION:ACCOUNT:key/ID)', encryption)
    return encryption


def _boolean(v: Validator, value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        v.fail(path, "must be true or false", value)
    return value


def _one_of(v: Validator, value: Any, allowed: tuple[Any, ...], path: str, problem: str) -> Any:
    if isinstance(value, bool) or value not in allowed:
        v.fail(path, problem, value)
    return value


def _matching(v: Validator, value: Any, pattern: re.Pattern[str], path: str, problem: str) -> str | None:
    """None, or a string matching `pattern`."""
    if value is not None and (not isinstance(value, str) or not pattern.fullmatch(value)):
        v.fail(path, problem, value)
    return value


def _alarm(v: Validator, raw: object, path: str, exporter: ExporterConfig, filters: set[tuple[str, str]]) -> AlarmRule:
    a = v.object(raw, path, required={"filter", "channel", "threshold"},
                 optional={"instance_id", "metric", "comparison", "evaluation_periods", "datapoints_to_alarm"})
    instance_id = a.get("instance_id")
    if instance_id is None:
        if len(exporter.instances) != 1:
            v.fail(f"{path}.instance_id", "is required when the config has several instances")
        instance_id = exporter.instances[0].instance_id
    if not isinstance(instance_id, str) or instance_id not in {i.instance_id for i in exporter.instances}:
        v.fail(f"{path}.instance_id", "must be the instance_id of one of the config's instances", instance_id)
    name = a["filter"]
    if not isinstance(name, str) or not FILTER_NAME_RE.fullmatch(name) or (instance_id, name) not in filters:
        v.fail(f"{path}.filter", f"must name a filter of instance {instance_id}", name)
    filt = next(f for i in exporter.instances if i.instance_id == instance_id for f in i.filters if f.name == name)
    if "slots" not in exporter.families(filt):
        v.fail(f"{path}.filter", f"filter {name} of instance {instance_id} does not emit slot metrics "
               f"(its metrics: {', '.join(sorted(exporter.families(filt))) or 'none'}); add \"slots\" to them", name)
    channel = a["channel"]
    if channel not in CHANNELS:
        v.fail(f"{path}.channel", f"must be one of {', '.join(CHANNELS)}", channel)
    metric = a.get("metric", "AvailableSlots")
    if metric not in SLOT_METRICS:
        v.fail(f"{path}.metric", f"must be one of {', '.join(SLOT_METRICS)}", metric)
    comparison = a.get("comparison", "<")
    if not isinstance(comparison, str) or comparison not in COMPARISONS:
        v.fail(f"{path}.comparison", f"must be one of {' '.join(COMPARISONS)}", comparison)
    periods = v.integer(a.get("evaluation_periods", 5), f"{path}.evaluation_periods", 1, 60)
    datapoints = v.integer(a.get("datapoints_to_alarm", min(3, periods)), f"{path}.datapoints_to_alarm", 1, periods)
    return AlarmRule(instance_id, name, channel, metric, comparison, v.number(a["threshold"], f"{path}.threshold", -1e9, 1e9), periods, datapoints)


def alarm_count(settings: DeploymentSettings) -> int:
    """The stack's CloudWatch alarms, for the cost plan: the slot rules, one staleness alarm per filter, one
    failed-filters alarm per instance, the function's errors, EMF errors, and the compaction's failed and
    lagging alarms. An infrastructure test holds it to the synthesized template."""
    filters = sum(len(i.filters) for i in settings.exporter.instances)
    return len(settings.alarms) + filters + len(settings.exporter.instances) + 2 + 2
