"""A deterministic contact center: agents, routing profiles, queues, hierarchy groups, statuses, contacts.

Everything derives from a seed, so a test can compare the exporter's output with the simulator's truth.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

ACCOUNT = "123456789012"
REGION = "us-east-1"
CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")
CONTACT_STATES = (
    "INCOMING", "PENDING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "MISSED", "ERROR", "ENDED", "REJECTED",
)
# States in which a contact holds a slot (ENDED = after-contact work).
ACTIVE_STATES = frozenset({"INCOMING", "PENDING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "ENDED"})
INITIATION_METHODS = ("INBOUND", "OUTBOUND", "TRANSFER", "QUEUE_TRANSFER", "CALLBACK", "API")
STATUSES = ("Available", "Break", "Lunch", "Training", "Meeting")
ROUTABLE = "Available"


@dataclass
class Contact:
    contact_id: str
    channel: str
    initiation_method: str
    state: str
    state_start: dt.datetime
    connected_at: dt.datetime | None
    queue_id: str


@dataclass
class Agent:
    id: str
    arn: str
    username: str
    routing_profile_id: str
    hierarchy: list[str]  # group ids, level one first
    status: str
    status_start: dt.datetime
    next_status: str | None
    contacts: list[Contact] = field(default_factory=list)
    logged_in: bool = True


@dataclass
class RoutingProfile:
    id: str
    arn: str
    name: str
    queue_ids: list[str]
    concurrency: dict[str, int]


@dataclass
class Named:
    id: str
    arn: str
    name: str
    kind: str = ""  # queue type, or hierarchy level


@dataclass
class Instance:
    id: str
    agents: dict[str, Agent]
    routing_profiles: dict[str, RoutingProfile]
    queues: dict[str, Named]
    groups: dict[str, Named]
    statuses: dict[str, Named]

    @property
    def arn(self) -> str:
        return f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{self.id}"

    def slots(self, agent: Agent) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(available, max, active) by channel, every channel present."""
        maximum = dict(self.routing_profiles[agent.routing_profile_id].concurrency)
        active = {ch: 0 for ch in CHANNELS}
        for contact in agent.contacts:
            if contact.state in ACTIVE_STATES:
                active[contact.channel] += 1
        routable = agent.status == ROUTABLE
        available = {ch: max(0, maximum[ch] - active[ch]) if routable else 0 for ch in CHANNELS}
        return available, maximum, active


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_instance(
    seed: int = 7,
    index: int = 0,
    agents: int = 1500,
    routing_profiles: int = 120,
    queues: int = 200,
    epoch: dt.datetime | None = None,
) -> Instance:
    """One instance, a pure function of its arguments."""
    rng = random.Random(f"{seed}/{index}")
    epoch = epoch or dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.timezone.utc)
    iid = _uuid(rng)
    base = f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/{iid}"

    def named(kind: str, name: str, extra: str = "") -> Named:
        rid = _uuid(rng)
        return Named(rid, f"{base}/{kind}/{rid}", name, extra)

    statuses = {s: named("agent-state", s) for s in STATUSES}
    standard = [named("queue", f"queue-{i:03d}", "STANDARD") for i in range(queues)]
    groups: dict[str, Named] = {}
    leaves: list[list[str]] = []
    for region in ("emea", "amer"):
        top = named("agent-group", region, "1")
        groups[top.id] = top
        leaves.append([top.id])
        for site in range(3):
            mid = named("agent-group", f"{region}-site-{site}", "2")
            groups[mid.id] = mid
            leaves.append([top.id, mid.id])
            for team in range(3):
                low = named("agent-group", f"{region}-site-{site}-team-{team}", "3")
                groups[low.id] = low
                leaves.append([top.id, mid.id, low.id])
    profiles = {}
    for i in range(routing_profiles):
        rid = _uuid(rng)
        concurrency = {"VOICE": 1, "CHAT": rng.choice((0, 1, 2, 3)), "TASK": rng.choice((0, 1, 2)), "EMAIL": rng.choice((0, 1))}
        queue_ids = [q.id for q in rng.sample(standard, k=min(len(standard), rng.randint(1, 8)))]
        profiles[rid] = RoutingProfile(rid, f"{base}/routing-profile/{rid}", f"profile-{i:03d}", queue_ids, concurrency)
    profile_ids = list(profiles)
    agent_map: dict[str, Agent] = {}
    agent_queues: list[Named] = []
    for i in range(agents):
        uid = _uuid(rng)
        # The first agents cover every routing profile, so each has at least one agent.
        profile = profiles[profile_ids[i] if i < len(profile_ids) else rng.choice(profile_ids)]
        status = rng.choices(STATUSES, weights=(60, 15, 10, 10, 5))[0]
        agent = Agent(
            id=uid,
            arn=f"{base}/agent/{uid}",
            username=f"agent{i:05d}",
            routing_profile_id=profile.id,
            hierarchy=list(rng.choice(leaves)) if rng.random() < 0.9 else [],
            status=status,
            status_start=epoch - dt.timedelta(seconds=rng.randint(5, 4 * 3600), milliseconds=rng.randint(0, 999)),
            next_status=rng.choice(("Break", "Lunch")) if rng.random() < 0.05 else None,
        )
        agent.contacts = _contacts(rng, agent, profile, epoch)
        agent_map[uid] = agent
        agent_queues.append(Named(_uuid(rng), "", f"agent-queue-{agent.username}", "AGENT"))
    queue_map = {q.id: q for q in standard}
    for q in agent_queues:
        q.arn = f"{base}/queue/{q.id}"
        queue_map[q.id] = q
    return Instance(iid, agent_map, profiles, queue_map, groups, statuses)


def _contacts(rng: random.Random, agent: Agent, profile: RoutingProfile, epoch: dt.datetime) -> list[Contact]:
    contacts = []
    if rng.random() < 0.45:
        return contacts
    for channel in CHANNELS:
        for _ in range(rng.randint(0, profile.concurrency[channel])):
            state = rng.choice(CONTACT_STATES)
            start = epoch - dt.timedelta(seconds=rng.randint(1, 1800), milliseconds=rng.randint(0, 999))
            connected = start - dt.timedelta(seconds=rng.randint(0, 60)) if state in {"CONNECTED", "CONNECTED_ONHOLD", "ENDED"} else None
            contacts.append(
                Contact(_uuid(rng), channel, rng.choice(INITIATION_METHODS), state, start, connected, rng.choice(profile.queue_ids))
            )
    return contacts
