"""Exporter configuration: typed models of one JSON file, validated completely before any API call.

Every problem is one line naming the file, the field path and the value (`validation`), all of them at once,
so a typo is fixed in one go and never reaches Amazon Connect. These are the models the function reads; the
file's `deployment` section is typed by `tools.deployment`, which synth and the CLI use (the function ignores it).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from .validation import ConfigError, Model, Rule, Say, parse_json, validate

# The API's ContactState enum (botocore connect model).
ContactState = Literal[
    "INCOMING", "PENDING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "MISSED", "ERROR", "ENDED", "REJECTED"
]
CONTACT_STATES: tuple[str, ...] = get_args(ContactState)

# Filter kind in the config -> (key in the API's Filters, ARN resource type, values per API call).
FILTER_KINDS: dict[str, tuple[str, str, int]] = {
    "queues": ("Queues", "queue", 100),
    "routing_profiles": ("RoutingProfiles", "routing-profile", 100),
    "agents": ("Agents", "agent", 100),
    "user_hierarchy_groups": ("UserHierarchyGroups", "agent-group", 1),
}
ALL_AGENTS = "all"
# Where the deployed function reads this file: the stack ships it in a layer (no 4 KB environment limit).
DEFAULT_CONFIG_PATH = "/opt/exporter/config.json"

# Names and ids become S3 key segments, partition values, IAM ARNs and metric dimensions:
# keep them to characters that are safe in all four.
FILTER_NAME = r"^[a-z0-9][a-z0-9-]{0,62}$"
FILTER_NAME_RE = re.compile(FILTER_NAME)
INSTANCE_ID = r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$"
RESOURCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
ARN_RE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):instance/(?P<instance>[A-Za-z0-9-]+)"
    r"/(?P<type>[a-z-]+)/(?P<id>[A-Za-z0-9_-]+)"
)

# The Connect operations the exporter calls; each has its own quota per account and Region.
Operation = Literal["GetCurrentUserData", "ListQueues", "ListRoutingProfiles", "ListUserHierarchyGroups", "ListUsers"]
OPERATIONS: tuple[str, ...] = get_args(Operation)

# The API's Channel enum: every one gets a slot datapoint, zeros included, so an alarm sees 0 not "missing".
Channel = Literal["VOICE", "CHAT", "TASK", "EMAIL"]
CHANNELS: tuple[str, ...] = get_args(Channel)

# Seconds between samples within a run (`sampling`): 60 is one a minute; below it, slot metrics are high resolution.
SampleSeconds = Literal[10, 15, 20, 30, 60]
SAMPLE_SECONDS: tuple[int, ...] = get_args(SampleSeconds)
SAMPLE_SECONDS_PROBLEM = f"must be {', '.join(map(str, SAMPLE_SECONDS[:-1]))} or {SAMPLE_SECONDS[-1]}"
# What the handler keeps to write and report (EXPORTER_DEADLINE_RESERVE_SECONDS). A sampling run keeps less: its
# last sample must fit between the minute's last slot and the timeout, and one sample's write is a few hundred KB.
DEADLINE_RESERVE_SECONDS, SAMPLING_RESERVE_SECONDS = 5.0, 3.0

# Metric families a filter can emit; each custom metric costs money every month (see `metrics.filter_documents`).
Family = Literal["slots", "agents", "status", "contacts", "health"]
METRIC_FAMILIES: tuple[str, ...] = get_args(Family)

# What editors check through the JSON Schema, beside the rules these models enforce (ECMA regex: lookahead works).
ID_OR_ARN = r"^(?:[A-Za-z0-9][A-Za-z0-9_-]{0,127}|arn:aws[a-z-]*:connect:[a-z0-9-]+:\d{12}:instance/[A-Za-z0-9-]+/[a-z-]+/[A-Za-z0-9_-]+)$"
UNIQUE = {"uniqueItems": True}

FilterName = Annotated[str, Field(pattern=FILTER_NAME), Say(f"must match {FILTER_NAME}")]
InstanceId = Annotated[str, Field(pattern=INSTANCE_ID), Say("must be an Amazon Connect instance id (letters, digits, -)")]
Families = Annotated[tuple[Family, ...], Field(strict=False, json_schema_extra=UNIQUE)]  # JSON arrays read as tuples
ResourceIds = Annotated[
    tuple[str, ...],
    Field(strict=False, min_length=1, json_schema_extra={**UNIQUE, "items": {"type": "string", "pattern": ID_OR_ARN}}),
    Say("must be a string id or ARN"),
]


def unique(items: tuple[Any, ...], key: Any = None) -> tuple[Any, ...]:
    """`items`, or `Rule` at the first repeat (`key`: what makes two items the same)."""
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        k = key(item) if key else item
        if k in seen:
            raise Rule((i,), "is a duplicate" if key is None else f"repeats item {seen[k]}", item)
        seen[k] = i
    return items


def unique_field(items: tuple[Any, ...], field: str) -> None:
    """`Rule` at `[i].field` of the first item whose `field` repeats an earlier one's."""
    try:
        unique(tuple(getattr(item, field) for item in items))
    except Rule as rule:
        raise Rule((*rule.at, field), rule.problem, rule.value) from None


