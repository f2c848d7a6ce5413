"""`connect-exporter activity`: agent_activity rows for WFM tools from a compacted local lake, and from Athena
(moto's, fed the rows the lake answered) by the same statement; errors are one line and exit 2."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends

from connect_exporter.tools import activity as export
from connect_exporter.tools.cli import main
from lake_sql.activity import EXPORT_COLUMNS, export_sql
from local_athena import pictures
from local_athena.lake import Lake, compact
from simulator.history import export_history
from simulator.world import build_instance

START = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """Two closed hours (22:00 and 23:00) of 30 agents, compacted."""
    instance = build_instance(seed=4, agents=30, routing_profiles=4, queues=6, epoch=START)
    root = tmp_path_factory.mktemp("lake")
    export_history(instance, [{"name": "all-agents"}], START, 120, root / "snapshots", lambda docs: 0)
    compact(Lake(root), START + dt.timedelta(hours=2))
    return root


def test_the_pictures_are_drawn_from_the_tables(lake, tmp_path):
    """`make activity`'s pictures: a bar per status interval of the busiest agents, a cell per profile and interval."""
    import matplotlib.image

    con = Lake(lake).connect()
    try:
        bars = pictures.timeline(con, tmp_path / "timeline.png")
        cells = pictures.occupancy(con, tmp_path / "occupancy.png")
    finally:
        con.close()
    assert bars > 8 and cells == 4 * 8  # four profiles, eight quarter hours
    for name in ("timeline.png", "occupancy.png"):
        pixels = matplotlib.image.imread(tmp_path / name)
        colors = {tuple(p) for row in pixels[::8, ::8] for p in row}
        assert (tmp_path / name).stat().st_size > 10_000 and len(colors) > 8, name


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["activity", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_has_the_documented_columns_and_every_row_of_the_span(lake, capsys):
    code, out, err = cli(capsys, "--lake", str(lake), "--from", "2026-11-24T22:00", "--to", "2026-11-25T00:00")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    quarters = {f"{START + dt.timedelta(minutes=15 * k):%Y-%m-%dT%H:%M:%SZ}" for k in range(8)}
    assert {r["interval_start"] for r in rows} == quarters
    assert f"{len(rows)} row(s) of agent activity from 2026-11-24 22:00:00 to 2026-11-25 00:00:00 UTC" in err
    # Each agent's logged-in seconds in an interval are at most the interval.
    per_agent: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r["user_id"], r["interval_start"])
        per_agent[key] = per_agent.get(key, 0) + float(r["seconds"]) + float(r["unobserved_seconds"])
    assert max(per_agent.values()) <= 900 and sum(per_agent.values()) > 30 * 900


