"""What the tests share besides fixtures: the simulator's truth, reading what the exporter wrote, whole-list
conveniences over its streaming pieces. Fixtures live in the conftest files and use these."""

from __future__ import annotations

import functools
import gzip
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from connect_exporter.metrics import FilterSummary, Summarizer
from connect_exporter.sinks import GzipLines
from simulator.scenario import build_instances
from simulator.world import Agent, Instance

REPO = Path(__file__).resolve().parents[1]


def expected_ids(instance: Instance, filt: dict) -> set[str]:
    """Which agents a filter covers, from the world itself (independent of the exporter's code)."""
    states = set(filt.get("contact_states") or [])

    def covered(agent: Agent) -> bool:
        if states and not any(c.state in states for c in agent.contacts):
            return False
        if "queues" in filt:
            return bool(set(filt["queues"]) & set(instance.routing_profiles[agent.routing_profile_id].queue_ids))
        if "routing_profiles" in filt:
            return agent.routing_profile_id in filt["routing_profiles"]
        if "agents" in filt:
            return agent.id in filt["agents"]
        if "user_hierarchy_groups" in filt:
            return bool(set(filt["user_hierarchy_groups"]) & set(agent.hierarchy))
        return True

    return {a.id for a in instance.agents.values() if a.logged_in and covered(a)}


def expected_calls(instance: Instance, filt: dict) -> int:
    """GetCurrentUserData calls a filter needs: its values in chunks of 100 (one hierarchy group a call;
    all agents by routing profile, as ListRoutingProfiles orders them), each chunk one page per 100
    matching agents and at least one."""
    kinds = {"queues": 100, "routing_profiles": 100, "agents": 100, "user_hierarchy_groups": 1}
    key = next((k for k in kinds if k in filt), "routing_profiles")
    values = filt.get(key) or sorted(instance.routing_profiles)
    size = kinds[key]
    calls = 0
    for start in range(0, len(values), size):
        chunk = {key: values[start : start + size], "contact_states": filt.get("contact_states")}
        calls += max(1, -(-len(expected_ids(instance, chunk)) // 100))
    return calls


def read_tree(root: Path) -> dict[str, list[dict]]:
    """Every .json.gz under root, as relative key -> records."""
    return {
        str(p.relative_to(root)): [json.loads(line) for line in gzip.decompress(p.read_bytes()).decode().splitlines()]
        for p in sorted(root.rglob("*.json.gz"))
    }


def emf_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def emf_value(docs: list[dict], name: str, **dims: str) -> float | None:
    """The value of metric `name` in the document whose dimensions are exactly `dims`."""
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        if (
            directive["Dimensions"] == [list(dims)]
            and all(doc.get(k) == v for k, v in dims.items())
            and any(m["Name"] == name for m in directive["Metrics"])
        ):
            return doc[name][0]
    return None


PREFIX = "snapshots"


class Context:
    """The parts of LambdaContext the handler and Powertools read."""

    function_name = "exporter"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exporter"
    aws_request_id = "req-1"

    def __init__(self, budget_seconds: float = 55.0) -> None:
        self.ends = time.monotonic() + budget_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - time.monotonic()) * 1000)


@functools.lru_cache(maxsize=8)
def world(count: int = 1, agents: int = 1500, seed: int = 7, routing_profiles: int = 120, queues: int = 200):
    """Built once per worker and shared read-only (tests that mutate a world build their own)."""
    return tuple(build_instances(count, agents, seed, routing_profiles=routing_profiles, queues=queues))


def summarize(records: Iterable[Mapping[str, Any]]) -> FilterSummary:
    summarizer = Summarizer()
    for record in records:
        summarizer.add(record)
    return summarizer.result()


def encode_records(records: Iterable[Mapping[str, Any]]) -> bytes:
    lines = GzipLines()
    for record in records:
        lines.write(record)
    return lines.finish().read()
