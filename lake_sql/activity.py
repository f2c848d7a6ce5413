"""Agent activity (issue 20), derived from the snapshots by the history tier's compaction.

Two Iceberg tables beside history and one view, kept by the same state machine (and `python -m local_athena
compact`):

`agent_status_intervals`: one row per agent per status occurrence. Every snapshot of an agent carries its
status and the status's exact start (`status_start_time`, from Connect), so an occurrence is the rows sharing
(instance, agent, status, start), whatever filters they came from (an agent in several filters is one agent).
Its end:
- exact (`end_exact`) when the instance's very next snapshot saw the agent in another status: that status's
  start. A status shorter than the schedule period that came between would go unseen and count in this one:
  nothing in Connect's answer tells it apart;
- bounded at `last_seen` when the next snapshot saw the agent back in the same status with a new start:
  something unseen lay between, and that gap (to the next start) is `unobserved_seconds`, logged-in time in
  statuses never sampled. When the agent vanished (logged out, or left every filter), the end is bounded and
  the time until it returns is not counted at all;
- null while the agent is in it at the newest snapshot (`duration_seconds` too).

`agent_activity`: per agent, interval (`interval_minutes`, 15 by default) and status, the seconds in status
(intervals cut at interval edges), the unobserved seconds that followed it, contacts handled per channel (a
contact counts in the interval it reached the agent, `connected_to_agent_time`, once, under the status of the
first snapshot that saw it) and slot-seconds per channel (each snapshot stands for one sampling period).

`agent_status_intervals_now` (a view): the intervals table, with the last hour before the watermark and the raw
snapshots after it computed live from `user_data`, so today's intervals are current to the minute.

Incremental and idempotent like the history merge: each compaction period [start, stop) recomputes the
occurrences seen from `history.LOOKBACK_HOURS` before it (`since`: the snapshot before a period holds the status whose
end the period tells) and MERGEs them (newer knowledge wins, a rerun of an older period changes nothing), then
rebuilds the activity of the intervals from `since` to `stop`, which are the only ones that can change.

Trino's dialect (Athena engine v3); the local lake runs the same text through sqlglot on DuckDB. Seconds divide
by `1e3`, a double: `1000.0` is a decimal literal in Trino, and a decimal quotient keeps the larger operand
scale, here 1 (Trino docs, "Decimal functions and operators"), so Trino answered 13436.9 where DuckDB gave
13436.891.
"""

from __future__ import annotations

from connect_exporter.config import CHANNELS

from .history import HISTORY, VIEW, ddl_ref, optimize_sql, ref, table_properties
from .queries import DATABASE, LAST_DAY, NamedQuery

INTERVALS, ACTIVITY = "agent_status_intervals", "agent_activity"
# The tables the daily pass trims to `history_retention_days`, a day at a time: history and the activity
# derived from it hold the same agents' data, so none keeps it longer than history does.
RETAINED = (HISTORY, INTERVALS, ACTIVITY)
INTERVALS_NOW = "agent_status_intervals_now"  # the view: the table, and the last hour and raw snapshots live
INTERVAL_MINUTES = 15  # deployment.activity_interval_minutes: 15, 30 or 60 (each divides an hour)
SAMPLE_SECONDS = 60  # what one snapshot stands for: the schedule period

# (name, Hive type), in order; `dt` (the UTC day of start_time) partitions the table with instance_id.
INTERVAL_TYPES = (
    ("instance_id", "string"),
    ("user_id", "string"),
    ("username", "string"),
    ("routing_profile_id", "string"),
    ("routing_profile_name", "string"),
    ("hierarchy_level_1_name", "string"),
    ("status_name", "string"),
    ("start_time", "timestamp"),
    ("end_time", "timestamp"),
    ("duration_seconds", "double"),
    ("unobserved_seconds", "double"),
    ("first_seen", "timestamp"),
    ("last_seen", "timestamp"),
    ("end_exact", "boolean"),
    ("dt", "string"),
)
INTERVAL_COLUMNS = tuple(name for name, _ in INTERVAL_TYPES)
_KEY = ("instance_id", "user_id", "start_time", "status_name")

