"""What the simulator's journal says each agent did: exact status intervals and logged-in time.

The truth agent activity (issue 20) is compared with: every status an agent held from its exact start to
the start of the next one (or its logout), statuses shorter than any sampling period included.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from .world import Transition


@dataclass(frozen=True)
class StatusInterval:
    agent_id: str
    status: str
    start: dt.datetime
    end: dt.datetime | None  # None: still in it at `until`


def status_intervals(journal: list[Transition], until: dt.datetime) -> list[StatusInterval]:
    """Each agent's statuses from the journal, in order: a status ends where the next begins or at logout."""
    by_agent: dict[str, list[Transition]] = defaultdict(list)
    for t in journal:
        if t.kind in ("status", "logout") and t.at <= until:
            by_agent[t.agent_id].append(t)
    intervals = []
    for agent_id, events in by_agent.items():
        events.sort(key=lambda t: t.at)  # the journal's order but for the opening state, recorded first
        current: Transition | None = None
        for t in events:
            if current is not None:
                intervals.append(StatusInterval(agent_id, current.value, current.at, t.at))
            current = t if t.kind == "status" else None
        if current is not None:
            intervals.append(StatusInterval(agent_id, current.value, current.at, None))
    return sorted(intervals, key=lambda i: (i.agent_id, i.start))


def seconds_in_status(intervals: list[StatusInterval], since: dt.datetime, until: dt.datetime) -> dict[tuple[str, str], float]:
    """Seconds each (agent, status) held within [since, until)."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for i in intervals:
        start, end = max(i.start, since), min(i.end or until, until)
        if end > start:
            totals[(i.agent_id, i.status)] += (end - start).total_seconds()
    return dict(totals)
