"""Exporter configuration: one JSON file, validated completely before any API call.

Every problem raises `ConfigError` with one line naming the file, the field path and the value,
so a typo is fixed in one go and never reaches Amazon Connect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Set as AbstractSet
from typing import Any

# The API's ContactState enum (botocore connect model).
CONTACT_STATES: tuple[str, ...] = (
    "INCOMING",
    "PENDING",
    "CONNECTING",
    "CONNECTED",
    "CONNECTED_ONHOLD",
    "MISSED",
    "ERROR",
    "ENDED",
    "REJECTED",
)

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
FILTER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
INSTANCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
RESOURCE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
ARN_RE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):connect:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):instance/(?P<instance>[A-Za-z0-9-]+)"
    r"/(?P<type>[a-z-]+)/(?P<id>[A-Za-z0-9_-]+)"
)
SIMPLE_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAMESPACE_RE = re.compile(r"^(?!AWS/)[A-Za-z0-9.\-_/#:]{1,255}$")


# A warm Lambda re-reads every List API once per TTL; below a minute it would spend the account's shared
# List quotas on names that do not change that fast.
MIN_NAMES_TTL_SECONDS, DEFAULT_NAMES_TTL_SECONDS = 60, 900


class ConfigError(ValueError):
    """A configuration problem, described in one line."""


@dataclass(frozen=True)
class FilterConfig:
    """One named filter of an instance: which agents a snapshot covers."""

    name: str
    kind: str = ALL_AGENTS  # "all" or a key of FILTER_KINDS
    values: tuple[str, ...] = ()
    contact_states: tuple[str, ...] = ()
    metrics: tuple[str, ...] | None = None  # metric families; None: the config's `metrics.families`


@dataclass(frozen=True)
class InstanceConfig:
    instance_id: str
    filters: tuple[FilterConfig, ...]


# The Connect operations the exporter calls; each has its own quota per account and Region.
OPERATIONS: tuple[str, ...] = ("GetCurrentUserData", "ListQueues", "ListRoutingProfiles", "ListUserHierarchyGroups", "ListUsers")


@dataclass(frozen=True)
class Pace:
    requests_per_second: float
    burst: int


@dataclass(frozen=True)
class PacingConfig:
    """Client-side pace per Connect operation: the account's quotas, shared by every caller. The top-level
    rate and burst apply to every operation not named in `operations` (a raised GetCurrentUserData quota
    must not drive the List APIs past theirs)."""

    requests_per_second: float = 2.0
    burst: int = 5
    max_attempts: int = 8
    operations: Mapping[str, Pace] = field(default_factory=dict)

    def pace(self, operation: str) -> Pace:
        return self.operations.get(operation) or Pace(self.requests_per_second, self.burst)


# Metric families a filter can emit; each custom metric costs money every month (see `metrics.filter_documents`).
METRIC_FAMILIES: tuple[str, ...] = ("slots", "agents", "status", "contacts", "health")


@dataclass(frozen=True)
class MetricsConfig:
    namespace: str = "ConnectUserData"
    per_agent: bool = False
    families: tuple[str, ...] = METRIC_FAMILIES


@dataclass(frozen=True)
class ExporterConfig:
    instances: tuple[InstanceConfig, ...]
    pacing: PacingConfig = PacingConfig()
    metrics: MetricsConfig = MetricsConfig()
    names_ttl_seconds: int = DEFAULT_NAMES_TTL_SECONDS
    # Deployment settings for the CDK stack; the exporter ignores them, `deployment` validates them.
    deployment: dict[str, Any] = field(default_factory=dict)

    def families(self, filt: FilterConfig) -> frozenset[str]:
        """The metric families `filt` emits: its own `metrics`, else the config's."""
        return frozenset(self.metrics.families if filt.metrics is None else filt.metrics)