# What an agent did per channel in an interval: contacts that reached it, slot-seconds.
CHANNEL_MEASURES = ("contacts", "active_slot_seconds", "available_slot_seconds", "max_slot_seconds")
CHANNEL_COLUMNS = tuple(f"{channel.lower()}_{measure}" for channel in CHANNELS for measure in CHANNEL_MEASURES)
ACTIVITY_TYPES = (
    ("instance_id", "string"),
    ("user_id", "string"),
    ("username", "string"),
    ("routing_profile_id", "string"),
    ("routing_profile_name", "string"),
    ("interval_start", "timestamp"),
    ("interval_minutes", "int"),
    ("status_name", "string"),
    ("seconds", "double"),
    ("unobserved_seconds", "double"),
    *((name, "bigint" if name.endswith("_contacts") else "double") for name in CHANNEL_COLUMNS),
    ("dt", "string"),
)
ACTIVITY_COLUMNS = tuple(name for name, _ in ACTIVITY_TYPES)

_NAMES = "username, routing_profile_id, routing_profile_name, hierarchy_level_1_name"


def _seen(rows: str, columns: str) -> str:
    """One row per agent per snapshot from `rows` (a FROM clause with its WHERE), with `columns`: an agent in
    several filters once, the copy of the first filter by name, whole (each filter's page is read at its own
    instant, so two copies may differ: mixing their columns could pair one status with another's start).
    A window, not an aggregate: Trino's any_value over maps and arrays of rows held ~200 kB a group."""
    return f"""SELECT {columns} FROM (
    SELECT {columns},
           row_number() OVER (PARTITION BY instance_id, user_id, snapshot_time ORDER BY filter_name) AS copy
    FROM {rows} AND status_start_time IS NOT NULL
  ) WHERE copy = 1"""


def _occurrences(rows: str) -> str:
    """The status intervals seen in `rows`, in INTERVAL_COLUMNS order."""
    latest = ", ".join(f"max_by({c}, snapshot_time) AS {c}" for c in _NAMES.split(", "))
    seen = f"instance_id, user_id, snapshot_time, {_NAMES}, status_name, status_start_time"
    return f"""WITH seen AS (
  {_seen(rows, seen)}
),
occurrences AS (
  SELECT instance_id, user_id, status_name, status_start_time AS start_time,
         min(snapshot_time) AS first_seen, max(snapshot_time) AS last_seen, {latest}
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
  -- Seen again in the very next snapshot: in another status (an exact end), or back in this one (a gap).
  SELECT *,
         coalesce(next_snapshot IS NOT NULL AND next_first_seen = next_snapshot, false) AS seen_next
  FROM edges
),
bounded AS (
  SELECT *, seen_next AND next_status <> status_name AS end_exact FROM ended
)
SELECT instance_id, user_id, {_NAMES}, status_name, start_time,
       CASE WHEN end_exact THEN next_start WHEN next_snapshot IS NULL THEN NULL ELSE last_seen END AS end_time,
       CASE WHEN end_exact THEN date_diff('millisecond', start_time, next_start) / 1e3
            WHEN next_snapshot IS NULL THEN NULL
            ELSE date_diff('millisecond', start_time, last_seen) / 1e3 END AS duration_seconds,
       CASE WHEN seen_next AND NOT end_exact THEN date_diff('millisecond', last_seen, next_start) / 1e3
            ELSE 0e0 END AS unobserved_seconds,
       first_seen, last_seen, end_exact, date_format(start_time, '%Y-%m-%d') AS dt
FROM bounded"""


def status_intervals_sql(table: str) -> str:
    """The status intervals over all of `table` (the quoted `user_data` view, or the raw table): what the
    table holds, computed in one query (the tests' and an analyst's cross-check of the incremental table)."""
    return _occurrences(f"{table} WHERE true") + "\nORDER BY instance_id, user_id, start_time"


