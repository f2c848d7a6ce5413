"""Helpers for integration tests: the simulator's truth, and reading what the exporter wrote."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.world import Agent, Instance

REPO = Path(__file__).resolve().parents[2]


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
        if directive["Dimensions"] == [list(dims)] and all(doc.get(k) == v for k, v in dims.items()):
            if any(m["Name"] == name for m in directive["Metrics"]):
                return doc[name][0]
    return None


@pytest.fixture
def run_cli():
    """Run the CLI as a user would: a subprocess, env pointing boto3 at the fakes."""

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
        return subprocess.run(
            [sys.executable, "-m", "connect_exporter", *args], env=env, capture_output=True, text=True, timeout=300
        )

    return run
