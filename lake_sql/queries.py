"""Athena named queries shipped with the stack (Trino dialect, Athena engine v3).

`{table}` is replaced with the quoted view `user_data` (history for compacted hours, raw snapshots
after); `{activity}`, `{intervals}` and `{intervals_now}` with agent activity's tables and view (`lake_sql.activity`). Every named query
the stack ships is in `lake_sql.named.QUERIES`. Written so that sqlglot can translate them to DuckDB for the answer checks and the local lake:
keep to standard functions.
"""

from __future__ import annotations

from dataclasses import dataclass

LAST_DAY = "dt >= date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d')"
LAST_30_DAYS = "dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')"
# The Glue database, the raw table, and the view every named query reads.
DATABASE, TABLE, VIEW = "connect_user_data", "snapshots", "user_data"
TABLE_REF = f'"{DATABASE}"."{TABLE}"'
VIEW_REF = f'"{DATABASE}"."{VIEW}"'
# Each agent once per snapshot (an agent in several filters: the first filter's copy, `copy = 1`), with the
# seconds the snapshot stands for: its own `period_seconds`, or the deployed rate where a row has none. So a
# day sampled at a minute and a day at 15 s each count their own time after the deployment changes its rate.
_ONCE_PER_SNAPSHOT = """SELECT dt, instance_id, user_id, username, status_name, snapshot_time,
         coalesce(period_seconds, {{sample_seconds}}) AS seconds,
         row_number() OVER (PARTITION BY instance_id, user_id, snapshot_time ORDER BY filter_name) AS copy
  FROM {{table}}
  WHERE {where}"""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    sql: str

    @property
    def reads_snapshots(self) -> bool:
        """Reads `{table}`: answers the same over the view and the raw table, compacted or not."""
        return "{table}" in self.sql

    def render(self, table: str, database: str = DATABASE, sample_seconds: int = 60) -> str:
        """The query over `table` (the quoted view, or the raw table), agent activity's tables in `database`;
        a snapshot counts for `sample_seconds` (the deployment's sampling period) where a query counts time."""
        return self.sql.format(
            sample_seconds=sample_seconds,
            table=table,
            activity=f'"{database}"."agent_activity"',
            intervals=f'"{database}"."agent_status_intervals"',
            intervals_now=f'"{database}"."agent_status_intervals_now"',
        )


