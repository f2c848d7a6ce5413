"""The history tier's SQL (Trino dialect, Athena engine v3): what the compaction runs, in order.

Raw minute snapshots (gzip JSON, one object per filter per minute) are merged, a closed hour at a time,
into a columnar Iceberg table, and readers go through one view that takes history before a watermark
and raw snapshots from it on. The same text runs on Athena (the stack's state machine fills the
`{placeholders}` with the plan query's answer) and locally (`python -m local_athena compact`,
translated to DuckDB by sqlglot).

Why these steps hold under retries, overlaps and crashes:
- `MERGE … WHEN NOT MATCHED` keyed on (instance_id, filter_name, snapshot_time, user_id) inserts only
  rows not there yet, in one Iceberg commit: re-running a period, or two runs over overlapping
  periods, adds nothing twice; a run that dies before its commit adds nothing (VACUUM removes its files).
- The watermark row is written only after the merge succeeded, and the view is rebuilt from it: until
  then the view still reads those hours from the raw snapshots, which are kept longer than compaction
  may lag (the lag alarm fires first). No gap and no overlap at the boundary, whatever failed.
- Each plan starts `LOOKBACK_HOURS` before the watermark: a minute that lands after its hour was
  compacted (a retried write) is merged by a later run. One landing later still (a backfill) is found by
  the daily reconciliation, which compares rows per hour of raw and history over the last
  `history_reconcile_days` and starts the next plan at the first hour that differs.
- A plan never crosses midnight and the state machine loops while `more`: a backlog of days is caught
  up in order, and every write touches one day: one partition per (instance, filter), at most
  `connect_exporter.tools.deployment.MAX_WRITE_PARTITIONS` (validate and synth refuse more filters: Athena's limit
  on the partitions one query writes, HIVE_TOO_MANY_OPEN_PARTITIONS).
  Retention deletes and compacts one expired day a statement, for the same reason.
- Merges read raw by dt and hour partitions and history by dt (and hour's column statistics); the view's
  raw side prunes by dt and hour: no statement reads a day it does not need.
"""

from __future__ import annotations

import base64
import json
import re

from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, Column

from .queries import DATABASE, TABLE

HISTORY, WATERMARK, VIEW = "history", "history_watermark", "user_data"
LOOKBACK_HOURS = 2
NEVER = "9999-12-31 00:00:00"  # `from` when nothing before the look-back needs merging again
EPOCH = "1970-01-01 00:00:00"  # `after` on a run's first plan; then the previous period's stop
# Athena's Iceberg DELETE writes position-delete files, and OPTIMIZE rewrites a file only past these thresholds
# (defaults 2 delete files a file, 5 files a partition): at 1, the daily OPTIMIZE of an expired day rewrites
# every file of it into nothing, and VACUUM then deletes files no snapshot younger than a day references
# (default 5 days). Athena user guide, "Optimizing Iceberg tables" and "Iceberg table properties".
ICEBERG_PROPERTIES = {
    "optimize_rewrite_delete_file_threshold": "1",
    "optimize_rewrite_data_file_threshold": "1",
    "vacuum_max_snapshot_age_seconds": "86400",
}
# A minute is written within one schedule period (later runs are skipped) plus the function's timeout.
SETTLE_MINUTES = 35
FIRST_RUN_DAYS = 7  # how far back the first compaction looks: raw snapshots are kept at least this long
# How long an agent's status may have lasted and still have its end found (`lake_sql.activity`): its MERGE reads
# intervals that started this many days before the period, not the whole table.
OPEN_DAYS = 8
TS = "%Y-%m-%d %H:%i:%s"  # Trino date_format: what TIMESTAMP '…' literals in the steps below take

RECORD = ", ".join(c.name for c in COLUMNS)
# The view's and history's columns: the record, then where it came from (the raw table's partitions).
ROW = f"{RECORD}, instance_id, filter_name, dt, hour"


def ref(name: str, database: str = DATABASE) -> str:
    """A table as DML names it (Trino: double quotes)."""
    return f'"{database}"."{name}"'


def ddl_ref(name: str, database: str = DATABASE) -> str:
    """A table as Athena's DDL and Iceberg maintenance statements name it: Hive's parser takes no double
    quotes (backticks only), and these names need no quoting at all."""
    return f"{database}.{name}"


