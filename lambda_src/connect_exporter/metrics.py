"""Pure aggregation of records into CloudWatch Embedded Metric Format documents.

Dimension sets are exact, because alarms match them exactly: Powertools' provider serialises each
document, with its `service` dimension turned off (POWERTOOLS_SERVICE_NAME would otherwise add one).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from .config import CHANNELS, METRIC_FAMILIES

UNKNOWN = "UNKNOWN"
MAX_DIMENSION_VALUE = 1024  # CloudWatch's limit


def dimension_value(value: Any) -> str:
    """A value CloudWatch accepts as a dimension. Powertools silently drops a blank one, which would fold
    the datapoint into the document's other dimension set (a blank channel into the filter's totals)."""
    text = "" if value is None else str(value)
    return text[:MAX_DIMENSION_VALUE] if text.strip() else UNKNOWN


@dataclass(frozen=True)
class FilterSummary:
    agents: int
    available: dict[str, int]
    max: dict[str, int]
    active: dict[str, int]
    by_status: dict[str, int]
    contacts_by_state: dict[str, int]


@dataclass(frozen=True)
class FilterHealth:
    failed: bool
    api_calls: int = 0
    throttles: int = 0
    short_of_total: int = 0
    already_written: bool = False  # an earlier run wrote this minute; this run's data was not kept
    malformed_fields: int = 0  # values that could not be read, written as null


@dataclass(frozen=True)
class InstanceHealth:
    failed_filters: int
    api_calls: int
    throttles: int
    duration_seconds: float
    already_written_filters: int = 0
    name_lookups_failed: int = 0  # List operations that failed this run: their names are null


class Summarizer:
    """Sums slots per channel (every known channel, plus any new one the API returns) and counts states,
    a record at a time, so a filter's summary needs none of its records kept."""

    def __init__(self) -> None:
        self._sums = {kind: Counter({channel: 0 for channel in CHANNELS}) for kind in ("available", "max", "active")}
        self._by_status: Counter[str] = Counter()
        self._contacts: Counter[str] = Counter()
        self._agents = 0

    def add(self, record: Mapping[str, Any]) -> None:
        self._agents += 1
        for kind, sums in self._sums.items():
            for channel, value in (record.get(f"{kind}_slots") or {}).items():
                sums[dimension_value(channel)] += value
        self._by_status[dimension_value(record.get("status_name"))] += 1
        for contact in record.get("contacts") or []:
            self._contacts[dimension_value(contact.get("agent_contact_state"))] += 1

    def result(self) -> FilterSummary:
        return FilterSummary(
            agents=self._agents,
            available=dict(self._sums["available"]),
            max=dict(self._sums["max"]),
            active=dict(self._sums["active"]),
            by_status=dict(self._by_status),
            contacts_by_state=dict(self._contacts),
        )


# Each metric's family (config.METRIC_FAMILIES), "instance" for the per-instance health, "agent" for per-agent.
METRIC_FAMILY: dict[str, str] = {
    "AvailableSlots": "slots",
    "MaxSlots": "slots",
    "ActiveSlots": "slots",
    "Agents": "agents",
    "AgentsByStatus": "status",
    "Contacts": "contacts",
    "FilterFailed": "health",
    "ApiCalls": "health",
    "Throttles": "health",
    "AgentsShortOfTotal": "health",
    "AlreadyWritten": "health",
    "MalformedFields": "health",
    "AgentAvailableSlots": "agent",
    "AgentActiveSlots": "agent",
}


