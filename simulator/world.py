"""A deterministic contact center: agents, routing profiles, queues, hierarchy groups, statuses, contacts.

Everything derives from a seed, so a test can compare the exporter's output with the simulator's truth.
`Instance.advance(to)` moves the center forward in fixed ticks: agents log in and out, change status,
set a next status, and take contacts on every channel through their states. The state at a time is a
pure function of the seed and that time, however the caller stepped to it. `Instance.start_journal()`
records every transition from then on (`Transition`), the truth time-in-status is tested against.
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


@dataclass(frozen=True)
class Transition:
    """One change the simulator made, at the instant it made it: the truth agent activity is tested against.
    `kind` is "status" (`value` the status entered), "logout", or "contact" (`value` the state entered, or
    "GONE" when the contact leaves the agent)."""

    at: dt.datetime
    agent_id: str
    kind: str
    value: str
    contact_id: str | None = None
    channel: str | None = None


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
    clock: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC))
    motion: random.Random = field(default_factory=random.Random)
    # Every transition from `start_journal` on; None (the default) keeps none, so a benchmark's world stays small.
    journal: list[Transition] | None = None

    def start_journal(self) -> list[Transition]:
        """Record every transition from now on, beginning with the state each logged-in agent is in (its status
        and contacts since their exact start times). Recording draws nothing from the seed: the world moves the same."""
        self.journal = []
        for agent in self.agents.values():
            if agent.logged_in:
                self.journal.append(Transition(agent.status_start, agent.id, "status", agent.status))
                for c in agent.contacts:
                    self.journal.append(Transition(c.state_start, agent.id, "contact", c.state, c.contact_id, c.channel))
        return self.journal

    def note(self, at: dt.datetime, agent_id: str, kind: str, value: str, contact: Contact | None = None) -> None:
        """Record one transition, if a journal is kept (nothing is built otherwise: the world's hot loop)."""
        if self.journal is not None:
            ids = (contact.contact_id, contact.channel) if contact else (None, None)
            self.journal.append(Transition(at, agent_id, kind, value, *ids))

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

    def advance(self, to: dt.datetime) -> None:
        """Move every agent forward, one `TICK` at a time, up to `to` (never backwards)."""
        while self.clock + TICK <= to:
            self.clock += TICK
            for agent in self.agents.values():  # insertion order: fixed by the seed
                _step(self, agent, self.clock, self.motion)


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
    epoch = epoch or dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
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
        agent_queues.append(Named(uid, "", "", "AGENT"))  # Connect's agent queue: the agent's id, no name
    queue_map = {q.id: q for q in standard}
    for q in agent_queues:
        q.arn = f"{base}/queue/agent/{q.id}"
        queue_map[q.id] = q
    return Instance(iid, agent_map, profiles, queue_map, groups, statuses, epoch, random.Random(f"{seed}/{index}/motion"))


def _contacts(rng: random.Random, agent: Agent, profile: RoutingProfile, epoch: dt.datetime) -> list[Contact]:
    contacts: list[Contact] = []
    if rng.random() < 0.45:
        return contacts
    for channel in CHANNELS:
        for _ in range(rng.randint(0, profile.concurrency[channel])):
            state = rng.choice(CONTACT_STATES)
            start = epoch - dt.timedelta(seconds=rng.randint(1, 1800), milliseconds=rng.randint(0, 999))
            connected = (
                start - dt.timedelta(seconds=rng.randint(0, 60)) if state in {"CONNECTED", "CONNECTED_ONHOLD", "ENDED"} else None
            )
            contact_id, method = _uuid(rng), rng.choice(INITIATION_METHODS)
            contacts.append(Contact(contact_id, channel, method, state, start, connected, _queue(agent, method, profile, rng)))
    return contacts


def _queue(agent: Agent, method: str, profile: RoutingProfile, rng: random.Random) -> str:
    """A contact transferred to an agent sits in that agent's own queue (its id is the agent's); others in
    one of the routing profile's standard queues."""
    queue_id = rng.choice(profile.queue_ids)
    return agent.id if method == "TRANSFER" else queue_id


# --- motion ----------------------------------------------------------------------------------
TICK = dt.timedelta(seconds=10)
# Per-tick probabilities, tuned so an hour shows every transition on a few hundred agents.
P_LOGOUT, P_LOGIN = 0.01, 0.01
P_AWAY, P_BACK, P_NEXT_STATUS = 0.003, 0.02, 0.003
P_ARRIVAL = {"VOICE": 0.05, "CHAT": 0.05, "TASK": 0.03, "EMAIL": 0.02}
RINGING = ("INCOMING", "PENDING", "CONNECTING")
DONE = ("MISSED", "REJECTED", "ERROR")  # shown for one tick, then gone; they hold no slot


def _stamp(now: dt.datetime, rng: random.Random) -> dt.datetime:
    """A time inside the tick that just ended, with milliseconds, as Connect's timestamps have."""
    return now - dt.timedelta(milliseconds=rng.randint(0, int(TICK.total_seconds() * 1000) - 1))


def _set_status(instance: Instance, agent: Agent, status: str, when: dt.datetime) -> None:
    # A second change in one tick (a pending next status, then back to Available) draws its own time in the
    # tick, which may fall before the first: it starts after the first instead, so statuses follow each other.
    if agent.logged_in and when <= agent.status_start:
        when = min(instance.clock, agent.status_start + dt.timedelta(milliseconds=1))
    agent.status, agent.status_start = status, when
    instance.note(when, agent.id, "status", status)


def _contact_moved(instance: Instance, agent: Agent, contact: Contact, gone: bool = False) -> None:
    """Note a contact's new state, from its start time; `gone`: it left the agent, at the tick."""
    when, state = (instance.clock, "GONE") if gone else (contact.state_start, contact.state)
    instance.note(when, agent.id, "contact", state, contact)


def _step(instance: Instance, agent: Agent, now: dt.datetime, rng: random.Random) -> None:
    """One tick of one agent: contacts move first, then presence and status."""
    if not agent.logged_in:
        if rng.random() < P_LOGIN:
            agent.logged_in, agent.next_status = True, None
            _set_status(instance, agent, ROUTABLE, _stamp(now, rng))
        return
    kept = []
    for contact in agent.contacts:
        before = (contact.state, contact.state_start)
        if _step_contact(contact, now, rng):
            kept.append(contact)
            if (contact.state, contact.state_start) != before:
                _contact_moved(instance, agent, contact)
        else:
            _contact_moved(instance, agent, contact, gone=True)
    agent.contacts = kept
    if not agent.contacts and agent.next_status:
        _set_status(instance, agent, agent.next_status, _stamp(now, rng))
        agent.next_status = None
    if agent.status == ROUTABLE:
        if agent.contacts:
            if not agent.next_status and rng.random() < P_NEXT_STATUS:
                agent.next_status = rng.choice(("Break", "Lunch"))
        elif rng.random() < P_LOGOUT:
            agent.logged_in, agent.next_status = False, None
            instance.note(now, agent.id, "logout", agent.status)  # at the tick: Connect stops listing the agent
            return
        elif rng.random() < P_AWAY:
            _set_status(instance, agent, rng.choice(STATUSES[1:]), _stamp(now, rng))
            return
        if not agent.next_status:  # a pending next status stops new contacts, so the agent can leave
            _offer_contacts(instance, agent, now, rng)
    elif rng.random() < P_BACK:
        _set_status(instance, agent, ROUTABLE, _stamp(now, rng))


def _step_contact(contact: Contact, now: dt.datetime, rng: random.Random) -> bool:
    """Move one contact on; False when it has left the agent."""
    roll = rng.random()
    if contact.state in DONE:
        return False
    if contact.state in RINGING:
        if roll < 0.7:
            contact.state, contact.connected_at = "CONNECTED", _stamp(now, rng)
            contact.state_start = contact.connected_at
        elif roll < 0.75:
            contact.state, contact.state_start = ("MISSED" if contact.channel == "VOICE" else "REJECTED"), _stamp(now, rng)
    elif contact.state == "CONNECTED":
        if roll < 0.06:
            contact.state, contact.state_start = "ENDED", _stamp(now, rng)
        elif roll < 0.11 and contact.channel == "VOICE":
            contact.state, contact.state_start = "CONNECTED_ONHOLD", _stamp(now, rng)
    elif contact.state == "CONNECTED_ONHOLD":
        if roll < 0.3:
            contact.state, contact.state_start = "CONNECTED", _stamp(now, rng)
    elif contact.state == "ENDED" and roll < 0.2:  # after-contact work done
        return False
    return True


def _offer_contacts(instance: Instance, agent: Agent, now: dt.datetime, rng: random.Random) -> None:
    profile = instance.routing_profiles[agent.routing_profile_id]
    _, _, active = instance.slots(agent)
    for channel in CHANNELS:
        if active[channel] < profile.concurrency[channel] and rng.random() < P_ARRIVAL[channel]:
            agent.contacts.append(
                Contact(
                    _uuid(rng),
                    channel,
                    method := rng.choice(INITIATION_METHODS),
                    "INCOMING" if channel == "VOICE" else "CONNECTING",
                    _stamp(now, rng),
                    None,
                    _queue(agent, method, profile, rng),
                )
            )
            _contact_moved(instance, agent, agent.contacts[-1])