def history_ddl(location: str, database: str = DATABASE, record: tuple[Column, ...] = COLUMNS) -> str:
    """The Iceberg history table and its watermark table; Parquet with ZSTD, partitioned like the raw tree
    (a day a partition), so a date range, an instance or a filter reads only its files. `record`: the columns
    it is created with (a test makes an older table with fewer)."""
    columns = ",\n  ".join(f"{c.name} {c.type}" for c in record)
    return (
        f"CREATE TABLE IF NOT EXISTS {ddl_ref(HISTORY, database)} (\n  {columns},\n"
        "  instance_id string, filter_name string, dt string, hour int\n)\n"
        "PARTITIONED BY (instance_id, filter_name, dt)\n"
        f"LOCATION '{location}{HISTORY}/'\n"
        f"TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd', {table_properties()})"
    )


def table_properties() -> str:
    """ICEBERG_PROPERTIES as TBLPROPERTIES lists them (every Iceberg table of the tier is created with them)."""
    return ", ".join(f"'{k}'='{v}'" for k, v in ICEBERG_PROPERTIES.items())


def properties_sql(table: str, database: str = DATABASE) -> str:
    """`CREATE TABLE IF NOT EXISTS` leaves a table made by an older version as it was: the daily run sets the
    properties retention depends on (idempotent)."""
    return f"ALTER TABLE {ddl_ref(table, database)} SET TBLPROPERTIES ({table_properties()})"


def missing_columns_sql(database: str = DATABASE) -> str:
    """One row, `missing`: the record columns history lacks, as ALTER TABLE ADD COLUMNS takes them, or 'none'.
    CREATE TABLE IF NOT EXISTS never changes a table made by an older version: without this, a column added to
    `schema.py` would make every MERGE name a column history does not have, and compaction stop for good."""
    wanted = ",\n  ".join(f"({i}, '{c.name}', '{c.type}')" for i, c in enumerate(COLUMNS))
    return f"""SELECT coalesce(array_join(array_agg(wanted.name || ' ' || wanted.type ORDER BY wanted.pos), ', '), 'none') AS missing
FROM (VALUES
  {wanted}
) AS wanted (pos, name, type)
WHERE wanted.name NOT IN (
  SELECT column_name FROM information_schema.columns WHERE table_schema = '{database}' AND table_name = '{HISTORY}'
)"""


def add_columns_sql(database: str = DATABASE) -> str:
    """Iceberg adds columns as metadata only (no file is rewritten); rows merged before read them as null.
    Athena takes Hive types here, complex ones included (Athena user guide, "ALTER TABLE ADD COLUMNS" and
    "Evolve Iceberg table schema")."""
    return f"ALTER TABLE {ddl_ref(HISTORY, database)} ADD COLUMNS ({{missing}})"


def watermark_ddl(location: str, database: str = DATABASE) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {ddl_ref(WATERMARK, database)} (compacted_until timestamp)\n"
        f"LOCATION '{location}{WATERMARK}/'\n"
        f"TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', {table_properties()})"
    )


def plan_sql(database: str = DATABASE, settle_minutes: int = SETTLE_MINUTES) -> str:
    """One row: the next period to merge (`start` to `stop`, within one day `dt`, hours `start_hour` to
        `stop_hour` exclusive), the watermark after it (`until`), and whether more closed hours wait (`more`).
        Empty work when start >= stop. A run's first period starts at the look-back, or at `{from}` when that is
        earlier (an hour the reconciliation found short); each next one at `{after}`, the stop before it, so a
        catch-up always moves on. An hour is closed `settle_minutes` after it ends (the stack's writes may still
        land until then; a local lake has none). `yesterday` is the day the daily pass bin-packs; `since` (the look-back
    before `start`) and `open_since` are where agent activity's refresh reads from (`lake_sql.activity`)."""
    return f"""WITH mark AS (
  SELECT max(compacted_until) AS until FROM {ref(WATERMARK, database)}
),
-- current_timestamp carries a zone (UTC in Athena); the tables' timestamps do not: compare like with like.
bounds AS (
  SELECT
    greatest(least(coalesce(mark.until - INTERVAL '{LOOKBACK_HOURS}' HOUR,
                            date_trunc('day', CAST(current_timestamp AS timestamp) - INTERVAL '{FIRST_RUN_DAYS}' DAY)),
                   TIMESTAMP '{{from}}'),
             TIMESTAMP '{{after}}') AS start,
    date_trunc('hour', CAST(current_timestamp AS timestamp) - INTERVAL '{settle_minutes}' MINUTE) AS target,
    mark.until AS previous
  FROM mark
),
period AS (
  SELECT start, least(date_trunc('day', start) + INTERVAL '1' DAY, target) AS stop, target, previous FROM bounds
)
SELECT
  date_format(start, '{TS}') AS start,
  date_format(stop, '{TS}') AS stop,
  date_format(start, '%Y-%m-%d') AS dt,
  CAST(hour(start) AS varchar) AS start_hour,
  CAST(CASE WHEN stop > start AND date_trunc('day', stop) > date_trunc('day', start) THEN 24 ELSE hour(stop) END AS varchar) AS stop_hour,
  date_format(greatest(coalesce(previous, stop), stop), '{TS}') AS until,
  CASE WHEN start < stop THEN 'yes' ELSE 'no' END AS work,
  CASE WHEN stop < target THEN 'yes' ELSE 'no' END AS more,
  date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d') AS yesterday,
  date_format(start - INTERVAL '{LOOKBACK_HOURS}' HOUR, '{TS}') AS since,
  date_format(start - INTERVAL '{LOOKBACK_HOURS}' HOUR, '%Y-%m-%d') AS since_dt,
  date_format(date_trunc('day', start) - INTERVAL '{OPEN_DAYS}' DAY, '{TS}') AS open_since,
  date_format(date_trunc('day', start) - INTERVAL '{OPEN_DAYS}' DAY, '%Y-%m-%d') AS open_dt
FROM period"""