def load_config(path: str | Path, problems: list[str] | None = None) -> ExporterConfig:
    """Read and validate a config file (`problems`: see `validate_config`)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    return parse_config(text, source=str(path), problems=problems)


def parse_config(text: str, source: str = "config", problems: list[str] | None = None) -> ExporterConfig:
    """Parse and validate config JSON text; `source` names it in errors. Text that is not JSON always raises."""
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{source}: duplicate key {exc.args[0]!r}") from None
    except RecursionError:
        raise ConfigError(f"{source}: JSON nested too deeply to be a config") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise ConfigError(f"{source}: not a usable JSON document: {' '.join(str(exc).split())[:120]}") from None
    return validate_config(raw, source=source, problems=problems)


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; a config must not.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def validate_config(raw: Any, source: str = "config", problems: list[str] | None = None) -> ExporterConfig:
    """Validate an already-parsed config document. Without `problems`, the first problem raises; with a list,
    each instance and section is checked on its own, every problem is appended (one line each) and what
    passed is returned, so a user fixes them all in one go."""
    v = Validator(source, problems)
    top = v.object(raw, "", required={"instances"}, optional={"pacing", "metrics", "names", "deployment"}, strict=problems is None)
    instances: list[InstanceConfig] = []
    with v.section():
        instances_raw = v.array(top["instances"], "instances", min_len=1) if "instances" in top else []
        for i, item in enumerate(instances_raw):
            with v.section():
                instances.append(v.instance(item, f"instances[{i}]"))
    with v.section():
        v.unique([inst.instance_id for inst in instances], "instances[{i}].instance_id")

    pacing = PacingConfig()
    with v.section():
        pacing = _pacing(v, top["pacing"]) if "pacing" in top else pacing
    metrics = MetricsConfig()
    with v.section():
        metrics = _metrics(v, top["metrics"]) if "metrics" in top else metrics
    ttl = DEFAULT_NAMES_TTL_SECONDS
    with v.section():
        if "names" in top:
            n = v.object(top["names"], "names", optional={"ttl_seconds"})
            ttl = v.integer(n.get("ttl_seconds", ttl), "names.ttl_seconds", MIN_NAMES_TTL_SECONDS, 86400)
    deployment = top.get("deployment", {})
    with v.section():
        if not isinstance(deployment, dict):
            deployment = {}
            v.fail("deployment", "must be an object", top.get("deployment"))
    return ExporterConfig(tuple(instances), pacing, metrics, ttl, deployment)


def _pacing(v: Validator, raw: Any) -> PacingConfig:
    p = v.object(raw, "pacing", optional={"requests_per_second", "burst", "max_attempts", "operations"})
    rate = v.number(p.get("requests_per_second", 2.0), "pacing.requests_per_second", 0.01, 1000)
    burst = v.integer(p.get("burst", 5), "pacing.burst", 1, 1000)
    operations: dict[str, Pace] = {}
    for name, raw_pace in v.object(p.get("operations", {}), "pacing.operations", optional=set(OPERATIONS)).items():
        path = _join("pacing.operations", name)
        o = v.object(raw_pace, path, optional={"requests_per_second", "burst"})
        operations[name] = Pace(
            v.number(o.get("requests_per_second", rate), f"{path}.requests_per_second", 0.01, 1000),
            v.integer(o.get("burst", burst), f"{path}.burst", 1, 1000),
        )
    return PacingConfig(
        requests_per_second=rate,
        burst=burst,
        max_attempts=v.integer(p.get("max_attempts", 8), "pacing.max_attempts", 1, 20),
        operations=operations,
    )


def _metrics(v: Validator, raw: Any) -> MetricsConfig:
    m = v.object(raw, "metrics", optional={"namespace", "per_agent", "families"})
    namespace = m.get("namespace", MetricsConfig.namespace)
    if not isinstance(namespace, str) or not NAMESPACE_RE.fullmatch(namespace):
        v.fail("metrics.namespace", "must be 1-255 of A-Z a-z 0-9 . - _ / # : and not start with AWS/", namespace)
    per_agent = m.get("per_agent", False)
    if not isinstance(per_agent, bool):
        v.fail("metrics.per_agent", "must be true or false", per_agent)
    families = v.families(m["families"], "metrics.families") if "families" in m else METRIC_FAMILIES
    return MetricsConfig(namespace=namespace, per_agent=per_agent, families=families)


class Validator:
    """Small helpers that turn every rule into one line naming source, path and value. Given a `problems`
    list, `section()` records a section's problem there and goes on with the next section."""

    def __init__(self, source: str, problems: list[str] | None = None) -> None:
        self.source = source
        self.problems = problems
        self._arn_home: tuple[tuple[str, str, str], str] | None = None  # (partition, region, account), first path

    @contextmanager
    def section(self) -> Iterator[None]:
        if self.problems is None:
            yield
            return
        try:
            yield
        except ConfigError as exc:
            self.problems.append(str(exc))

    def fail(self, path: str, problem: str, value: Any = ...) -> None:
        where = f"{self.source}: {path}" if path else self.source
        got = "" if value is ... else f" (got {_show(value)})"
        raise ConfigError(f"{where}: {problem}{got}")

    def object(self, raw: Any, path: str, required: AbstractSet[str] = frozenset(), optional: AbstractSet[str] = frozenset(),
               strict: bool = True) -> dict:
        """`raw` as a JSON object with these keys. `strict=False` records unknown and missing keys as problems
        and goes on (the object itself must still be one)."""
        if not isinstance(raw, dict):
            self.fail(path, "must be a JSON object", raw)
        for key in raw:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | optional))
                with self.section() if not strict else nullcontext():
                    self.fail(_join(path, key), f"unknown key; allowed keys: {allowed}")
        for key in sorted(required):
            if key not in raw:
                with self.section() if not strict else nullcontext():
                    self.fail(_join(path, key), "is required")
        return raw

    def array(self, raw: Any, path: str, min_len: int = 0) -> list:
        if not isinstance(raw, list):
            self.fail(path, "must be a JSON array", raw)
        if len(raw) < min_len:
            self.fail(path, f"must hold at least {min_len} item(s)")
        return raw

    def integer(self, raw: Any, path: str, low: int, high: int) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            self.fail(path, f"must be a whole number from {low} to {high}", raw)
        return raw

    def number(self, raw: Any, path: str, low: float, high: float) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not low <= raw <= high:
            self.fail(path, f"must be a number from {low} to {high}", raw)
        return float(raw)

    def unique(self, values: list[str], item_path: str) -> None:
        """Fail on the first repeated value, at `item_path` with `{i}` replaced by its index."""
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value in seen:
                self.fail(item_path.format(i=i), "is a duplicate", value)
            seen.add(value)

    def instance(self, raw: Any, path: str) -> InstanceConfig:
        obj = self.object(raw, path, required={"instance_id", "filters"})
        instance_id = obj["instance_id"]
        if not isinstance(instance_id, str) or not INSTANCE_ID_RE.fullmatch(instance_id):
            self.fail(f"{path}.instance_id", "must be an Amazon Connect instance id (letters, digits, -)", instance_id)
        filters_raw = self.array(obj["filters"], f"{path}.filters", min_len=1)
        filters: list[FilterConfig] = []
        for i, item in enumerate(filters_raw):
            with self.section():  # collecting: a bad filter is reported and its neighbours still checked
                filters.append(self.filter(item, f"{path}.filters[{i}]", instance_id))
        self.unique([f.name for f in filters], f"{path}.filters[{{i}}].name")
        return InstanceConfig(instance_id, tuple(filters))

    def filter(self, raw: Any, path: str, instance_id: str) -> FilterConfig:
        obj = self.object(raw, path, required={"name"}, optional={*FILTER_KINDS, "contact_states", "metrics"})
        name = obj["name"]
        if not isinstance(name, str) or not FILTER_NAME_RE.fullmatch(name):
            self.fail(f"{path}.name", "must match ^[a-z0-9][a-z0-9-]{0,62}$", name)
        kinds = [k for k in FILTER_KINDS if k in obj]
        if len(kinds) > 1:
            self.fail(path, f"filter {name!r} sets {' and '.join(kinds)}; the API takes at most one of them")
        kind = ALL_AGENTS
        values: tuple[str, ...] = ()
        if kinds:
            kind = kinds[0]
            values = self.resource_ids(obj[kind], f"{path}.{kind}", kind, instance_id)
        states: tuple[str, ...] = ()
        if "contact_states" in obj:
            raw_states = self.array(obj["contact_states"], f"{path}.contact_states", min_len=1)
            for i, state in enumerate(raw_states):
                if state not in CONTACT_STATES:
                    self.fail(f"{path}.contact_states[{i}]", f"must be one of {', '.join(CONTACT_STATES)}", state)
            self.unique(raw_states, f"{path}.contact_states[{{i}}]")
            states = tuple(raw_states)
        families = self.families(obj["metrics"], f"{path}.metrics") if "metrics" in obj else None
        return FilterConfig(name=name, kind=kind, values=values, contact_states=states, metrics=families)

    def families(self, raw: Any, path: str) -> tuple[str, ...]:
        items = self.array(raw, path)
        for i, item in enumerate(items):
            if item not in METRIC_FAMILIES:
                self.fail(f"{path}[{i}]", f"must be one of {', '.join(METRIC_FAMILIES)}", item)
        self.unique(items, f"{path}[{{i}}]")
        return tuple(items)

    def resource_ids(self, raw: Any, path: str, kind: str, instance_id: str) -> tuple[str, ...]:
        items = self.array(raw, path, min_len=1)
        arn_type = FILTER_KINDS[kind][1]
        for i, item in enumerate(items):
            item_path = f"{path}[{i}]"
            if not isinstance(item, str):
                self.fail(item_path, "must be a string id or ARN", item)
            arn = ARN_RE.fullmatch(item)
            if arn:
                if arn["type"] != arn_type:
                    self.fail(item_path, f"is a {arn['type']} ARN; {kind} takes {arn_type} ARNs", item)
                if arn["instance"] != instance_id:
                    self.fail(item_path, f"belongs to instance {arn['instance']}, not {instance_id}", item)
                home = (arn["partition"], arn["region"], arn["account"])
                if self._arn_home is None:
                    self._arn_home = (home, item_path)
                elif home != self._arn_home[0]:
                    self.fail(item_path, f"is in {_where(home)}, but {self._arn_home[1]} is in {_where(self._arn_home[0])}: "
                              "the exporter reads one account and Region", item)
            elif not RESOURCE_ID_RE.fullmatch(item):
                self.fail(item_path, f"must be a {arn_type} id or ARN", item)
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            key = resource_id(item)
            if key in seen:
                self.fail(f"{path}[{i}]", f"repeats {path}[{seen[key]}]", item)
            seen[key] = i
        return tuple(items)


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
                wrong = [f"{what} {arn[what]} (the deployment's is {ours})"
                         for what, ours in (("partition", partition_of(region) if region else None), ("region", region), ("account", account))
                         if ours and arn[what] != ours]
                if wrong:
                    problems.append(f"{source}: instances[{i}].filters[{j}].{filt.kind}[{k}]: is in " + ", ".join(wrong) + f" (got {value!r})")
    return problems


def _where(home: tuple[str, str, str]) -> str:
    return f"partition {home[0]}, Region {home[1]}, account {home[2]}"


def resource_id(id_or_arn: str) -> str:
    """The bare id of an id or ARN (the ARN's last path segment)."""
    return id_or_arn.rsplit("/", 1)[-1]


def _join(path: str, key: str) -> str:
    if not SIMPLE_KEY_RE.fullmatch(key):  # a key with dots, brackets or spaces is quoted, so the path stays readable
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