def _window(database: str) -> str:
    """History's rows from `since` to the period's `stop` (both placeholders of the plan), by partition first."""
    return (
        f"{ref(HISTORY, database)} WHERE dt >= '{{since_dt}}' AND dt <= '{{dt}}'"
        " AND snapshot_time >= TIMESTAMP '{since}' AND snapshot_time < TIMESTAMP '{stop}'"
    )


def _ddl(table: str, types: tuple[tuple[str, str], ...], location: str, database: str) -> str:
    """An Iceberg table of the tier (Parquet, ZSTD, the retention properties), partitioned by instance and day."""
    columns = ",\n  ".join(f"{name} {kind}" for name, kind in types)
    return (
        f"CREATE TABLE IF NOT EXISTS {ddl_ref(table, database)} (\n  {columns}\n)\n"
        "PARTITIONED BY (instance_id, dt)\n"
        f"LOCATION '{location}{table}/'\n"
        f"TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd', {table_properties()})"
    )


def intervals_ddl(location: str, database: str = DATABASE) -> str:
    return _ddl(INTERVALS, INTERVAL_TYPES, location, database)


def activity_ddl(location: str, database: str = DATABASE) -> str:
    return _ddl(ACTIVITY, ACTIVITY_TYPES, location, database)


def refresh_intervals_sql(database: str = DATABASE) -> str:
    """MERGE the occurrences seen from `since` to `stop` into the intervals table. Newer knowledge wins: a row
    seen later, or ended where it was open; a rerun of an older period (an earlier `since`) changes no end.
    Occurrences still open that the window no longer sees (the agent vanished while the instance's snapshots
    went on, longer ago than the look-back: the exporter was down) are bounded at their last sighting.
    Athena engine v3 takes `WHEN MATCHED AND condition THEN UPDATE` on Iceberg, and raises a user error when
    one target row matches two source rows (Athena user guide, "MERGE INTO"): the source's keys are unique
    (one row per occurrence; the stale rows are ones the window does not see)."""
    table = ref(INTERVALS, database)
    columns = ", ".join(INTERVAL_COLUMNS)
    newer = "s.last_seen > t.last_seen OR (s.last_seen = t.last_seen AND t.end_time IS NULL AND s.end_time IS NOT NULL)"
    ends = ("end_time", "duration_seconds", "unobserved_seconds", "last_seen", "end_exact", *_NAMES.split(", "))
    updates = ",\n  ".join(
        [*(f"{c} = CASE WHEN {newer} THEN s.{c} ELSE t.{c} END" for c in ends), "first_seen = least(s.first_seen, t.first_seen)"]
    )
    stale = f"""SELECT instance_id, user_id, {_NAMES}, status_name, start_time,
         last_seen AS end_time, date_diff('millisecond', start_time, last_seen) / 1e3 AS duration_seconds,
         0e0 AS unobserved_seconds, first_seen, last_seen, false AS end_exact, dt
  FROM {table}
  WHERE dt >= '{{open_dt}}' AND end_time IS NULL AND last_seen < TIMESTAMP '{{since}}'
    AND instance_id IN (SELECT DISTINCT instance_id FROM {_window(database)})"""
    on = " AND ".join(f"t.{c} = s.{c}" for c in _KEY)
    return f"""MERGE INTO {table} AS t
USING (
  SELECT * FROM (
{_occurrences(_window(database))}
  ) WHERE start_time >= TIMESTAMP '{{open_since}}'
  UNION ALL
  {stale}
) AS s
ON t.dt >= '{{open_dt}}' AND {on}
WHEN MATCHED AND ({newer} OR s.first_seen < t.first_seen) THEN UPDATE SET
  {updates}
WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({", ".join(f"s.{c}" for c in INTERVAL_COLUMNS)})"""


def _interval_of(column: str, minutes: int) -> str:
    """The start of the `minutes`-long interval holding `column` (intervals divide the hour)."""
    return f"date_add('minute', -(minute({column}) % {minutes}), date_trunc('minute', {column}))"


_LATEST_NAMES = (
    "max(username) AS username, max(routing_profile_id) AS routing_profile_id, max(routing_profile_name) AS routing_profile_name"
)