def metric_keys(docs: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """Distinct (namespace, metric, dimension values) in EMF documents: what CloudWatch bills as custom metrics."""
    keys = set()
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                values = tuple((d, str(doc[d])) for d in dims)
                for metric in directive["Metrics"]:
                    keys.add((directive["Namespace"], metric["Name"], values))
    return keys


# EMF's StorageResolution, seconds (EMF specification: 1 or 60). An alarm may evaluate a 10-30 s period only over
# a metric stored at 1 (PutMetricAlarm, Period); both cost the same per custom metric.
HIGH_RESOLUTION, STANDARD_RESOLUTION = 1, 60


def document(
    namespace: str,
    at: dt.datetime,
    dimensions: Mapping[str, str],
    values: Mapping[str, float],
    resolution: int = STANDARD_RESOLUTION,
) -> dict:
    """One EMF document: these dimensions exactly, these metrics (unit Count unless named *Seconds), stored at
    `resolution` (1: high resolution, which alarms with a 10-, 20- or 30-second period need)."""
    provider = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
    for dimension, dimension_text in dimensions.items():
        provider.add_dimension(name=dimension, value=dimension_text)
    for metric, number in values.items():
        unit = "Seconds" if metric.endswith("Seconds") else "Count"
        provider.add_metric(name=metric, unit=unit, value=number, resolution=resolution)
    provider.set_timestamp(at)
    return dict(provider.serialize_metric_set())


def filter_documents(
    namespace: str,
    at: dt.datetime,
    instance_id: str,
    filter_name: str,
    summary: FilterSummary | None,
    health: FilterHealth,
    families: AbstractSet[str] = frozenset(METRIC_FAMILIES),
    slot_resolution: int = STANDARD_RESOLUTION,
) -> list[dict]:
    """One filter's metrics, family by family (`config.METRIC_FAMILIES`): slots per channel (12 metrics),
    agents (1), agents per status and contacts per state (one per value seen), health (4). `FilterFailed` is
    always emitted: it is the datapoint the staleness alarm counts, and costs one metric. Only the slot family
    takes `slot_resolution`: it is what the slot alarms read; the rest stay standard, so dashboards and the
    staleness alarm read them as before.
    A failed or already-written filter emits only its health: no made-up zeros where data is missing,
    and no second datapoint for a minute whose snapshot an earlier run wrote."""
    base = {"InstanceId": instance_id, "Filter": filter_name}
    health_values: dict[str, float] = {"FilterFailed": int(health.failed)}
    if "health" in families:
        health_values.update(ApiCalls=health.api_calls, Throttles=health.throttles, AgentsShortOfTotal=health.short_of_total)
        if health.already_written:  # only when it happens: an always-zero series would be one more billed metric
            health_values["AlreadyWritten"] = 1
        if health.malformed_fields:
            health_values["MalformedFields"] = health.malformed_fields
    if summary is not None and "agents" in families:
        health_values["Agents"] = summary.agents
    docs = [document(namespace, at, base, health_values)]
    if summary is None:
        return docs
    if "slots" in families:
        for channel in sorted(summary.max.keys() | summary.available.keys() | summary.active.keys()):
            docs.append(
                document(
                    namespace,
                    at,
                    {**base, "Channel": channel},
                    {
                        "AvailableSlots": summary.available.get(channel, 0),
                        "MaxSlots": summary.max.get(channel, 0),
                        "ActiveSlots": summary.active.get(channel, 0),
                    },
                    slot_resolution,
                )
            )
    if "status" in families:
        for status, count in sorted(summary.by_status.items()):
            docs.append(document(namespace, at, {**base, "Status": status}, {"AgentsByStatus": count}))
    if "contacts" in families:
        for state, count in sorted(summary.contacts_by_state.items()):
            docs.append(document(namespace, at, {**base, "ContactState": state}, {"Contacts": count}))
    return docs


def agent_documents(
    namespace: str, at: dt.datetime, instance_id: str, filter_name: str, records: Iterable[Mapping[str, Any]]
) -> list[dict]:
    """Per-agent slots (opt-in: each agent x channel is a billed custom metric). The agent is its user id, never
    its username: dimensions are visible to anyone who may list metrics, and a username is personal data."""
    docs = []
    for record in records:
        agent = dimension_value(record.get("user_id"))
        for channel, available in sorted((record.get("available_slots") or {}).items()):
            docs.append(
                document(
                    namespace,
                    at,
                    {"InstanceId": instance_id, "Filter": filter_name, "Agent": agent, "Channel": dimension_value(channel)},
                    {"AgentAvailableSlots": available, "AgentActiveSlots": (record.get("active_slots") or {}).get(channel, 0)},
                )
            )
    return docs


def instance_document(namespace: str, at: dt.datetime, instance_id: str, health: InstanceHealth) -> dict:
    """The exporter's own health for one instance: what the health alarm watches."""
    values: dict[str, float] = {
        "FailedFilters": health.failed_filters,
        "AlreadyWrittenFilters": health.already_written_filters,
        "ApiCalls": health.api_calls,
        "Throttles": health.throttles,
        "SnapshotDurationSeconds": round(health.duration_seconds, 3),
    }
    if health.name_lookups_failed:  # only when it happens, like AlreadyWritten
        values["NameLookupsFailed"] = health.name_lookups_failed
    return document(namespace, at, {"InstanceId": instance_id}, values)


def refused_run_document(namespace: str, at: dt.datetime, instance_id: str, filters: int) -> dict:
    """A run refused before it began (an event with no usable time, a time in the future): every filter of the
    instance failed, so the failed-filters alarm sees it, and RunsRefused says why they did."""
    return document(namespace, at, {"InstanceId": instance_id}, {"FailedFilters": filters, "RunsRefused": 1})


def late_run_document(namespace: str, at: dt.datetime, instance_id: str) -> dict:
    """A run that began after the next scheduled run should have: it wrote nothing for its old minute."""
    return document(namespace, at, {"InstanceId": instance_id}, {"LateRunsSkipped": 1})
