"""Agent activity as pictures (`python -m local_athena pictures`, run by `make activity`): a timeline of a few
agents' statuses, and an occupancy heat map per routing profile and interval, from a compacted local lake.

Both read the tables the compaction keeps (`agent_status_intervals`, `agent_activity`), through the same
Trino-dialect SQL the rest of the lake runs; matplotlib draws them off-screen (the Agg backend).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from connect_exporter.config import CHANNELS
from lake_sql.activity import ACTIVITY, INTERVALS
from lake_sql.history import ref

from .engine import run_query
from .lake import Lake, LakeError

STATUS_COLORS = {"Available": "#2ca02c", "Break": "#ff7f0e", "Lunch": "#d62728", "Training": "#9467bd"}
OTHER_COLOR, UNOBSERVED_COLOR = "#7f7f7f", "#d0d0d0"


def _busiest_agents(con: Any, count: int) -> list[str]:
    """The agents with the most status occurrences: the ones whose timeline shows something."""
    rows = run_query(
        con,
        f"SELECT user_id, count(*) AS n FROM {ref(INTERVALS)} GROUP BY user_id ORDER BY n DESC, user_id LIMIT {count}",
    )
    return [r["user_id"] for r in rows]


def timeline(con: Any, path: Path, agents: int = 8) -> int:
    """Each of the busiest agents' status intervals as bars (unobserved gaps grey); the number of bars drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    chosen = _busiest_agents(con, agents)
    if not chosen:
        raise LakeError("agent_status_intervals is empty: run `python -m local_athena compact` first")
    names = ", ".join(f"'{a}'" for a in chosen)
    rows = run_query(
        con,
        f"""SELECT user_id, username, status_name, start_time, coalesce(end_time, last_seen) AS end_time, unobserved_seconds,
               first_seen
        FROM {ref(INTERVALS)} WHERE user_id IN ({names}) ORDER BY username, start_time""",
    )
    # From the first snapshot on: a status that began hours before it would fill the picture with one bar.
    observed = min(r["first_seen"] for r in rows)
    labels = sorted({r["username"] or r["user_id"][:8] for r in rows})
    figure, axes = plt.subplots(figsize=(12, 0.5 * len(labels) + 1.5))
    bars = 0
    for r in rows:
        y = labels.index(r["username"] or r["user_id"][:8])
        start, end = r["start_time"], r["end_time"]
        color = STATUS_COLORS.get(r["status_name"], OTHER_COLOR)
        axes.barh(y, mdates.date2num(end) - mdates.date2num(start), left=mdates.date2num(start), color=color, height=0.6)
        bars += 1
        if r["unobserved_seconds"]:
            gap = dt.timedelta(seconds=r["unobserved_seconds"])
            axes.barh(
                y,
                mdates.date2num(end + gap) - mdates.date2num(end),
                left=mdates.date2num(end),
                color=UNOBSERVED_COLOR,
                height=0.6,
            )
    axes.set_yticks(range(len(labels)), labels)
    last = max(r["end_time"] + dt.timedelta(seconds=r["unobserved_seconds"] or 0) for r in rows)
    axes.set_xlim(mdates.date2num(observed - dt.timedelta(minutes=5)), mdates.date2num(last + dt.timedelta(minutes=5)))
    axes.xaxis_date()
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (*STATUS_COLORS.values(), OTHER_COLOR, UNOBSERVED_COLOR)]
    axes.legend(handles, [*STATUS_COLORS, "other", "unobserved"], loc="upper left", bbox_to_anchor=(1, 1))
    axes.set_title("Agent status intervals (agent_status_intervals), UTC")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return bars


def occupancy(con: Any, path: Path) -> int:
    """Active over max slot-seconds, all channels, per routing profile (rows) and interval (columns); cells drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    active = " + ".join(f"{c.lower()}_active_slot_seconds" for c in CHANNELS)
    most = " + ".join(f"{c.lower()}_max_slot_seconds" for c in CHANNELS)
    rows = run_query(
        con,
        f"""SELECT routing_profile_name, interval_start, sum({active}) / nullif(sum({most}), 0) AS occupancy
        FROM {ref(ACTIVITY)} GROUP BY routing_profile_name, interval_start
        HAVING sum({most}) > 0  -- intervals a snapshot saw (statuses begun earlier reach back before them)
        ORDER BY routing_profile_name, interval_start""",
    )
    if not rows:
        raise LakeError("agent_activity is empty: run `python -m local_athena compact` first")
    profiles = sorted({r["routing_profile_name"] or "(none)" for r in rows})
    times = sorted({r["interval_start"] for r in rows})
    grid = [[float("nan")] * len(times) for _ in profiles]
    for r in rows:
        if r["occupancy"] is not None:
            grid[profiles.index(r["routing_profile_name"] or "(none)")][times.index(r["interval_start"])] = r["occupancy"]
    figure, axes = plt.subplots(figsize=(max(6, 0.35 * len(times) + 3), 0.4 * len(profiles) + 1.8))
    image = axes.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    axes.set_yticks(range(len(profiles)), profiles)
    step = max(1, len(times) // 12)
    axes.set_xticks(range(0, len(times), step), [f"{t:%H:%M}" for t in times[::step]], rotation=45)
    figure.colorbar(image, ax=axes, label="occupancy (active / max slot-seconds)")
    axes.set_title("Occupancy per routing profile and interval (agent_activity), UTC")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return sum(1 for row in grid for cell in row if cell == cell)


def render(lake: Lake, out: Path) -> dict[str, Path]:
    """Both pictures into `out`; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    con = lake.connect()
    try:
        paths = {"timeline": out / "activity-timeline.png", "occupancy": out / "activity-occupancy.png"}
        timeline(con, paths["timeline"])
        occupancy(con, paths["occupancy"])
        return paths
    finally:
        con.close()