def _per_interval(source: str, time: str, minutes: int, measures: str, where: str) -> str:
    """Rows of `source` summed per agent, interval (of `time`) and status: one part of the activity's rows."""
    interval = _interval_of(time, minutes)
    return f"""SELECT instance_id, user_id, {interval} AS interval_start, status_name, {_LATEST_NAMES},
         0e0 AS seconds, 0e0 AS unobserved_seconds, {measures}
  FROM {source}
  WHERE {where}
  GROUP BY instance_id, user_id, {interval}, status_name"""


def clear_activity_sql(database: str = DATABASE) -> str:
    """The activity of the intervals from `since` to `stop`, about to be rebuilt (the same run inserts them
    again; the watermark advances only after both, so a run that dies between is redone whole)."""
    return (
        f"DELETE FROM {ref(ACTIVITY, database)} WHERE dt >= '{{since_dt}}' AND dt <= '{{dt}}'"
        " AND interval_start >= TIMESTAMP '{since}' AND interval_start < TIMESTAMP '{stop}'"
    )


def fill_activity_sql(
    database: str = DATABASE, interval_minutes: int = INTERVAL_MINUTES, sample_seconds: int = SAMPLE_SECONDS
) -> str:
    """The activity of the intervals from `since` to `stop`: status seconds from the intervals table, contacts
    and slot-seconds from history's snapshots of the window, one row per agent, interval and status. Each
    snapshot's slots count for its own `period_seconds` (the rate it was taken at), or `sample_seconds` (the
    deployed rate) where a row has none: a deployment that changes its rate does not reweigh older snapshots."""
    m = interval_minutes
    seen = "instance_id, user_id, snapshot_time, period_seconds, status_name, username, routing_profile_id, routing_profile_name, available_slots, max_slots, active_slots, contacts"
    per_channel = {
        measure: [f"{channel.lower()}_{measure}" for channel in CHANNELS] for measure in CHANNEL_MEASURES if measure != "contacts"
    }
    zero_channels = ", ".join(f"0e0 AS {c}" for c in CHANNEL_COLUMNS if not c.endswith("_contacts"))
    weight = f"coalesce(period_seconds, {sample_seconds}) * 1e0"  # seconds, as a double
    zero_contacts = ", ".join(f"0 AS {c.lower()}_contacts" for c in CHANNELS)
    slot_sums = ", ".join(
        f"sum(coalesce(element_at({measure.removesuffix('_slot_seconds')}_slots, '{channel}'), 0) * {weight}) AS {column}"
        for measure, columns in per_channel.items()
        for channel, column in zip(CHANNELS, columns, strict=True)
    )
    contact_counts = ", ".join(f"count_if(channel = '{c}') AS {c.lower()}_contacts" for c in CHANNELS)
    totals = ", ".join(f"sum({c}) AS {c}" for c in CHANNEL_COLUMNS)
    span_end = "coalesce(end_time, last_seen)"
    gap_end = f"date_add('millisecond', CAST(round(unobserved_seconds * 1e3) AS bigint), {span_end})"

    part = (
        "SELECT instance_id, user_id, username, routing_profile_id, routing_profile_name, interval_start, status_name, "
        f"seconds, unobserved_seconds, {', '.join(CHANNEL_COLUMNS)} FROM "
    )
    parts = "\n  UNION ALL\n  ".join(part + cte for cte in ("statuses", "slots", "contacts"))

    def overlap(a: str, b: str) -> str:
        return (
            f"greatest(date_diff('millisecond', greatest({a}, interval_start), "
            f"least({b}, date_add('minute', {m}, interval_start))), 0) / 1e3"
        )

    return f"""INSERT INTO {ref(ACTIVITY, database)} ({", ".join(ACTIVITY_COLUMNS)})
WITH spans AS (
  -- Each status's observed span and its unobserved tail, where they reach into [since, stop).
  SELECT instance_id, user_id, username, routing_profile_id, routing_profile_name, status_name,
         start_time, {span_end} AS span_end, {gap_end} AS gap_end
  FROM {ref(INTERVALS, database)}
  WHERE dt >= '{{open_dt}}' AND start_time < TIMESTAMP '{{stop}}' AND {gap_end} > TIMESTAMP '{{since}}'
),
cut AS (
  SELECT s.*, i.interval_start
  FROM spans s
  CROSS JOIN UNNEST(sequence({_interval_of("greatest(s.start_time, TIMESTAMP '{since}')", m)},
                             least(s.gap_end, TIMESTAMP '{{stop}}'), INTERVAL '{m}' MINUTE)) AS i (interval_start)
  WHERE i.interval_start < TIMESTAMP '{{stop}}' AND i.interval_start < s.gap_end
),
statuses AS (
  SELECT instance_id, user_id, interval_start, status_name,
         {_LATEST_NAMES},
         sum({overlap("start_time", "span_end")}) AS seconds,
         sum({overlap("span_end", "gap_end")}) AS unobserved_seconds,
         {zero_contacts}, {zero_channels}
  FROM cut
  GROUP BY instance_id, user_id, interval_start, status_name
),
seen AS (
  {_seen(_window(database), seen)}
),
slots AS (
  {_per_interval("seen", "snapshot_time", m, f"{zero_contacts}, {slot_sums}", "snapshot_time >= TIMESTAMP '{since}'")}
),
held AS (
  -- Contacts by position, as the named queries unnest them (Trino expands an array of rows into columns,
  -- DuckDB does not; element_at reads the same in both).
  SELECT s.instance_id, s.user_id, s.snapshot_time, s.status_name, s.username, s.routing_profile_id,
         s.routing_profile_name, element_at(s.contacts, p.position) AS c
  FROM seen s
  CROSS JOIN UNNEST(sequence(1, greatest(cardinality(s.contacts), 1))) AS p (position)
  WHERE p.position <= cardinality(s.contacts)
),
reached AS (
  -- Each contact once: when it reached the agent, and the agent's status at the first snapshot that saw it.
  SELECT instance_id, user_id, c.contact_id AS contact_id, min(c.channel) AS channel,
         min(c.connected_to_agent_time) AS connected, min_by(status_name, snapshot_time) AS status_name,
         {_LATEST_NAMES}
  FROM held
  WHERE c.connected_to_agent_time IS NOT NULL
  GROUP BY instance_id, user_id, c.contact_id
),
contacts AS (
  {_per_interval("reached", "connected", m, f"{contact_counts}, {zero_channels}", "connected >= TIMESTAMP '{since}' AND connected < TIMESTAMP '{stop}'")}
),
parts AS (
  {parts}
)
SELECT instance_id, user_id, max(username) AS username, max(routing_profile_id) AS routing_profile_id,
       max(routing_profile_name) AS routing_profile_name, interval_start, {m} AS interval_minutes, status_name,
       round(sum(seconds), 3) AS seconds, round(sum(unobserved_seconds), 3) AS unobserved_seconds, {totals},
       date_format(interval_start, '%Y-%m-%d') AS dt
FROM parts
GROUP BY instance_id, user_id, interval_start, status_name"""


