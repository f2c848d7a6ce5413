"""`python -m simulator history`, then `python -m local_athena compact` and `query`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lake_sql.named import QUERIES

from ..support import REPO


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
    return subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True, timeout=300)


def sql_rows(lake, sql: str) -> subprocess.CompletedProcess:
    """`python -m local_athena query --sql` on the lake, its rows as JSON lines."""
    return run("local_athena", "query", "--lake", str(lake), "--format", "json", "--sql", sql)


def test_history_compact_then_every_named_query_and_any_sql_runs_locally(tmp_path):
    made = run("simulator", "history", "--minutes", "3", "--agents", "60", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "3 snapshots" in made.stderr and "0 failed filters" in made.stderr
    assert "filter written" not in made.stderr  # the summary is not buried in per-filter logs
    compacted = run("local_athena", "compact", "--lake", str(tmp_path))
    assert compacted.returncode == 0, compacted.stderr
    assert "history compacted as of" in compacted.stderr and str(tmp_path / "history") in compacted.stderr
    for query in QUERIES:
        ran = run("local_athena", "query", "--lake", str(tmp_path), "--name", query.name, "--rows", "3")
        assert ran.returncode == 0, (query.name, ran.stderr)
        assert ran.stdout.startswith(f"-- {query.name}: ")
    latest = run("local_athena", "query", "--lake", str(tmp_path), "--name", "latest-agent-state", "--format", "json")
    rows = [json.loads(line) for line in latest.stdout.splitlines()]
    assert len(rows) == 60 and {"user_id", "status_name", "last_seen"} <= set(rows[0])  # every agent was logged in
    counted = sql_rows(tmp_path, 'SELECT count(*) AS n FROM "connect_user_data"."user_data"')
    (row,) = [json.loads(line) for line in counted.stdout.splitlines()]
    raw = sql_rows(tmp_path, 'SELECT count(*) AS n FROM "connect_user_data"."snapshots"')
    assert row == json.loads(raw.stdout) and row["n"] > 0


def test_bad_lake_input_is_one_line(tmp_path):
    missing = run("local_athena", "query", "--lake", str(tmp_path), "--name", "latest-agent-state")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"error: no snapshots under {tmp_path / 'snapshots'} (write some with `connect_exporter snapshot --out {tmp_path / 'snapshots'}`)"
    ]
    run("simulator", "history", "--minutes", "1", "--agents", "10", "--out", str(tmp_path))
    unknown = run("local_athena", "query", "--lake", str(tmp_path), "--name", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no named query nope; there are latest-agent-state")
    broken = run("local_athena", "query", "--lake", str(tmp_path), "--sql", "SELECT nope FROM nowhere")
    assert (
        broken.returncode == 2
        and len(broken.stderr.strip().splitlines()) == 1
        and broken.stderr.startswith("error: query failed:")
    )
    when = run("local_athena", "compact", "--lake", str(tmp_path), "--until", "yesterday")
    assert when.returncode == 2 and when.stderr.strip() == "error: --until: not an ISO-8601 time: 'yesterday'"


def test_compact_brings_a_history_made_by_an_older_version_up_to_the_schema(tmp_path):
    """A lake whose history was made without a column (`status_name` here), compacted by this version: the
    column is added, the rows merged after carry its values, and the view answers as raw does."""
    import duckdb

    from lake_sql import history

    assert run("simulator", "history", "--minutes", "3", "--agents", "30", "--out", str(tmp_path)).returncode == 0
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    until = (now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)).isoformat()  # the span's hours are closed
    assert run("local_athena", "compact", "--lake", str(tmp_path), "--until", until).returncode == 0
    con = duckdb.connect(str(tmp_path / "history" / "lake.duckdb"))
    con.execute(f"DROP VIEW IF EXISTS {history.ref(history.VIEW)}")
    con.execute(f"ALTER TABLE {history.ref(history.HISTORY)} DROP COLUMN status_name")
    con.execute(f"DELETE FROM {history.ref(history.HISTORY)}")  # and nothing compacted yet: the merge has work
    con.execute(f"DELETE FROM {history.ref(history.WATERMARK)}")
    con.close()
    again = run("local_athena", "compact", "--lake", str(tmp_path), "--until", until)
    assert again.returncode == 0, again.stderr

    def one(sql: str) -> dict:
        (row,) = [
            json.loads(line)
            for line in run(
                "local_athena", "query", "--lake", str(tmp_path), "--format", "json", "--sql", sql
            ).stdout.splitlines()
        ]
        return row

    kept = one(f"SELECT count(*) AS n, count(status_name) AS named FROM {history.ref(history.HISTORY)}")
    assert kept["n"] == kept["named"] > 0
    assert one(f"SELECT count(*) AS n FROM {history.ref(history.VIEW)}") == one(
        'SELECT count(*) AS n FROM "connect_user_data"."snapshots"'
    )


def test_compact_maintenance_runs_the_daily_execution_locally(tmp_path):
    """`--maintenance` adds what the daily execution runs: reconciliation first (nothing short here), then the
    watermark trim and retention; history past `--retention-days` is dropped, a day a line."""
    import datetime as dt

    assert run("simulator", "history", "--minutes", "3", "--agents", "20", "--out", str(tmp_path)).returncode == 0
    now = dt.datetime.now(dt.UTC)
    closed = (now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)).isoformat()
    assert run("local_athena", "compact", "--lake", str(tmp_path), "--until", closed).returncode == 0
    daily = run("local_athena", "compact", "--lake", str(tmp_path), "--until", closed, "--maintenance")
    assert daily.returncode == 0 and "retention" not in daily.stderr and "reconciled" not in daily.stderr, daily.stderr
    later = (now + dt.timedelta(days=3)).isoformat()
    expired = run("local_athena", "compact", "--lake", str(tmp_path), "--until", later, "--maintenance", "--retention-days", "1")
    assert expired.returncode == 0, expired.stderr
    days = {line.split()[-1] for line in expired.stderr.splitlines() if line.startswith("retention: dropped history of")}
    assert days == {f"{now - dt.timedelta(minutes=m):%Y-%m-%d}" for m in range(3)}  # the span's day(s)
    rows = sql_rows(tmp_path, 'SELECT count(*) AS n FROM "connect_user_data"."history"')
    assert json.loads(rows.stdout) == {"n": 0}
