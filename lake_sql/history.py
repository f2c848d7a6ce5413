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
  compacted (a retried write) is merged by a later run.
- A plan covers at most a day and the state machine loops while `more`: a backlog of days is caught
  up in order, and every write touches at most (instances x filters x 2) partitions.
"""

from __future__ import annotations

import base64
import json
import re

import sqlglot.expressions as exp
from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, Column

from .queries import DATABASE, TABLE

HISTORY, WATERMARK, VIEW = "history", "history_watermark", "user_data"
LOOKBACK_HOURS = 2
# A minute is written within one schedule period (later runs are skipped) plus the function's timeout.
SETTLE_MINUTES = 35
FIRST_RUN_DAYS = 7  # how far back the first compaction looks: raw snapshots are kept at least this long
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
        "TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet', 'write_compression'='zstd')"
    )


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
        "TBLPROPERTIES ('table_type'='ICEBERG', 'format'='parquet')"
    )


def plan_sql(database: str = DATABASE, settle_minutes: int = SETTLE_MINUTES, retention_days: int = 400) -> str:
    """One row: the next period to merge (`start` to `stop`, with their dt partitions), the watermark after
    it (`until`), and whether more closed hours wait (`more`). Empty work when start >= stop. An hour is
    closed `settle_minutes` after it ends (the stack's writes may still land until then; a local lake has none)."""
    return f"""WITH mark AS (
  SELECT max(compacted_until) AS until FROM {ref(WATERMARK, database)}
),
-- current_timestamp carries a zone (UTC in Athena); the tables' timestamps do not: compare like with like.
bounds AS (
  SELECT
    coalesce(mark.until - INTERVAL '{LOOKBACK_HOURS}' HOUR,
             date_trunc('day', CAST(current_timestamp AS timestamp) - INTERVAL '{FIRST_RUN_DAYS}' DAY)) AS start,
    date_trunc('hour', CAST(current_timestamp AS timestamp) - INTERVAL '{settle_minutes}' MINUTE) AS target,
    mark.until AS previous
  FROM mark
),
period AS (
  SELECT start, least(start + INTERVAL '1' DAY, target) AS stop, target, previous FROM bounds
)
SELECT
  date_format(start, '{TS}') AS start,
  date_format(stop, '{TS}') AS stop,
  date_format(start, '%Y-%m-%d') AS start_dt,
  date_format(stop, '%Y-%m-%d') AS stop_dt,
  date_format(greatest(coalesce(previous, stop), stop), '{TS}') AS until,
  CASE WHEN start < stop THEN 'yes' ELSE 'no' END AS work,
  CASE WHEN stop < target THEN 'yes' ELSE 'no' END AS more,
  date_format(current_date - INTERVAL '{retention_days}' DAY, '%Y-%m-%d') AS retention_dt
FROM period"""


def merge_sql(database: str = DATABASE) -> str:
    """Rows of the raw snapshots in [start, stop) that history does not hold yet; both sides read only the
    period's dt partitions."""
    values = ", ".join(f"r.{c}" for c in ROW.split(", "))
    return f"""MERGE INTO {ref(HISTORY, database)} AS h
USING (
  SELECT {ROW}
  FROM {ref(TABLE, database)}
  WHERE dt BETWEEN '{{start_dt}}' AND '{{stop_dt}}'
    AND snapshot_time >= TIMESTAMP '{{start}}' AND snapshot_time < TIMESTAMP '{{stop}}'
) AS r
ON h.dt BETWEEN '{{start_dt}}' AND '{{stop_dt}}'
  AND h.instance_id = r.instance_id AND h.filter_name = r.filter_name
  AND h.snapshot_time = r.snapshot_time AND h.user_id = r.user_id
WHEN NOT MATCHED THEN INSERT ({ROW}) VALUES ({values})"""


def watermark_sql(database: str = DATABASE) -> str:
    return f"INSERT INTO {ref(WATERMARK, database)} (compacted_until) VALUES (TIMESTAMP '{{until}}')"


def raw_rows_sql(database: str = DATABASE) -> str:
    """Every raw snapshot row in the view's columns: the view's raw side, and the whole view until the first
    compaction (the stack creates it so at deploy: named queries answer from the first minute)."""
    return f"SELECT {ROW} FROM {ref(TABLE, database)}"


def view_sql(database: str = DATABASE) -> str:
    """History before the watermark, raw snapshots from it on; literal bounds so both sides prune partitions."""
    return f"""CREATE OR REPLACE VIEW {ref(VIEW, database)} AS
SELECT {ROW} FROM {ref(HISTORY, database)} WHERE snapshot_time < TIMESTAMP '{{until}}'
UNION ALL
{raw_rows_sql(database)} WHERE dt >= substr('{{until}}', 1, 10) AND snapshot_time >= TIMESTAMP '{{until}}'"""


def trino_type(hive_type: str) -> str:
    """The type Athena (Trino) gives a Hive DDL column type of the raw table: its timestamps are millisecond
    precision (timestamp(3)), nested ones included."""
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


def retention_sql(database: str = DATABASE) -> str:
    """History days past their retention (whole dt partitions: Iceberg drops their files at the next VACUUM)."""
    return f"DELETE FROM {ref(HISTORY, database)} WHERE dt < '{{retention_dt}}'"


def optimize_sql(database: str = DATABASE) -> str:
    """Hourly merges leave small files; bin-packing rewrites them into few large ones per partition."""
    return f"OPTIMIZE {ddl_ref(HISTORY, database)} REWRITE DATA USING BIN_PACK"


def vacuum_sql(database: str = DATABASE) -> str:
    """Expires old snapshots and removes files no snapshot references (a failed merge's orphans included)."""
    return f"VACUUM {ddl_ref(HISTORY, database)}"


def render(template: str, values: dict[str, str]) -> str:
    """Fill a step's `{placeholders}` with the plan's answer (the state machine does the same with States.Format)."""
    return template.format(**values)