def refresh_sql(
    database: str = DATABASE, interval_minutes: int = INTERVAL_MINUTES, sample_seconds: int = SAMPLE_SECONDS
) -> tuple[str, str, str]:
    """A period's refresh, in order, after its history merge and before its watermark."""
    return (
        refresh_intervals_sql(database),
        clear_activity_sql(database),
        fill_activity_sql(database, interval_minutes, sample_seconds),
    )


def optimize_yesterday_sql(table: str, database: str = DATABASE) -> str:
    """The daily bin-pack of yesterday's partitions: each hourly refresh rewrites rows (MERGE updates, DELETE
    and INSERT), leaving small files and delete files Athena reads until OPTIMIZE merges them."""
    return optimize_sql(database, table, where="dt = '{yesterday}'")


def _occupancy(group: str, per: str) -> str:
    """Active over max slot-seconds per channel, and contacts, per `group` columns and interval, over the last day."""
    ratios = ",\n       ".join(
        f"round(sum({c}_active_slot_seconds) / nullif(sum({c}_max_slot_seconds), 0), 4) AS {c}_occupancy, "
        f"sum({c}_contacts) AS {c}_contacts"
        for c in (channel.lower() for channel in CHANNELS)
    )
    return f"""SELECT interval_start, instance_id, {group}, {per}
       {ratios}
FROM {{activity}}
WHERE {LAST_DAY}
GROUP BY interval_start, instance_id, {group}
ORDER BY interval_start, instance_id, {group}"""


