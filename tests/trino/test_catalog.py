"""The stack's catalog as Athena engine v3 reads it: the raw table and the bootstrap view, from the template."""

from __future__ import annotations

from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake


def test_the_raw_table_reads_every_snapshot_row_with_its_timestamps_as_duckdb_does(athena, snapshots):
    sql = (
        f"SELECT count(*) AS n, count(DISTINCT user_id) AS agents, min(snapshot_time) AS first, max(snapshot_time) AS last, "
        f"sum(cardinality(contacts)) AS contacts, max(hour) AS last_hour FROM {TABLE_REF}"
    )
    (on_trino,) = athena.execute(sql)
    con = Lake(snapshots.parent).connect()
    (on_duckdb,) = run_query(con, sql)
    con.close()
    assert on_trino == on_duckdb and on_trino["n"] > 0


def test_the_bootstrap_view_answers_right_after_deploy_with_the_declared_types(athena):
    (rows,) = athena.execute(f"SELECT count(*) AS n FROM {VIEW_REF}")
    (raw,) = athena.execute(f"SELECT count(*) AS n FROM {TABLE_REF}")
    assert rows == raw and raw["n"] > 0