class FilterConfig(Model):
    """One named filter of an instance: which agents a snapshot covers. At most one of the four kinds."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {"anyOf": [{"required": [a, b]} for n, a in enumerate(FILTER_KINDS) for b in list(FILTER_KINDS)[n + 1 :]]}
        }
    )

    name: FilterName
    queues: ResourceIds | None = None
    routing_profiles: ResourceIds | None = None
    agents: ResourceIds | None = None
    user_hierarchy_groups: ResourceIds | None = None
    contact_states: Annotated[tuple[ContactState, ...], Field(strict=False, min_length=1, json_schema_extra=UNIQUE)] = ()
    metrics: Families | None = Field(None, description="Metric families of this filter; default: the config's metrics.families")

    @field_validator("contact_states", "metrics")
    @classmethod
    def _unique(cls, items: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return items if items is None else unique(items)

    @field_validator(*FILTER_KINDS)
    @classmethod
    def _ids(cls, items: tuple[str, ...] | None, info: Any) -> tuple[str, ...] | None:
        if items is None:
            return None
        arn_type = FILTER_KINDS[info.field_name][1]
        for i, item in enumerate(items):
            arn = ARN_RE.fullmatch(item)
            if arn and arn["type"] != arn_type:
                raise Rule((i,), f"is a {arn['type']} ARN; {info.field_name} takes {arn_type} ARNs", item)
            if not arn and not RESOURCE_ID_RE.fullmatch(item):
                raise Rule((i,), f"must be a {arn_type} id or ARN", item)
        return unique(items, key=resource_id)

    @model_validator(mode="after")
    def _one_kind(self) -> FilterConfig:
        kinds = [k for k in FILTER_KINDS if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise Rule((), f"filter {self.name!r} sets {' and '.join(kinds)}; the API takes at most one of them")
        return self

    @property
    def kind(self) -> str:
        """ "all", or the key of FILTER_KINDS this filter sets."""
        return next((k for k in FILTER_KINDS if getattr(self, k) is not None), ALL_AGENTS)

    @property
    def values(self) -> tuple[str, ...]:
        return getattr(self, self.kind) if self.kind != ALL_AGENTS else ()


class InstanceConfig(Model):
    instance_id: InstanceId
    filters: Annotated[tuple[FilterConfig, ...], Field(strict=False, min_length=1)]

    @model_validator(mode="after")
    def _filters_of_this_instance(self) -> InstanceConfig:
        for i, filt in enumerate(self.filters):
            for j, value in enumerate(filt.values):
                arn = ARN_RE.fullmatch(value)
                if arn and arn["instance"] != self.instance_id:
                    raise Rule(
                        ("filters", i, filt.kind, j), f"belongs to instance {arn['instance']}, not {self.instance_id}", value
                    )
        return self

    @field_validator("filters", mode="after")
    @classmethod
    def _unique_names(cls, filters: tuple[FilterConfig, ...]) -> tuple[FilterConfig, ...]:
        unique_field(filters, "name")
        return filters


class Pace(Model):
    requests_per_second: Annotated[float, Field(ge=0.01, le=1000)]
    burst: Annotated[int, Field(ge=1, le=1000)]


class OperationPace(Model):
    """One operation's own quota; an unset value is the config's default pace."""

    requests_per_second: Annotated[float, Field(ge=0.01, le=1000)] | None = None
    burst: Annotated[int, Field(ge=1, le=1000)] | None = None


class Operations(Model):
    GetCurrentUserData: OperationPace | None = None
    ListQueues: OperationPace | None = None
    ListRoutingProfiles: OperationPace | None = None
    ListUserHierarchyGroups: OperationPace | None = None
    ListUsers: OperationPace | None = None


class PacingConfig(Model):
    """Client-side pace per Connect operation: the account's quotas, shared by every caller. The top-level
    rate and burst apply to every operation not named in `operations` (a raised GetCurrentUserData quota
    must not drive the List APIs past theirs)."""

    requests_per_second: Annotated[float, Field(ge=0.01, le=1000)] = 2.0
    burst: Annotated[int, Field(ge=1, le=1000)] = 5
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 8
    operations: Operations = Operations()

    def pace(self, operation: str) -> Pace:
        own = getattr(self.operations, operation, None) or OperationPace()
        return Pace(requests_per_second=own.requests_per_second or self.requests_per_second, burst=own.burst or self.burst)


class MetricsConfig(Model):
    namespace: Annotated[
        str,
        Field(pattern=r"^[A-Za-z0-9.\-_/#:]{1,255}$", json_schema_extra={"pattern": r"^(?!AWS/)[A-Za-z0-9.\-_/#:]{1,255}$"}),
        Say("must be 1-255 of A-Z a-z 0-9 . - _ / # : and not start with AWS/"),
    ] = "ConnectUserData"
    per_agent: bool = False
    families: Families = METRIC_FAMILIES  # type: ignore[assignment]  # the Literal's own values

    @field_validator("namespace")
    @classmethod
    def _not_aws(cls, namespace: str) -> str:
        if namespace.startswith("AWS/"):  # CloudWatch reserves it for AWS services
            raise Rule((), "must be 1-255 of A-Z a-z 0-9 . - _ / # : and not start with AWS/", namespace)
        return namespace

    @field_validator("families")
    @classmethod
    def _unique(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        return unique(items)


class NamesConfig(Model):
    # A warm Lambda re-reads every List API once per TTL; below a minute it would spend the account's shared
    # List quotas on names that do not change that fast.
    ttl_seconds: Annotated[int, Field(ge=60, le=86400)] = 900


class ExporterConfig(Model):
    """The exporter's config file, as the function reads it."""

    schema_: str | None = Field(None, alias="$schema", description="The JSON Schema editors check this file with")
    instances: Annotated[tuple[InstanceConfig, ...], Field(strict=False, min_length=1)]
    pacing: PacingConfig = PacingConfig()
    metrics: MetricsConfig = MetricsConfig()
    names: NamesConfig = NamesConfig()
    # The CDK stack's settings (`tools.deployment` types them); the function ignores them.
    deployment: dict[str, Any] = {}

    @field_validator("instances", mode="after")
    @classmethod
    def _one_account(cls, instances: tuple[InstanceConfig, ...]) -> tuple[InstanceConfig, ...]:
        unique_field(instances, "instance_id")
        home: tuple[tuple[str, str, str], tuple[str | int, ...]] | None = None
        for i, instance in enumerate(instances):
            for j, filt in enumerate(instance.filters):
                for k, value in enumerate(filt.values):
                    arn = ARN_RE.fullmatch(value)
                    if arn is None:
                        continue
                    here = (i, "filters", j, filt.kind, k)
                    where = (arn["partition"], arn["region"], arn["account"])
                    if home is None:
                        home = (where, here)
                    elif where != home[0]:
                        first = "instances" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in home[1])
                        raise Rule(
                            here,
                            f"is in {_where(where)}, but {first} is in {_where(home[0])}: "
                            "the exporter reads one account and Region",
                            value,
                        )
        return instances

    @property
    def names_ttl_seconds(self) -> int:
        return self.names.ttl_seconds

    def families(self, filt: FilterConfig) -> frozenset[str]:
        """The metric families `filt` emits: its own `metrics`, else the config's."""
        return frozenset(self.metrics.families if filt.metrics is None else filt.metrics)


