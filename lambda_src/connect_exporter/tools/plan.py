"""`connect-exporter plan`: one snapshot of the user's own instances, measured, turned into what they need
before a deploy: does it fit the schedule at their quota, how many custom metrics it creates, what a month costs.

Pure functions over a `SnapshotReport` and the EMF it emitted; `cli` runs the snapshot and prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import ALL_AGENTS, ExporterConfig, PacingConfig
from ..metrics import METRIC_FAMILY, metric_keys
from ..snapshot import SnapshotReport
from .costs import PRICE_NOTES, Usage, monthly_cost
from .deployment import DeploymentSettings, alarm_count

METRICS_WARNING_SHARE = 0.5  # custom metrics above half the bill are worth a look


@dataclass(frozen=True)
class FilterPlan:
    name: str
    agents: int
    calls: int
    seconds: float
    share_of_schedule: float
    custom_metrics: int
    families: list[str]
    error: str | None = None


@dataclass(frozen=True)
class InstancePlan:
    instance_id: str
    filters: list[FilterPlan]
    custom_metrics: int  # the instance's own health metrics


@dataclass(frozen=True)
class Plan:
    schedule_seconds: float
    budget_seconds: float  # what one sample has to page: the Lambda timeout less the reserve, or its slot
    snapshot_seconds: float
    paced_floor_seconds: float  # the least any exporter could take at the configured pace
    headroom_seconds: float
    share_of_schedule: float
    api_calls: dict[str, int]
    custom_metrics: int
    custom_metrics_by_family: dict[str, int]
    monthly_cost_usd: dict[str, float]
    prices: dict[str, float]
    instances: list[InstancePlan]
    sample_seconds: int = 60
    samples_per_run: int = 1
    sample_calls_allowed: int = 0  # GetCurrentUserData calls a sample can make at the configured pace
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def paced_seconds(calls: Mapping[str, int], pacing: PacingConfig) -> float:
    """Each operation has its own bucket and they run side by side: the slowest one sets the pace."""
    return max((max(0, n - pacing.pace(op).burst) / pacing.pace(op).requests_per_second for op, n in calls.items()), default=0.0)


def make_plan(
    settings: DeploymentSettings, report: SnapshotReport, emf: Iterable[Mapping[str, Any]], prices: Mapping[str, float]
) -> Plan:
    config = settings.exporter
    keys = metric_keys(emf)
    by_family = Counter(METRIC_FAMILY[metric] if any(d == "Filter" for d, _ in dims) else "instance" for _, metric, dims in keys)
    d = settings.deployment
    schedule = d.schedule_minutes * 60.0
    budget = d.sample_budget_seconds  # per sample: a sample of a sampling run has its slot, or less for the last
    samples = d.samples_per_run
    calls = dict(sorted(report.api_stats.calls.items()))
    instances = []
    for instance in config.instances:
        outcomes = {o.filter_name: o for o in report.outcomes if o.instance_id == instance.instance_id}
        filters = []
        for filt in instance.filters:
            o = outcomes[filt.name]
            mine = sum(1 for _, _, dims in keys if ("InstanceId", instance.instance_id) in dims and ("Filter", filt.name) in dims)
            filters.append(
                FilterPlan(
                    filt.name,
                    o.records,
                    o.stats.total_calls,
                    round(o.seconds, 2),
                    round(o.seconds / schedule, 3),
                    mine,
                    sorted(config.families(filt)),
                    o.error,
                )
            )
        own = sum(1 for _, _, dims in keys if dims == (("InstanceId", instance.instance_id),))
        instances.append(InstancePlan(instance.instance_id, filters, own))
    slot_alarms = len(settings.alarms) if d.sampling else 0
    usage = Usage(
        # A sampling run is billed from its first sample to the end of its last, waits included.
        seconds=(samples - 1) * d.sample_seconds + report.duration_seconds,
        objects=samples * sum(1 for o in report.outcomes if o.ok),
        bytes=samples * sum(o.bytes_written for o in report.outcomes),
        custom_metrics=len(keys),
        emf_bytes=samples * report.emf_bytes,
        filters=samples * len(report.outcomes),
        memory_mb=settings.deployment.memory_mb,
        schedule_minutes=settings.deployment.schedule_minutes,
        snapshot_retention_days=settings.deployment.snapshot_retention_days,
        history_retention_days=settings.deployment.history_retention_days,
        history_reconcile_days=settings.deployment.history_reconcile_days,
        alarms=alarm_count(settings) - slot_alarms,
        high_resolution_alarms=slot_alarms,
    )
    cost = {k: round(v, 2) for k, v in monthly_cost(usage, prices).items()}
    plan = Plan(
        schedule_seconds=schedule,
        budget_seconds=budget,
        snapshot_seconds=round(report.duration_seconds, 2),
        paced_floor_seconds=round(paced_seconds(calls, config.pacing), 2),
        headroom_seconds=round(budget - report.duration_seconds, 2),
        share_of_schedule=round(report.duration_seconds / schedule, 3),
        api_calls=calls,
        custom_metrics=len(keys),
        custom_metrics_by_family=dict(by_family.most_common()),
        monthly_cost_usd=cost,
        prices=dict(prices),
        instances=instances,
        sample_seconds=d.sample_seconds,
        samples_per_run=samples,
        sample_calls_allowed=settings.exporter.calls_a_sample_can_make() if d.sampling else 0,
    )
    plan.warnings.extend(_warnings(plan, config))
    return plan


def _warnings(plan: Plan, config: ExporterConfig) -> list[str]:
    warnings = []
    if plan.headroom_seconds < 0:
        rereads = [
            f"{i.instance_id}/{f.name}"
            for i in config.instances
            if any(f.kind == ALL_AGENTS for f in i.filters)
            for f in i.filters
            if f.kind != ALL_AGENTS
        ]
        has = f"a sample has (every {plan.sample_seconds} s)" if plan.samples_per_run > 1 else "a run has"
        warnings.append(
            f"does not fit: a snapshot takes {plan.snapshot_seconds:.1f} s of the {plan.budget_seconds:.0f} s {has}. "
            "Raise the GetCurrentUserData quota (Service Quotas L-9E54B88B) and set pacing.operations.GetCurrentUserData, "
            + (
                "or sample less often (deployment.sample_seconds)"
                if plan.samples_per_run > 1
                else "or lengthen deployment.schedule"
            )
            + (
                f", or drop filters that re-read agents the all-agents filter already reads: {', '.join(rereads)}"
                if rereads
                else ""
            )
        )
    elif plan.headroom_seconds < 0.2 * plan.budget_seconds:
        warnings.append(
            f"little headroom: {plan.headroom_seconds:.1f} s left of {plan.budget_seconds:.0f} s; "
            "more agents or a slower API will not fit"
        )
    calls = plan.api_calls.get("GetCurrentUserData", 0)
    if plan.samples_per_run > 1 and calls > plan.sample_calls_allowed:
        warnings.append(
            f"does not fit the quota: a sample makes {calls} GetCurrentUserData calls and the pace allows "
            f"{plan.sample_calls_allowed} a sample every {plan.sample_seconds} s; samples would fall behind one another"
        )
    metrics_cost = plan.monthly_cost_usd["custom_metrics"]
    if metrics_cost > METRICS_WARNING_SHARE * plan.monthly_cost_usd["total"]:
        top = ", ".join(f"{family} {n}" for family, n in plan.custom_metrics_by_family.items())
        warnings.append(
            f"custom metrics are ${metrics_cost:.2f} of ${plan.monthly_cost_usd['total']:.2f} a month ({plan.custom_metrics}: {top}). "
            'A filter that only alarms on slots needs "metrics": ["slots"] (13 metrics); metrics.families sets the default'
        )
    return warnings


def format_plan(plan: Plan) -> str:
    """The plan as a person reads it."""
    out = [
        f"Snapshot: {plan.snapshot_seconds:.1f} s of a {plan.schedule_seconds:.0f} s schedule "
        f"({plan.share_of_schedule:.0%}); a run has {plan.budget_seconds:.0f} s, headroom {plan.headroom_seconds:.1f} s "
        f"(paced floor {plan.paced_floor_seconds:.1f} s)"
        if plan.samples_per_run == 1
        else f"Sample: {plan.snapshot_seconds:.1f} s, every {plan.sample_seconds} s ({plan.samples_per_run} a run); "
        f"a sample has {plan.budget_seconds:.0f} s, headroom {plan.headroom_seconds:.1f} s (paced floor "
        f"{plan.paced_floor_seconds:.1f} s); GetCurrentUserData {plan.api_calls.get('GetCurrentUserData', 0)} calls "
        f"a sample of the {plan.sample_calls_allowed} the quota allows",
        "API calls: " + ", ".join(f"{op} {n}" for op, n in plan.api_calls.items()),
        "",
        f"{'instance / filter':<48} {'agents':>7} {'calls':>6} {'seconds':>8} {'share':>6} {'metrics':>8}  families",
    ]
    for inst in plan.instances:
        for f in inst.filters:
            label = f"{inst.instance_id[:36]} / {f.name}"
            line = (
                f"{label:<48} {f.agents:>7,} {f.calls:>6} {f.seconds:>8.1f} {f.share_of_schedule:>6.0%} {f.custom_metrics:>8}  "
                f"{', '.join(f.families) or '-'}"
            )
            out.append(line + (f"  FAILED {f.error}" if f.error else ""))
        out.append(
            f"{inst.instance_id[:36] + ' / (instance)':<48} {'':>7} {'':>6} {'':>8} {'':>6} {inst.custom_metrics:>8}  instance health"
        )
    out += [
        "",
        f"Custom metrics: {plan.custom_metrics} ("
        + ", ".join(f"{k} {v}" for k, v in plan.custom_metrics_by_family.items())
        + ")",
        "Monthly cost (USD): "
        + ", ".join(f"{k} {v:,.2f}" for k, v in plan.monthly_cost_usd.items() if k != "total")
        + f"; total {plan.monthly_cost_usd['total']:,.2f}",
        "Prices (USD; --prices FILE overrides any of them by name):",
        *(f"  {k:<28} {v:>12g}  {PRICE_NOTES[k]}" for k, v in plan.prices.items()),
    ]
    out += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(out)