def test_hourly_intervals_sum_the_stored_quarter_hours_and_a_zone_adds_local_times(lake, capsys):
    _, quarters, _ = cli(
        capsys, "--lake", str(lake), "--from", "2026-11-24T22:00", "--to", "2026-11-25T00:00", "--format", "json"
    )
    code, hours, err = cli(
        capsys,
        *("--lake", str(lake), "--from", "2026-11-24T23:00", "--to", "2026-11-25T01:00", "--format", "json"),
        *("--interval", "60", "--timezone", "Europe/Paris"),  # 23:00 in Paris is 22:00 UTC
    )
    assert code == 0, err
    fine = [json.loads(line) for line in quarters.splitlines()]
    coarse = [json.loads(line) for line in hours.splitlines()]
    assert {r["interval_minutes"] for r in coarse} == {60} and {r["interval_start"] for r in coarse} == {
        "2026-11-24T22:00:00Z",
        "2026-11-24T23:00:00Z",
    }
    assert {r["interval_start_local"] for r in coarse} == {"2026-11-24T23:00:00+01:00", "2026-11-25T00:00:00+01:00"}
    for column in ("seconds", "voice_contacts", "chat_active_slot_seconds"):
        assert sum(r[column] for r in coarse) == pytest.approx(sum(r[column] for r in fine), abs=0.01) and sum(
            r[column] for r in fine
        )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--from", "2026-11-25", "--to", "2026-11-24"), "--to '2026-11-24' is not after --from '2026-11-25'"),
        (("--from", "yesterday", "--to", "2026-11-24"), "--from 'yesterday' is not an ISO-8601 date or date-time"),
        (("--from", "2026-11-24T22:10", "--to", "2026-11-25", "--interval", "15"), "not on a 15-minute boundary"),
        (("--from", "2026-11-24", "--to", "2026-11-25", "--timezone", "Mars/Olympus"), "'Mars/Olympus' is not an IANA time zone"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(lake, capsys, args, problem):
    code, out, err = cli(capsys, "--lake", str(lake), *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and problem in err


def test_an_athena_database_that_is_no_glue_name_is_refused_before_any_call(capsys):
    code, out, err = cli(capsys, "--athena", "wg", 'x"; DROP TABLE y; --', "--from", "2026-11-24", "--to", "2026-11-25")
    assert code == 2 and out == "" and "is not a Glue database name" in err and err.count("\n") == 1


def test_a_lake_with_no_snapshots_is_named(tmp_path, capsys):
    code, out, err = cli(capsys, "--lake", str(tmp_path), "--from", "2026-11-24", "--to", "2026-11-25")
    assert code == 2 and out == "" and f"no snapshots under {tmp_path / 'snapshots'}" in err


def test_an_empty_span_says_why_there_may_be_no_rows(lake, capsys):
    code, out, err = cli(capsys, "--lake", str(lake), "--from", "2026-11-20", "--to", "2026-11-21")
    assert code == 0 and out.splitlines() == [",".join(EXPORT_COLUMNS)] and "warning: no rows" in err


def athena_types(rows: list[dict]) -> list[dict[str, str]]:
    kinds = {int: "bigint", float: "double"}
    return [{"Name": name, "Type": kinds.get(type(value), "varchar")} for name, value in rows[0].items()]


def test_over_athena_the_same_statement_streams_the_same_rows_and_says_its_cost(lake, capsys, monkeypatch):
    """Moto's Athena runs nothing: it is handed the rows DuckDB answered, as Athena's result set (strings,
    typed by ColumnInfo, the header first, paged); the CSV must come out as from the lake."""
    sql = export_sql("2026-11-24 22:00:00", "2026-11-25 00:00:00", database="connect_user_data_prod")
    lake_rows = list(export.from_lake(str(lake), sql.replace("connect_user_data_prod", "connect_user_data")))
    monkeypatch.setattr(export, "ATHENA_POLL_SECONDS", 0)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    def text(value) -> dict:
        return {"VarCharValue": value.strftime("%Y-%m-%d %H:%M:%S.000") if isinstance(value, dt.datetime) else str(value)}

    with mock_aws():
        client = boto3.client("athena", region_name="us-east-1")
        client.create_work_group(Name="exporter-wg")
        results = [
            {"Data": [{"VarCharValue": c} for c in lake_rows[0]]},
            *({"Data": [text(v) for v in r.values()]} for r in lake_rows),
        ]
        athena_backends["123456789012"]["us-east-1"].query_results_queue.append(QueryResults(results, athena_types(lake_rows)))
        code, out, err = cli(
            capsys, "--athena", "exporter-wg", "connect_user_data_prod", "--from", "2026-11-24T22:00", "--to", "2026-11-25T00:00"
        )
        (execution,) = client.list_query_executions(WorkGroup="exporter-wg")["QueryExecutionIds"]
        ran = client.get_query_execution(QueryExecutionId=execution)["QueryExecution"]
    assert code == 0, err
    assert ran["Query"] == sql and ran["QueryExecutionContext"] == {"Database": "connect_user_data_prod"}
    assert f"athena: query {execution} scanned 0.0 MB, about $0.00005" in err  # Athena bills 10 MB at least
    _, from_the_lake, _ = cli(capsys, "--lake", str(lake), "--from", "2026-11-24T22:00", "--to", "2026-11-25T00:00")
    assert out == from_the_lake and len(out.splitlines()) == len(lake_rows) + 1
