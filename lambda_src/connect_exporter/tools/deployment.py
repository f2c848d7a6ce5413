"""Deployment settings: the `deployment` section of the exporter's own config file, typed.

`ConfigFile` is the whole file as synth and the CLI read it: the function's models (`config`) plus this
section and the rules across both (alarms name filters that exist). `connect-exporter validate` makes exactly
the checks synth makes, without CDK installed, and `connect-exporter schema` publishes these models as the
JSON Schema editors check the file with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from ..config import (
    ALL_AGENTS,
    DEADLINE_RESERVE_SECONDS,
    FILTER_KINDS,
    FILTER_NAME,
    SAMPLE_SECONDS_PROBLEM,
    SAMPLING_RESERVE_SECONDS,
    Channel,
    ConfigError,
    ExporterConfig,
    InstanceId,
    SampleSeconds,
    home_problems,
    read_json,
)
from ..validation import Model, Rule, Say, validate

LogRetention = Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
LOG_RETENTION_DAYS: tuple[int, ...] = get_args(LogRetention)
COMPARISONS = {
    "<": "LESS_THAN_THRESHOLD",
    "<=": "LESS_THAN_OR_EQUAL_TO_THRESHOLD",
    ">": "GREATER_THAN_THRESHOLD",
    ">=": "GREATER_THAN_OR_EQUAL_TO_THRESHOLD",
}
Comparison = Literal["<", "<=", ">", ">="]
SlotMetric = Literal["AvailableSlots", "MaxSlots", "ActiveSlots"]
# Athena writes at most 100 partitions a query (HIVE_TOO_MANY_OPEN_PARTITIONS); every history write covers one
# day, one partition per (instance, filter): more filters than this and compaction would fail every hour.
MAX_WRITE_PARTITIONS = 100
HISTORY_PREFIX = "history"

SCHEDULE = r"^rate\((?:[1-9]|1[0-5]) minutes?\)$"
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}$"
Days = Annotated[int, Field(ge=1, le=3650)]
ENCRYPTION_MODES = ("s3-managed", "kms")
ENCRYPTION_PROBLEM = 'must be "s3-managed", "kms" or a KMS key ARN (arn:...:kms:REGION:ACCOUNT:key/ID)'


class AlarmRule(Model):
    """e.g. AvailableSlots for support/VOICE < 1 for 3 of 5 periods (a period is a minute, or 10 or 30 seconds
    when sampling below a minute: `Deployment.alarm_period_seconds`)."""

    instance_id: InstanceId | None = Field(None, description="Required when the config has several instances")
    filter: Annotated[str, Field(pattern=FILTER_NAME)]
    channel: Channel
    metric: SlotMetric = "AvailableSlots"
    comparison: Comparison = "<"
    threshold: Annotated[float, Field(ge=-1e9, le=1e9)]
    evaluation_periods: Annotated[int, Field(ge=1, le=60)] = 5
    datapoints_to_alarm: Annotated[int, Field(ge=1, le=60)] | None = Field(
        None, description="Default: min(3, evaluation_periods)"
    )

    @model_validator(mode="after")
    def _datapoints(self) -> AlarmRule:
        if self.datapoints_to_alarm is None:  # frozen: set once, here, the default that depends on another field
            object.__setattr__(self, "datapoints_to_alarm", min(3, self.evaluation_periods))
        elif self.datapoints_to_alarm > self.evaluation_periods:
            raise Rule(
                ("datapoints_to_alarm",), f"must be a whole number from 1 to {self.evaluation_periods}", self.datapoints_to_alarm
            )
        return self

    @property
    def filter_name(self) -> str:
        return self.filter


# The IDs' shapes as AWS::Chatbot's resource schemas state them: a wrong one fails here, not mid-deploy.
UUID = r"^[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$"


class SlackChannel(Model):
    """A channel of a Slack workspace already authorized for AWS Chatbot (a one-time step in its console)."""

    workspace_id: Annotated[str, Field(pattern=r"^[0-9A-Z]{1,255}$"), Say("must be a Slack workspace ID such as T0123ABCDE")]
    channel_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,255}$"), Say("must be a Slack channel ID such as C0123ABCDE")]


class TeamsChannel(Model):
    """A Microsoft Teams channel of a team already authorized for AWS Chatbot (a one-time step in its console)."""

    team_id: Annotated[str, Field(pattern=UUID), Say("must be the team's ID, a UUID")]
    channel_id: Annotated[
        str,
        Field(pattern=r"^[A-Za-z0-9_=+/.,-]*%3[aA][A-Za-z0-9_=+/.,-]*%40[A-Za-z0-9_=+/.,-]*$"),
        Say("must be the channel ID from its link, URL-encoded (19%3a...%40thread.tacv2)"),
    ]
    tenant_id: Annotated[str, Field(pattern=UUID), Say("must be the Microsoft 365 tenant ID, a UUID")]


class ChatConfig(Model):
    """Where alarms are posted besides the topic's e-mail: AWS Chatbot channels subscribed to the alarm topic."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # the editor's view of `_somewhere`

    slack: SlackChannel | None = None
    teams: TeamsChannel | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> ChatConfig:
        if self.slack is None and self.teams is None:
            raise Rule((), "must name a slack or a teams channel (or leave chat out)")
        return self