# Athena named queries over the two tables (and one over the view, current to the minute); the stack ships them
# beside the snapshot queries (`lake_sql.named`).
ACTIVITY_QUERIES: tuple[NamedQuery, ...] = (
    NamedQuery(
        "time-in-status-per-agent-per-day",
        "Seconds each agent spent in each status per UTC day, and the unobserved seconds after it, over the last 30 days",
        """SELECT dt, instance_id, user_id, max(username) AS username, status_name,
       round(sum(seconds), 3) AS seconds, round(sum(unobserved_seconds), 3) AS unobserved_seconds
FROM {activity}
WHERE dt >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')
GROUP BY dt, instance_id, user_id, status_name
ORDER BY dt, instance_id, user_id, seconds DESC, status_name""",
    ),
    NamedQuery(
        "occupancy-per-agent-per-interval",
        "Occupancy (active over max slot-seconds) and contacts per channel, per agent and interval, over the last day",
        _occupancy("user_id", "max(username) AS username, max(routing_profile_name) AS routing_profile_name,"),
    ),
    NamedQuery(
        "occupancy-per-routing-profile-per-interval",
        "Occupancy (active over max slot-seconds) and contacts per channel, per routing profile and interval, over the last day",
        _occupancy("routing_profile_id", "max(routing_profile_name) AS routing_profile_name, count(DISTINCT user_id) AS agents,"),
    ),
    NamedQuery(
        "agents-by-unobserved-share",
        "Agents by the share of their logged-in time in statuses too short to sample, last 7 days, highest first "
        "(a few percent or more: the schedule is coarser than their status changes)",
        """SELECT instance_id, user_id, max(username) AS username,
       round(sum(unobserved_seconds), 3) AS unobserved_seconds,
       round(sum(seconds) + sum(unobserved_seconds), 3) AS logged_in_seconds,
       round(sum(unobserved_seconds) / nullif(sum(seconds) + sum(unobserved_seconds), 0), 4) AS unobserved_share
FROM {activity}
WHERE dt >= date_format(current_date - INTERVAL '7' DAY, '%Y-%m-%d')
GROUP BY instance_id, user_id
ORDER BY unobserved_share DESC, instance_id, user_id""",
    ),
    NamedQuery(
        "contact-intervals-now",
        "Each contact's states at each agent since yesterday (UTC) from the view: start, end (the next state's "
        "start; the last one ends at its last sighting), channel; handle time per agent is their sum",
        # Contacts by position (see the named snapshot queries), one copy of the agent per snapshot.
        f"""WITH agents AS (
  SELECT instance_id, user_id, snapshot_time, contacts,
         row_number() OVER (PARTITION BY instance_id, user_id, snapshot_time ORDER BY filter_name) AS copy
  FROM {{table}}
  WHERE {LAST_DAY}
),
held AS (
  SELECT a.instance_id, a.user_id, a.snapshot_time, element_at(a.contacts, p.position) AS c
  FROM agents AS a
  CROSS JOIN UNNEST(sequence(1, greatest(cardinality(a.contacts), 1))) AS p (position)
  WHERE a.copy = 1 AND p.position <= cardinality(a.contacts)
),
states AS (
  SELECT instance_id, user_id, c.contact_id AS contact_id, min(c.channel) AS channel,
         c.agent_contact_state AS state, c.state_start_time AS start_time,
         min(snapshot_time) AS first_seen, max(snapshot_time) AS last_seen
  FROM held
  GROUP BY instance_id, user_id, c.contact_id, c.agent_contact_state, c.state_start_time
),
ended AS (
  SELECT *, lead(start_time) OVER (PARTITION BY instance_id, user_id, contact_id ORDER BY start_time) AS next_start
  FROM states
)
SELECT instance_id, user_id, contact_id, channel, state, start_time, coalesce(next_start, last_seen) AS end_time,
       date_diff('millisecond', start_time, coalesce(next_start, last_seen)) / 1e3 AS duration_seconds,
       next_start IS NOT NULL AS end_exact, first_seen, last_seen
FROM ended
ORDER BY instance_id, user_id, start_time, contact_id, state""",
    ),
    NamedQuery(
        "agent-status-intervals-now",
        "Each agent's status intervals since yesterday (UTC), current to the last snapshot: the "
        "agent_status_intervals_now view (the table, with the last hour and the raw snapshots after it computed live)",
        f"""SELECT * FROM {{intervals_now}}
WHERE {LAST_DAY}
ORDER BY instance_id, user_id, start_time""",
    ),
)