def load_config(path: str | Path) -> ExporterConfig:
    """Read and validate a config file: `ConfigError` holds every problem, one line each."""
    return validate(ExporterConfig, read_json(path), str(path))


def read_json(path: str | Path) -> Any:
    """The JSON document in a file, or `ConfigError` in one line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    return parse_json(text, str(path))


def parse_config(text: str, source: str = "config") -> ExporterConfig:
    """Parse and validate config JSON text; `source` names it in errors."""
    return validate(ExporterConfig, parse_json(text, source), source)


def validate_config(raw: Any, source: str = "config") -> ExporterConfig:
    """Validate an already-parsed config document."""
    return validate(ExporterConfig, raw, source)


def partition_of(region: str) -> str:
    """The AWS partition of a Region name."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def home_problems(config: ExporterConfig, source: str, region: str | None, account: str | None) -> list[str]:
    """One line for each ARN in the config outside the deployment's partition, Region or account (those known:
    synth with an environment, the function at run time). The exporter calls Connect in its own Region with
    its own credentials: an ARN elsewhere names agents it can never read."""
    problems = []
    for i, instance in enumerate(config.instances):
        for j, filt in enumerate(instance.filters):
            for k, value in enumerate(filt.values):
                arn = ARN_RE.fullmatch(value)
                if arn is None:
                    continue
                wrong = [
                    f"{what} {arn[what]} (the deployment's is {ours})"
                    for what, ours in (
                        ("partition", partition_of(region) if region else None),
                        ("region", region),
                        ("account", account),
                    )
                    if ours and arn[what] != ours
                ]
                if wrong:
                    problems.append(
                        f"{source}: instances[{i}].filters[{j}].{filt.kind}[{k}]: is in " + ", ".join(wrong) + f" (got {value!r})"
                    )
    return problems


def _where(home: tuple[str, str, str]) -> str:
    return f"partition {home[0]}, Region {home[1]}, account {home[2]}"


def resource_id(id_or_arn: str) -> str:
    """The bare id of an id or ARN (the ARN's last path segment)."""
    return id_or_arn.rsplit("/", 1)[-1]
