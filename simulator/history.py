"""A span of snapshots of a moving contact center, one a minute or `sample_seconds` apart, exported in-process
at simulator speed.

The Athena-answer and history tests' input, and a local lake for trying the history tier (`python -m
simulator history`, then `python -m local_athena compact` and `query`). The quota is lifted: this is
about the data, not the pace.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3

from connect_exporter.clients import CONNECT_CONFIG
from connect_exporter.config import validate_config
from connect_exporter.connect import ConnectApi
from connect_exporter.directory import Directory
from connect_exporter.observability import logger
from connect_exporter.sampling import slot_resolution
from connect_exporter.sinks import LocalSink
from connect_exporter.snapshot import SnapshotReport, run_snapshot

from .server import ConnectSimulator
from .world import Instance, build_instance

Emit = Callable[[Iterable[dict[str, Any]]], int]


def export_history(
    instance: Instance,
    filters: list[dict[str, Any]],
    start: dt.datetime,
    minutes: int,
    root: Path,
    emit: Emit,
    on_minute: Callable[[dt.datetime], None] = lambda at: None,
    sample_seconds: int = 60,
) -> list[SnapshotReport]:
    """Advance the instance to each sample from `start` (each minute, or every `sample_seconds` below one), call
    `on_minute` with its time, then export that sample's snapshot."""
    config = validate_config(
        {
            "instances": [{"instance_id": instance.id, "filters": filters}],
            "pacing": {"requests_per_second": 1000, "burst": 100},
        }
    )
    sim = ConnectSimulator([instance], rate=1000, burst=1000)
    client = boto3.client(
        "connect",
        endpoint_url=sim.serve(),
        config=CONNECT_CONFIG,
        region_name="us-east-1",
        aws_access_key_id="simulator",
        aws_secret_access_key="simulator",
    )
    api, directory, sink = ConnectApi(client, config.pacing), Directory(config.names_ttl_seconds), LocalSink(root)
    reports = []
    try:
        step = dt.timedelta(seconds=min(60, sample_seconds))
        for sample in range(minutes * 60 // int(step.total_seconds())):
            at = start + sample * step
            instance.advance(at)
            on_minute(at)
            reports.append(
                run_snapshot(
                    config,
                    at,
                    api,
                    directory,
                    sink,
                    emit=emit,
                    slot_resolution=slot_resolution(sample_seconds),
                    period_seconds=int(step.total_seconds()),
                )
            )
    finally:
        sim.stop()
    return reports


def history_filters(instance: Instance) -> list[dict[str, Any]]:
    """One filter of each kind, sized for a few hundred agents."""
    queues = sorted(q.id for q in instance.queues.values() if q.kind == "STANDARD")
    groups = {g.name: g.id for g in instance.groups.values()}
    return [
        {"name": "all-agents"},
        {"name": "support", "queues": queues[:20]},
        {
            "name": "on-a-call",
            "routing_profiles": sorted(instance.routing_profiles),
            "contact_states": ["CONNECTED", "CONNECTED_ONHOLD"],
        },
        {"name": "emea", "user_hierarchy_groups": [groups["emea"], groups["amer-site-1"]]},
        {"name": "team-leads", "agents": sorted(instance.agents)[:50]},
    ]


def run_history(out: str, minutes: int = 60, agents: int = 300, seed: int = 7, sample_seconds: int = 60) -> int:
    """`python -m simulator history`: the last `minutes` minutes of a moving center under out/snapshots."""
    logger.setLevel("WARNING")  # a line per filter per minute would bury the summary
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    start = end - dt.timedelta(minutes=minutes - 1)
    instance = build_instance(seed=seed, agents=agents, routing_profiles=30, queues=40, epoch=start)
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "emf.jsonl").open("w") as emf:

        def emit(documents: Iterable[dict[str, Any]]) -> int:
            lines = "".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents)
            emf.write(lines)
            return len(lines)

        reports = export_history(
            instance, history_filters(instance), start, minutes, out_dir / "snapshots", emit, sample_seconds=sample_seconds
        )
    records = sum(o.records for r in reports for o in r.outcomes)
    failed = sum(len(r.failures) for r in reports)
    print(
        f"{len(reports)} snapshots ({start:%H:%M}-{end:%H:%M} UTC) of {agents} agents moving: {records} records under "
        f"{out_dir / 'snapshots'}, EMF in {out_dir / 'emf.jsonl'}; {failed} failed filters",
        file=sys.stderr,
    )
    return 1 if failed else 0
