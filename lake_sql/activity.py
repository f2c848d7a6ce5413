"""Agent activity (issue 20), derived from the snapshots: one row per agent per status occurrence.

Every snapshot of an agent carries its status and the status's exact start (`status_start_time`, from Connect),
so an occurrence is the rows sharing (instance, agent, status, start), whatever filters they came from (an agent
in several filters is one agent). Its end is exact when the agent was seen again in the instance's very next
snapshot in another status: that status's start. Otherwise it is bounded: the agent vanished (logged out, or
left every filter) or came back to the same status, so something unseen lay between; `end_time` is then the
last snapshot that saw it and `end_exact` false. While the agent is in it at the newest snapshot, `end_time`
is null. Trino's dialect (Athena engine v3); the local lake runs it through sqlglot on DuckDB. Seconds divide by
`1e3`, a double: `1000.0` is a decimal literal in Trino, and a decimal quotient keeps the larger operand scale,
here 1 (Trino docs, "Decimal functions and operators"), so Trino answered 13436.9 where DuckDB gave 13436.891.

First step: a query over `{table}` (the `user_data` view); the Iceberg table the state machine keeps from it
incrementally comes next.
"""

from __future__ import annotations

INTERVAL_COLUMNS = (
    "instance_id",
    "user_id",
    "username",
    "routing_profile_id",
    "routing_profile_name",
    "hierarchy_level_1_name",
    "status_name",
    "start_time",
    "end_time",
    "duration_seconds",
    "first_seen",
    "last_seen",
    "end_exact",
)

STATUS_INTERVALS = """WITH seen AS (
  -- One row per agent per snapshot: an agent in several filters is one agent.
  SELECT instance_id, user_id, snapshot_time,
         min(username) AS username, min(routing_profile_id) AS routing_profile_id,
         min(routing_profile_name) AS routing_profile_name, min(hierarchy_level_1_name) AS hierarchy_level_1_name,
         min(status_name) AS status_name, min(status_start_time) AS status_start_time
  FROM {table}
  WHERE status_start_time IS NOT NULL
  GROUP BY instance_id, user_id, snapshot_time
),
occurrences AS (
  SELECT instance_id, user_id, status_name, status_start_time AS start_time,
         min(snapshot_time) AS first_seen, max(snapshot_time) AS last_seen,
         max_by(username, snapshot_time) AS username, max_by(routing_profile_id, snapshot_time) AS routing_profile_id,
         max_by(routing_profile_name, snapshot_time) AS routing_profile_name,
         max_by(hierarchy_level_1_name, snapshot_time) AS hierarchy_level_1_name
  FROM seen
  GROUP BY instance_id, user_id, status_name, status_start_time
),
snapshots AS (
  -- The instance's snapshot times, each with the one after it.
  SELECT instance_id, snapshot_time,
         lead(snapshot_time) OVER (PARTITION BY instance_id ORDER BY snapshot_time) AS next_snapshot
  FROM (SELECT DISTINCT instance_id, snapshot_time FROM seen)
),
edges AS (
  SELECT o.*, s.next_snapshot,
         lead(o.start_time) OVER (PARTITION BY o.instance_id, o.user_id ORDER BY o.start_time) AS next_start,
         lead(o.status_name) OVER (PARTITION BY o.instance_id, o.user_id ORDER BY o.start_time) AS next_status,
         lead(o.first_seen) OVER (PARTITION BY o.instance_id, o.user_id ORDER BY o.start_time) AS next_first_seen
  FROM occurrences o
  JOIN snapshots s ON s.instance_id = o.instance_id AND s.snapshot_time = o.last_seen
),
ended AS (
  SELECT *,
         next_snapshot IS NOT NULL AND next_first_seen = next_snapshot AND next_status <> status_name AS end_exact
  FROM edges
)
SELECT instance_id, user_id, username, routing_profile_id, routing_profile_name, hierarchy_level_1_name, status_name,
       start_time,
       CASE WHEN end_exact THEN next_start WHEN next_snapshot IS NULL THEN NULL ELSE last_seen END AS end_time,
       CASE WHEN end_exact THEN date_diff('millisecond', start_time, next_start) / 1e3
            WHEN next_snapshot IS NULL THEN NULL
            ELSE date_diff('millisecond', start_time, last_seen) / 1e3 END AS duration_seconds,
       first_seen, last_seen, end_exact
FROM ended
ORDER BY instance_id, user_id, start_time"""


def status_intervals_sql(table: str) -> str:
    """The status intervals over `table` (the quoted `user_data` view, or the raw table)."""
    return STATUS_INTERVALS.format(table=table)