def merge_sql(database: str = DATABASE) -> str:
    """Rows of the raw snapshots in [start, stop) that history does not hold yet. The raw side reads the
    period's dt and hour partitions only; the history side its dt partitions, and within them the files
    whose `hour` statistics overlap (each merge writes its own files)."""
    values = ", ".join(f"r.{c}" for c in ROW.split(", "))
    return f"""MERGE INTO {ref(HISTORY, database)} AS h
USING (
  SELECT {ROW}
  FROM {ref(TABLE, database)}
  WHERE dt = '{{dt}}' AND hour >= {{start_hour}} AND hour < {{stop_hour}}
    AND snapshot_time >= TIMESTAMP '{{start}}' AND snapshot_time < TIMESTAMP '{{stop}}'
) AS r
ON h.dt = '{{dt}}' AND h.hour >= {{start_hour}} AND h.hour < {{stop_hour}}
  AND h.instance_id = r.instance_id AND h.filter_name = r.filter_name
  AND h.snapshot_time = r.snapshot_time AND h.user_id = r.user_id
WHEN NOT MATCHED THEN INSERT ({ROW}) VALUES ({values})"""


def watermark_sql(database: str = DATABASE) -> str:
    return f"INSERT INTO {ref(WATERMARK, database)} (compacted_until) VALUES (TIMESTAMP '{{until}}')"


def raw_rows_sql(database: str = DATABASE) -> str:
    """Every raw snapshot row in the view's columns: the view's raw side, and the whole view until the first
    compaction (the stack creates it so at deploy: named queries answer from the first minute)."""
    return f"SELECT {ROW} FROM {ref(TABLE, database)}"


# The view's raw side from the watermark's hour on (not its whole day): what "now" queries read of raw.
RAW_HOUR_BOUND = "\n  AND (dt > substr('{until}', 1, 10) OR hour >= CAST(substr('{until}', 12, 2) AS integer))"


def view_sql(database: str = DATABASE) -> str:
    """History before the watermark, raw snapshots from it on; literal bounds so both sides prune partitions:
    the raw side reads the watermark's day from its hour on, and later days (the bounds fold to constants)."""
    return f"""CREATE OR REPLACE VIEW {ref(VIEW, database)} AS
SELECT {ROW} FROM {ref(HISTORY, database)} WHERE snapshot_time < TIMESTAMP '{{until}}'
UNION ALL
{raw_rows_sql(database)} WHERE dt >= substr('{{until}}', 1, 10){RAW_HOUR_BOUND}
  AND snapshot_time >= TIMESTAMP '{{until}}'"""


def trino_type(hive_type: str) -> str:
    """The type Athena (Trino) gives a Hive DDL column type of the raw table: its timestamps are millisecond
    precision (timestamp(3)), nested ones included."""
    import sqlglot.expressions as exp  # here: the installed CLI reads the lake's SQL without sqlglot

    text = exp.DataType.build(hive_type, dialect="hive").sql("trino").lower()
    return re.sub(r"\btimestamp\b(?!\()", "timestamp(3)", text)


def presto_view_text(database: str = DATABASE) -> str:
    """`raw_rows_sql` as Athena stores a view in Glue (`ViewOriginalText`): the form Trino's Hive connector
    decodes (its `ViewReader`: a `ConnectorViewDefinition` JSON where the table has `presto_view`),
    "/* Presto View: " + base64(JSON of the view definition) + " */", columns typed as Trino reads the raw
    table (a declared type the query cannot produce makes the view stale). SECURITY INVOKER: a reader needs
    the raw table's grants, as for the views compaction writes."""
    definition = {
        "originalSql": raw_rows_sql(database),
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": c.name, "type": trino_type(c.type)} for c in (*COLUMNS, *PARTITION_COLUMNS)],
        "runAsInvoker": True,
    }
    return "/* Presto View: " + base64.b64encode(json.dumps(definition).encode()).decode() + " */"