SNAPSHOT_QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        "latest-agent-state",
        "Latest state of every agent seen in the last day: one row per agent",
        f"""SELECT instance_id, user_id,
       max_by(username, snapshot_time) AS username,
       max_by(status_name, snapshot_time) AS status_name,
       max_by(status_duration_seconds, snapshot_time) AS status_duration_seconds,
       max_by(routing_profile_name, snapshot_time) AS routing_profile_name,
       max_by(contact_count, snapshot_time) AS contact_count,
       max(snapshot_time) AS last_seen
FROM {{table}}
WHERE {LAST_DAY}
GROUP BY instance_id, user_id
ORDER BY instance_id, user_id""",
    ),
    NamedQuery(
        "agents-per-status-over-time",
        "Agents per status, per filter and snapshot, over the last day",
        f"""SELECT snapshot_time, instance_id, filter_name, status_name, count(*) AS agents
FROM {{table}}
WHERE {LAST_DAY}
GROUP BY snapshot_time, instance_id, filter_name, status_name
ORDER BY snapshot_time, instance_id, filter_name, status_name""",
    ),
    NamedQuery(
        "slots-per-channel-over-time",
        "Available, max and active slots per filter and channel, per snapshot, over the last day",
        f"""SELECT t.snapshot_time, t.instance_id, t.filter_name, s.channel,
       sum(coalesce(element_at(t.available_slots, s.channel), 0)) AS available_slots,
       sum(coalesce(element_at(t.max_slots, s.channel), 0)) AS max_slots,
       sum(coalesce(element_at(t.active_slots, s.channel), 0)) AS active_slots
FROM {{table}} AS t
CROSS JOIN UNNEST(map_keys(t.max_slots)) AS s (channel)
WHERE t.{LAST_DAY}
GROUP BY t.snapshot_time, t.instance_id, t.filter_name, s.channel
ORDER BY t.snapshot_time, t.instance_id, t.filter_name, s.channel""",
    ),
    NamedQuery(
        "agents-on-contacts-by-state",
        "Agents on contacts by channel and state in the latest snapshot, with the longest time in state",
        # Contacts are unnested by position, not as rows: Trino expands an array of rows into columns,
        # DuckDB (the answer checks' engine) does not, and element_at reads the same in both.
        # greatest(..., 1) because Trino's sequence(1, 0) is an error; the extra position is filtered out.
        # Seconds by to_unixtime, not date_diff: DuckDB's date_diff counts boundaries, Trino's truncates.
        f"""WITH latest AS (
  SELECT max(snapshot_time) AS snapshot_time FROM {{table}} WHERE {LAST_DAY}
),
contacts AS (
  SELECT t.instance_id, t.filter_name, t.user_id, t.snapshot_time, element_at(t.contacts, p.position) AS c
  FROM {{table}} AS t
  JOIN latest ON t.snapshot_time = latest.snapshot_time
  CROSS JOIN UNNEST(sequence(1, greatest(cardinality(t.contacts), 1))) AS p (position)
  WHERE t.{LAST_DAY} AND p.position <= cardinality(t.contacts)
)
SELECT instance_id, filter_name, c.channel AS channel, c.agent_contact_state AS agent_contact_state,
       count(DISTINCT user_id) AS agents,
       count(*) AS contacts,
       max(round(to_unixtime(snapshot_time) - to_unixtime(c.state_start_time), 3)) AS longest_in_state_seconds
FROM contacts
GROUP BY instance_id, filter_name, c.channel, c.agent_contact_state
ORDER BY longest_in_state_seconds DESC, instance_id, filter_name, channel, agent_contact_state""",
    ),
    NamedQuery(
        "status-minutes-per-agent-today",
        "Minutes each agent spent in each status today (UTC): its snapshots, each weighed by the period it was taken at",
        f"""WITH seen AS (
  {_ONCE_PER_SNAPSHOT.format(where="dt = date_format(current_date, '%Y-%m-%d')")}
)
SELECT instance_id, user_id, max_by(username, snapshot_time) AS username, status_name,
       count(*) AS snapshots,
       round(sum(seconds) / 60e0, 2) AS minutes
FROM seen
WHERE copy = 1
GROUP BY instance_id, user_id, status_name
ORDER BY instance_id, user_id, snapshots DESC, status_name""",
    ),
    NamedQuery(
        "status-minutes-per-agent-per-day",
        "Minutes each agent spent in each status, per UTC day, over the last 30 days: snapshots weighed by the period each was taken at",
        f"""WITH seen AS (
  {_ONCE_PER_SNAPSHOT.format(where=LAST_30_DAYS)}
)
SELECT dt, instance_id, user_id, max_by(username, snapshot_time) AS username, status_name,
       count(*) AS snapshots,
       round(sum(seconds) / 60e0, 2) AS minutes
FROM seen
WHERE copy = 1
GROUP BY dt, instance_id, user_id, status_name
ORDER BY dt, instance_id, user_id, snapshots DESC, status_name""",
    ),
    NamedQuery(
        "hourly-occupancy-per-routing-profile",
        "Active over max slots per routing profile, channel and UTC hour, over the last 30 days (each agent once per snapshot)",
        # An agent in several filters has several rows per snapshot: keep one, the first filter by name.
        f"""WITH agents AS (
  SELECT dt, hour, instance_id, routing_profile_name, max_slots, active_slots,
         row_number() OVER (PARTITION BY instance_id, snapshot_time, user_id ORDER BY filter_name) AS copy
  FROM {{table}}
  WHERE {LAST_30_DAYS}
)
SELECT a.dt, a.hour, a.instance_id, a.routing_profile_name, s.channel,
       sum(coalesce(element_at(a.active_slots, s.channel), 0)) AS active_slot_snapshots,
       sum(coalesce(element_at(a.max_slots, s.channel), 0)) AS max_slot_snapshots,
       round(CAST(sum(coalesce(element_at(a.active_slots, s.channel), 0)) AS double)
             / nullif(sum(coalesce(element_at(a.max_slots, s.channel), 0)), 0), 4) AS occupancy
FROM agents AS a
CROSS JOIN UNNEST(map_keys(a.max_slots)) AS s (channel)
WHERE a.copy = 1
GROUP BY a.dt, a.hour, a.instance_id, a.routing_profile_name, s.channel
ORDER BY a.dt, a.hour, a.instance_id, a.routing_profile_name, s.channel""",
    ),
    NamedQuery(
        "zero-available-slot-minutes-per-day",
        "Minutes per UTC day in which a filter had no available slot on a channel (snapshots weighed by the period each was taken at), over the last 30 days",
        f"""WITH slots AS (
  SELECT t.dt, t.instance_id, t.filter_name, t.snapshot_time, s.channel,
         sum(coalesce(element_at(t.available_slots, s.channel), 0)) AS available,
         max(coalesce(t.period_seconds, {{sample_seconds}})) AS seconds
  FROM {{table}} AS t
  CROSS JOIN UNNEST(map_keys(t.max_slots)) AS s (channel)
  WHERE t.{LAST_30_DAYS}
  GROUP BY t.dt, t.instance_id, t.filter_name, t.snapshot_time, s.channel
)
SELECT dt, instance_id, filter_name, channel,
       sum(CASE WHEN available = 0 THEN 1 ELSE 0 END) AS snapshots_with_none_available,
       count(*) AS snapshots,
       round(sum(CASE WHEN available = 0 THEN seconds ELSE 0 END) / 60e0, 2) AS minutes_with_none_available
FROM slots
GROUP BY dt, instance_id, filter_name, channel
ORDER BY dt, instance_id, filter_name, channel""",
    ),
)