class Deployment(Model):
    """The `deployment` section: what the CDK stack builds around the exporter."""

    history_prefix: ClassVar[str] = HISTORY_PREFIX

    schedule: Annotated[str, Field(pattern=SCHEDULE), Say("must be rate(N minute[s]) with N from 1 to 15")] = "rate(1 minute)"
    prefix: Annotated[
        str,
        Field(
            pattern=r"^[a-z0-9][a-z0-9/_-]{0,100}$",
            json_schema_extra={"pattern": rf"^(?!{HISTORY_PREFIX}(?:/|$))[a-z0-9](?:[a-z0-9/_-]{{0,99}}[a-z0-9_-])?$"},
        ),
        Say("must be a key prefix of a-z 0-9 / _ - without a trailing /"),
    ] = "snapshots"
    # Raw snapshots only need to outlive compaction (and serve debugging): history keeps the long record.
    snapshot_retention_days: Annotated[int, Field(ge=8, le=3650)] = 30
    log_retention_days: Annotated[LogRetention, Say(f"must be one of CloudWatch's values {LOG_RETENTION_DAYS}")] = 30
    memory_mb: Annotated[int, Field(ge=128, le=10240)] = 512
    retain_data: bool = True
    stale_after_minutes: Annotated[int, Field(ge=1, le=60)] = 5
    alarm_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), Say("must be an e-mail address")] | None = None
    alarms: Annotated[tuple[AlarmRule, ...], Field(strict=False)] = ()
    # The Glue database; None: derived from the stack's name (`stack.database_name`), so two stacks never share one.
    database: (
        Annotated[
            str,
            Field(pattern=r"^[a-z][a-z0-9_]{0,99}$"),
            Say("must be a Glue database name: a-z 0-9 _, starting with a letter, at most 100"),
        ]
        | None
    ) = None
    history_retention_days: Days = 400
    history_max_lag_hours: Annotated[int, Field(ge=2, le=72)] = 3
    # Days of raw the daily run compares with history (a late minute in them reaches history): it reads them
    # whole, once a day, and one query must stay under the workgroup's 20 GB scan cutoff.
    history_reconcile_days: Annotated[int, Field(ge=1, le=30)] = 2
    # Agent activity's interval (`agent_activity.interval_minutes`): what WFM tools import, 15 minutes most often.
    activity_interval_minutes: Annotated[Literal[15, 30, 60], Say("must be 15, 30 or 60")] = 15
    # None: no reservation (accounts whose concurrency quota is 10 cannot reserve any).
    reserved_concurrency: Annotated[int, Field(ge=1, le=1000)] | None = 1
    # None: the public layer of the Powertools version the project pins, resolved from its SSM parameter.
    powertools_layer_arn: (
        Annotated[
            str,
            Field(pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$"),
            Say("must be a Lambda layer version ARN (arn:...:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"),
        ]
        | None
    ) = None
    # "s3-managed" (AWS-owned keys), "kms" (one customer-managed key created by the stack), or a KMS key ARN.
    encryption: Annotated[
        str,
        Field(json_schema_extra={"anyOf": [{"enum": list(ENCRYPTION_MODES)}, {"pattern": KMS_KEY_ARN}]}),
        Say(ENCRYPTION_PROBLEM),
    ] = "s3-managed"
    tracing: bool = True  # X-Ray active tracing and Powertools Tracer
    # Seconds between samples within each run: below 60, slot metrics are high resolution and slot alarms
    # evaluate 10- or 30-second periods (`alarm_period_seconds`).
    sample_seconds: Annotated[SampleSeconds, Say(SAMPLE_SECONDS_PROBLEM)] = 60
    chat: ChatConfig | None = None

    @field_validator("encryption")
    @classmethod
    def _key(cls, encryption: str) -> str:
        if encryption not in ENCRYPTION_MODES and not re.fullmatch(KMS_KEY_ARN, encryption):
            raise Rule((), ENCRYPTION_PROBLEM, encryption)
        return encryption

    @field_validator("prefix")
    @classmethod
    def _not_history(cls, prefix: str) -> str:
        if prefix.endswith("/"):
            raise Rule((), "must be a key prefix of a-z 0-9 / _ - without a trailing /", prefix)
        if prefix.split("/")[0] == HISTORY_PREFIX:
            raise Rule((), f"must not be under {HISTORY_PREFIX}/, where the history table lives", prefix)
        return prefix

    @model_validator(mode="after")
    def _samples_within_a_minute(self) -> Deployment:
        if self.sampling and self.schedule_minutes != 1:
            raise Rule(
                ("sample_seconds",),
                f"must be 60 unless deployment.schedule is rate(1 minute) (it is {self.schedule}): "
                "samples below a minute span a one-minute run",
                self.sample_seconds,
            )
        return self

    @model_validator(mode="after")
    def _raw_holds_the_reconciled_days(self) -> Deployment:
        most = min(30, self.snapshot_retention_days)  # raw must still hold the days the daily run reconciles
        if self.history_reconcile_days > most:
            raise Rule(("history_reconcile_days",), f"must be a whole number from 1 to {most}", self.history_reconcile_days)
        return self

    @property
    def schedule_minutes(self) -> int:
        return int(self.schedule.removeprefix("rate(").split()[0])

    @property
    def customer_key(self) -> bool:
        return self.encryption != "s3-managed"

    @property
    def schedule_expression(self) -> str:
        return f"rate({self.schedule_minutes} minute{'s' if self.schedule_minutes > 1 else ''})"

    @property
    def sampling(self) -> bool:
        return self.sample_seconds < 60

    @property
    def timeout_seconds(self) -> int:
        """Below the schedule period, so one run ends before the next begins (Lambda's cap is 900 s). A sampling
        run's last sample begins `sample_seconds` before the next run: it gets all but the last second."""
        return 59 if self.sampling else min(self.schedule_minutes * 60 - 5, 900)

    @property
    def deadline_reserve_seconds(self) -> float:
        return SAMPLING_RESERVE_SECONDS if self.sampling else DEADLINE_RESERVE_SECONDS

    @property
    def samples_per_run(self) -> int:
        return 60 // self.sample_seconds if self.sampling else 1

    @property
    def sample_budget_seconds(self) -> float:
        """The least time any sample of a run has to page: a slot, or for the last one what the timeout and the
        reserve leave of it (the Lambda starts at the minute at the earliest)."""
        whole = self.timeout_seconds - self.deadline_reserve_seconds
        if not self.sampling:
            return whole
        return min(float(self.sample_seconds), whole - (self.samples_per_run - 1) * self.sample_seconds)

    @property
    def sample_period_seconds(self) -> int:
        """The time one snapshot stands for: history and activity weigh each by it."""
        return self.sample_seconds if self.sampling else self.schedule_minutes * 60

    @property
    def alarm_period_seconds(self) -> int:
        """The slot alarms' period: the schedule's, or when sampling the shortest CloudWatch high-resolution period
        that holds a sample (10 s, else 30 s). PutMetricAlarm takes 10, 20 or 30 s only over metrics stored with
        StorageResolution 1, and evaluates such an alarm every 10 s; CDK's Metric refuses 20 (it allows 1, 5, 10,
        30 or a multiple of 60)."""
        if not self.sampling:
            return self.schedule_minutes * 60
        return 10 if self.sample_seconds == 10 else 30


class ConfigFile(ExporterConfig):
    """The whole config file: the exporter's part, which the function reads, and the typed `deployment`."""

    deployment: Deployment = Deployment()  # type: ignore[assignment]  # typed here, opaque to the function

    @model_validator(mode="after")
    def _alarms_name_filters(self) -> ConfigFile:
        filters = {(i.instance_id, f.name): f for i in self.instances for f in i.filters}
        if len(filters) > MAX_WRITE_PARTITIONS:
            raise Rule(
                ("instances",),
                f"{len(filters)} filters in all: the history tier writes one partition per filter a query, "
                f"and Athena writes at most {MAX_WRITE_PARTITIONS}; split the instances across stacks",
            )
        self._samples_fit()
        instances = [i.instance_id for i in self.instances]
        for n, alarm in enumerate(self.deployment.alarms):
            at = ("deployment", "alarms", n)
            instance_id = alarm.instance_id
            if instance_id is None:
                if len(instances) != 1:
                    raise Rule((*at, "instance_id"), "is required when the config has several instances")
                object.__setattr__(alarm, "instance_id", instances[0])  # frozen: the one default that needs the instances
                instance_id = instances[0]
            if instance_id not in instances:
                raise Rule((*at, "instance_id"), "must be the instance_id of one of the config's instances", instance_id)
            filt = filters.get((instance_id, alarm.filter))
            if filt is None:
                raise Rule((*at, "filter"), f"must name a filter of instance {instance_id}", alarm.filter)
            if "slots" not in self.families(filt):
                raise Rule(
                    (*at, "filter"),
                    f"filter {alarm.filter} of instance {instance_id} does not emit slot metrics "
                    f'(its metrics: {", ".join(sorted(self.families(filt))) or "none"}); add "slots" to them',
                    alarm.filter,
                )
        return self

    def least_calls_per_sample(self) -> int:
        """GetCurrentUserData calls a snapshot makes at the least: one a chunk of filter values (more pages
        once a chunk has more than 100 agents, which only `plan` can see)."""
        return sum(
            1 if f.kind == ALL_AGENTS else -(-len(f.values) // FILTER_KINDS[f.kind][2]) for i in self.instances for f in i.filters
        )

    def calls_a_sample_can_make(self) -> int:
        """What one sample can spend at the configured pace: its burst plus what refills in its budget, and no more
        than refills in a slot, or samples fall behind one another."""
        d = self.deployment
        pace = self.pacing.pace("GetCurrentUserData")
        return int(
            min(pace.burst + pace.requests_per_second * d.sample_budget_seconds, pace.requests_per_second * d.sample_seconds)
        )

    def _samples_fit(self) -> None:
        d = self.deployment
        if not d.sampling:
            return
        pace = self.pacing.pace("GetCurrentUserData")
        need, can = self.least_calls_per_sample(), self.calls_a_sample_can_make()
        if need > can:
            raise Rule(
                ("deployment", "sample_seconds"),
                f"{d.sample_seconds} s sampling does not fit: each sample needs at least {need} GetCurrentUserData calls "
                f"(one per filter chunk), and at {pace.requests_per_second:g}/s, burst {pace.burst}, a sample can make "
                f"{can} in the {d.sample_budget_seconds:g} s it has; sample less often, or raise the quota "
                "(Service Quotas L-9E54B88B) and set pacing.operations.GetCurrentUserData",
                d.sample_seconds,
            )


@dataclass(frozen=True)
class DeploymentSettings:
    """What synth and the operator's tools work from: the validated file and where it came from."""

    exporter: ConfigFile
    source: str

    @property
    def deployment(self) -> Deployment:
        return self.exporter.deployment

    @property
    def alarms(self) -> tuple[AlarmRule, ...]:
        return self.exporter.deployment.alarms


def load_settings(path: str | Path, region: str | None = None, account: str | None = None) -> DeploymentSettings:
    """The config file and its `deployment` section, validated: `ConfigError` holds every problem, one line
    each, in the order synth meets them. `region` and `account`, where known (synth with an environment), must
    be those of every ARN in the config."""
    config = validate(ConfigFile, read_json(path), str(path))
    if home := home_problems(config, str(path), region, account):
        raise ConfigError(home)
    return DeploymentSettings(config, str(path))


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the config file (`connect-exporter schema`, config/config.schema.json)."""
    schema = ConfigFile.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "connect-user-data-exporter/config.schema.json",
        **schema,
    }


def alarm_count(settings: DeploymentSettings) -> int:
    """The stack's CloudWatch alarms, for the cost plan: the slot rules, one staleness alarm per filter, one
    failed-filters alarm per instance, the function's errors, EMF errors, and the compaction's failed and
    lagging alarms. An infrastructure test holds it to the synthesized template."""
    filters = sum(len(i.filters) for i in settings.exporter.instances)
    return len(settings.alarms) + filters + len(settings.exporter.instances) + 2 + 2
