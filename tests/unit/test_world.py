"""The simulator's moving contact center: deterministic, and never in a state Connect could not report."""

from __future__ import annotations

import datetime as dt

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