def reconcile_sql(database: str = DATABASE, days: int = 2) -> str:
    """One row, `from`: the first compacted hour (before the watermark) of the last `days` in which raw holds
    more rows than history, or NEVER. A minute written after its hour's look-back (a backfill, a late retry)
    is merged when the next plan starts there. Counts per partition: history reads its small `dt`, `hour`
    and key columns; raw JSON is read whole (one query: it must fit the workgroup's scan cutoff; its cost is
    in `plan`)."""
    window = f"date_format(current_date - INTERVAL '{days}' DAY, '%Y-%m-%d')"
    keys = "instance_id, filter_name, dt, hour"
    return f"""WITH mark AS (
  SELECT max(compacted_until) AS until FROM {ref(WATERMARK, database)}
),
raw AS (
  SELECT {keys}, count(*) AS n FROM {ref(TABLE, database)}, mark
  WHERE dt >= {window} AND snapshot_time < mark.until GROUP BY {keys}
),
kept AS (
  SELECT {keys}, count(*) AS n FROM {ref(HISTORY, database)}, mark
  WHERE dt >= {window} AND snapshot_time < mark.until GROUP BY {keys}
)
SELECT coalesce(date_format(min(date_parse(raw.dt, '%Y-%m-%d') + raw.hour * INTERVAL '1' HOUR), '{TS}'), '{NEVER}') AS "from"
FROM raw LEFT JOIN kept ON raw.instance_id = kept.instance_id AND raw.filter_name = kept.filter_name
  AND raw.dt = kept.dt AND raw.hour = kept.hour
WHERE kept.n IS NULL OR kept.n < raw.n"""


def expired_sql(database: str = DATABASE, retention_days: int = 400, tables: tuple[str, ...] = (HISTORY,)) -> str:
    """One row, `dt`: the oldest day past its retention in any of `tables` (history and agent activity's two,
    which hold the same agents' data and so keep it no longer), or 'none'. Retention takes one day a pass (one
    partition per filter a statement), so a backlog of expired days is caught up day by day."""
    cutoff = f"date_format(current_date - INTERVAL '{retention_days}' DAY, '%Y-%m-%d')"
    days = "\n  UNION ALL\n  ".join(f"SELECT min(dt) AS dt FROM {ref(table, database)} WHERE dt < {cutoff}" for table in tables)
    return f"""SELECT coalesce(min(dt), 'none') AS dt FROM (
  {days}
) AS expired"""


def retention_sql(database: str = DATABASE, table: str = HISTORY) -> str:
    """One expired day of `table` (whole dt partitions); the OPTIMIZE that follows makes its files unreferenced."""
    return f"DELETE FROM {ref(table, database)} WHERE dt = '{{dt}}'"


def optimize_sql(database: str = DATABASE, table: str = HISTORY, where: str = "") -> str:
    """Bin-packs small files (hourly merges leave many) and rewrites files with deletes; `where` on partition
    columns only (Athena), so a daily pass reads the day it needs, not all of history."""
    return f"OPTIMIZE {ddl_ref(table, database)} REWRITE DATA USING BIN_PACK" + (f" WHERE {where}" if where else "")


def optimize_expired_sql(database: str = DATABASE, table: str = HISTORY) -> str:
    """The expired day just deleted: every file has a delete file, so each is rewritten into nothing."""
    return optimize_sql(database, table, where="dt = '{dt}'")


def optimize_yesterday_sql(database: str = DATABASE) -> str:
    """Yesterday's partitions (the plan's `yesterday`), which a day of hourly merges filled with small files."""
    return optimize_sql(database, where="dt = '{yesterday}'")


def trim_watermark_sql(database: str = DATABASE) -> str:
    """Every watermark row but the newest, the plan's `until` (else a row and a snapshot an hour, forever)."""
    return f"DELETE FROM {ref(WATERMARK, database)} WHERE compacted_until < TIMESTAMP '{{until}}'"


def vacuum_sql(database: str = DATABASE, table: str = HISTORY) -> str:
    """Expires old snapshots and removes files no snapshot references (a failed merge's orphans included)."""
    return f"VACUUM {ddl_ref(table, database)}"


def render(template: str, values: dict[str, str]) -> str:
    """Fill a step's `{placeholders}` with the plan's answer (the state machine does the same with States.Format)."""
    return template.format(**values)