EXPORT_COLUMNS = ACTIVITY_COLUMNS[:-1]  # without dt: interval_start says it


def export_sql(start: str, stop: str, interval_minutes: int | None = None, database: str = DATABASE) -> str:
    """`connect-exporter activity`: agent_activity rows with interval_start in [start, stop) (UTC,
    'YYYY-MM-DD HH:MM:SS'), in `interval_minutes` (a multiple of the table's: its rows summed) or as stored."""
    if interval_minutes is None:
        select, group = ", ".join(EXPORT_COLUMNS), ""
    else:
        bucket = _interval_of("interval_start", interval_minutes)
        sums = ", ".join(
            f"round(sum({c}), 3) AS {c}" if c.endswith("seconds") else f"sum({c}) AS {c}" for c in EXPORT_COLUMNS[8:]
        )
        select = (
            "instance_id, user_id, max(username) AS username, max(routing_profile_id) AS routing_profile_id, "
            f"max(routing_profile_name) AS routing_profile_name, {bucket} AS interval_start, "
            f"{interval_minutes} AS interval_minutes, status_name, {sums}"
        )
        group = f"\n  AND {interval_minutes} % interval_minutes = 0\nGROUP BY instance_id, user_id, {bucket}, status_name"
    return f"""SELECT {select}
FROM {ref(ACTIVITY, database)}
WHERE dt >= '{start[:10]}' AND dt <= '{stop[:10]}'
  AND interval_start >= TIMESTAMP '{start}' AND interval_start < TIMESTAMP '{stop}'{group}
ORDER BY interval_start, instance_id, user_id, status_name"""


def intervals_now_view_sql(database: str = DATABASE) -> str:
    """`agent_status_intervals_now`: the intervals table, with the occurrences seen from an hour before the
    watermark `{until}` on computed live from the `user_data` view (so the status that ended just after the
    watermark gets its end, and today's are current to the last snapshot). An occurrence in both takes the
    live row, with the table's first sighting. Rebuilt with the user_data view, from the same watermark: its
    bounds are literals Athena folds, so both sides prune partitions."""
    since = "TIMESTAMP '{until}' - INTERVAL '1' HOUR"
    live = _occurrences(f"{ref(VIEW, database)} WHERE dt >= date_format({since}, '%Y-%m-%d') AND snapshot_time >= {since}")
    on = " AND ".join(f"t.{c} = l.{c}" for c in _KEY)
    kept = ", ".join(
        f"least(l.first_seen, coalesce(t.first_seen, l.first_seen)) AS {c}" if c == "first_seen" else f"l.{c}"
        for c in INTERVAL_COLUMNS
    )
    table = ref(INTERVALS, database)
    return f"""CREATE OR REPLACE VIEW {ref(INTERVALS_NOW, database)} AS
WITH live AS (
{live}
)
SELECT {", ".join(f"t.{c}" for c in INTERVAL_COLUMNS)} FROM {table} AS t LEFT JOIN live AS l ON {on}
WHERE l.user_id IS NULL
UNION ALL
SELECT {kept} FROM live AS l LEFT JOIN {table} AS t ON {on}"""
