"""The simulator's moving contact center: deterministic, and never in a state Connect could not report."""

from __future__ import annotations

import datetime as dt

from simulator.truth import seconds_in_status, status_intervals
from simulator.world import ACTIVE_STATES, CHANNELS, STATUSES, build_instance

EPOCH = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def state(instance):
    return [
        (a.logged_in, a.status, a.status_start, a.next_status, [(c.contact_id, c.state, c.state_start) for c in a.contacts])
        for a in instance.agents.values()
    ]


def test_the_state_at_a_time_depends_on_the_seed_and_the_time_not_the_steps():
    one, other = (build_instance(seed=3, agents=80, routing_profiles=8, queues=10, epoch=EPOCH) for _ in range(2))
    one.advance(EPOCH + dt.timedelta(minutes=20))
    for minute in range(1, 21):
        other.advance(EPOCH + dt.timedelta(minutes=minute, seconds=7))
    assert state(one) == state(other)
    assert state(one) != state(build_instance(seed=4, agents=80, routing_profiles=8, queues=10, epoch=EPOCH))


def test_every_agent_stays_within_its_slots_and_statuses():
    inst = build_instance(seed=5, agents=200, routing_profiles=10, queues=20, epoch=EPOCH)
    for minute in range(1, 31):
        now = EPOCH + dt.timedelta(minutes=minute)
        inst.advance(now)
        for agent in inst.agents.values():
            available, maximum, active = inst.slots(agent)
            assert agent.status in STATUSES and agent.status_start <= now
            assert all(0 <= active[ch] <= maximum[ch] and 0 <= available[ch] <= maximum[ch] - active[ch] for ch in CHANNELS)
            assert all(c.state_start <= now for c in agent.contacts)
            if not agent.logged_in:
                assert not any(c.state in ACTIVE_STATES for c in agent.contacts)


def test_the_journal_changes_nothing_and_ends_where_each_agent_is():
    """Recording draws nothing from the seed; the last status each agent entered is the one it shows."""
    plain, journaled = (build_instance(seed=6, agents=120, routing_profiles=8, queues=10, epoch=EPOCH) for _ in range(2))
    journal = journaled.start_journal()
    until = EPOCH + dt.timedelta(hours=2)
    plain.advance(until)
    journaled.advance(until)
    assert state(plain) == state(journaled)
    current = {i.agent_id: i for i in status_intervals(journal, until) if i.end is None}
    for agent in journaled.agents.values():
        if agent.logged_in:
            assert (current[agent.id].status, current[agent.id].start) == (agent.status, agent.status_start)
        else:
            assert agent.id not in current


def test_the_journal_holds_statuses_shorter_than_a_minute_and_logouts():
    inst = build_instance(seed=6, agents=300, routing_profiles=8, queues=10, epoch=EPOCH)
    journal = inst.start_journal()
    until = EPOCH + dt.timedelta(hours=3)
    inst.advance(until)
    intervals = status_intervals(journal, until)
    ended = [i for i in intervals if i.end is not None]
    assert any((i.end - i.start) < dt.timedelta(minutes=1) for i in ended)  # shorter than a one-minute schedule
    assert any((i.end - i.start) > dt.timedelta(minutes=5) for i in ended)
    assert any(t.kind == "logout" for t in journal)
    for agent_id in {i.agent_id for i in intervals}:  # an agent's intervals never overlap
        mine = [i for i in intervals if i.agent_id == agent_id]
        assert all(a.end is not None and a.end <= b.start for a, b in zip(mine, mine[1:], strict=False))
    totals = seconds_in_status(intervals, EPOCH, until)
    assert sum(totals.values()) <= 300 * 3 * 3600 and min(totals.values()) > 0


def test_an_agents_statuses_follow_each_other_in_time():
    """Before: a pending next status and the way back to Available in one tick could draw times in the wrong
    order, so the status an agent showed had started before the one it replaced."""
    inst = build_instance(seed=11, agents=120, routing_profiles=6, queues=10, epoch=EPOCH)
    journal = inst.start_journal()
    inst.advance(EPOCH + dt.timedelta(hours=2))
    last: dict[str, dt.datetime] = {}
    for t in journal:
        if t.kind == "status":
            assert t.at >= last.get(t.agent_id, t.at), t
            last[t.agent_id] = t.at
