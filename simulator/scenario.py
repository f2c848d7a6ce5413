"""Ready-made worlds and exporter configs that reference them: used by the demo, tests and benchmarks."""

from __future__ import annotations

from typing import Any

from .world import Instance, build_instance


def build_instances(count: int = 1, agents: int = 1500, seed: int = 7, **kwargs: Any) -> list[Instance]:
    return [build_instance(seed=seed, index=i, agents=agents, **kwargs) for i in range(count)]


def five_filters(instance: Instance) -> list[dict[str, Any]]:
    """One filter of each kind: all agents, 150 queues (chunks overlap in agents), 120 routing profiles
    with contact states, 120 agents, 2 hierarchy groups."""
    standard = sorted(q.id for q in instance.queues.values() if q.kind == "STANDARD")
    profiles = sorted(instance.routing_profiles)
    agents = sorted(instance.agents)
    by_name = {g.name: g.id for g in instance.groups.values()}
    return [
        {"name": "all-agents"},
        {"name": "support", "queues": standard[:150]},
        {"name": "busy-voice", "routing_profiles": profiles[:120], "contact_states": ["CONNECTED", "CONNECTED_ONHOLD"]},
        {"name": "vip", "agents": agents[:120]},
        # A region and one of its sites: the site's agents come back in both chunks.
        {"name": "emea", "user_hierarchy_groups": [by_name["emea"], by_name["emea-site-0"]]},
    ]


def exporter_config(instances: list[Instance], **extra: Any) -> dict[str, Any]:
    return {"instances": [{"instance_id": i.id, "filters": five_filters(i)} for i in instances], **extra}
