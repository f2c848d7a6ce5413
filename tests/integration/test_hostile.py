"""The write path against a hostile world (issue 14's eleven breaks and the smaller ones): a Connect that
pages forever, answers too late or answers wrong, an S3 that loses answers or storms, and input that is
almost right. Each test drives the product as a user does (the CLI as a subprocess, the handler as Lambda
calls it) and asserts what a user sees: records, metrics, exit codes and error lines.
"""

from __future__ import annotations

import json
import time

import pytest

from simulator import hostile
from simulator.scenario import build_instances
from simulator.server import Faults

from ..s3_faults import ERROR_AFTER_STORE, LOST, SLOW, SLOW_DOWN, S3FaultProxy, S3Faults
from ..support import Context, emf_lines, emf_value, expected_ids, read_tree

AT = "2026-11-24T10:00:00Z"
FAST = {"requests_per_second": 500, "burst": 50}


@pytest.fixture(scope="module")
def center():
    (inst,) = build_instances(1, 400, seed=41, routing_profiles=12, queues=20)
    return inst


def write_config(tmp_path, inst, filters, **extra) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"instances": [{"instance_id": inst.id, "filters": filters}], "pacing": FAST, **extra}))
    return str(path)


def snapshot(run_cli, tmp_path, inst, filters, out=None, at=AT):
    """`connect-exporter snapshot` of these filters at `at` into `out` (tmp_path/out), as a user runs it."""
    out = str(tmp_path / "out") if out is None else out
    return run_cli("snapshot", "--config", write_config(tmp_path, inst, filters), "--out", out, "--at", at)


def only_for(agents: list[str], rewrite):
    """A hostile rewrite applied to one filter's calls (Agents == `agents`); every other call is honest."""

    def apply(operation, params, answer):
        if operation == "GetCurrentUserData" and params["Filters"].get("Agents") == agents:
            return rewrite(operation, params, answer)
        return answer

    return apply


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_exact(inst, filt, records):
    ids = [r["user_id"] for r in records]
    assert len(ids) == len(set(ids)) and set(ids) == expected_ids(inst, filt), filt["name"]


# --- 1. paging that always ends ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["repeat-token", "endless-pages"])
def test_a_filter_that_pages_forever_fails_alone_in_one_line(tmp_path, connect_sim, run_cli, center, mode):
    vip = sorted(center.agents)[:100]  # one chunk: the loop hands its page one token back
    rewrite = (
        hostile.repeat_token("GetCurrentUserData") if mode == "repeat-token" else hostile.endless_pages("GetCurrentUserData")
    )
    connect_sim([center], faults=Faults(rewrite=only_for(vip, rewrite)))
    filters = [{"name": "vip", "agents": vip}, {"name": "all-agents"}]
    started = time.monotonic()
    result = run_cli("snapshot", "--config", write_config(tmp_path, center, filters), "--out", str(tmp_path / "out"), "--at", AT)
    assert time.monotonic() - started < 30  # before: 1,526 calls in 30 s and no end
    assert result.returncode == 1
    (line,) = errors(result.stderr)
    assert line.startswith(f"error: instance {center.id} filter vip: GetCurrentUserData ") and "paging stopped" in line
    written = {key.split("/")[1]: rows for key, rows in read_tree(tmp_path / "out").items()}
    assert list(written) == ["filter_name=all-agents"]
    assert_exact(center, filters[1], written["filter_name=all-agents"])
    assert emf_value(emf_lines(result.stdout), "FilterFailed", InstanceId=center.id, Filter="vip") == 1


def test_a_name_lookup_that_pages_forever_leaves_names_null_and_is_counted(tmp_path, connect_sim, run_cli, center):
    sim = connect_sim([center], faults=Faults(rewrite=hostile.endless_pages("ListUsers")))
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(center.agents)[:150]}]
    result = run_cli("snapshot", "--config", write_config(tmp_path, center, filters), "--out", str(tmp_path / "out"), "--at", AT)
    assert result.returncode == 0, result.stderr
    written = {key.split("/")[1]: rows for key, rows in read_tree(tmp_path / "out").items()}
    for filt in filters:
        records = written[f"filter_name={filt['name']}"]
        assert_exact(center, filt, records)
        assert all(r["username"] is None for r in records) and all(r["routing_profile_name"] for r in records)
    assert emf_value(emf_lines(result.stdout), "NameLookupsFailed", InstanceId=center.id) == 1
    assert result.stderr.count("ListUsers failed; users names stay null") == 1
    # One failed lookup a run (page one, then the page that repeats it), not one for every page of every filter.
    assert sim.calls["ListUsers"] == 2


def test_routing_profiles_that_page_forever_fail_the_all_agents_filter_only(tmp_path, connect_sim, run_cli, center):
    connect_sim([center], faults=Faults(rewrite=hostile.repeat_token("ListRoutingProfiles")))
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(center.agents)[:20]}]
    result = run_cli("snapshot", "--config", write_config(tmp_path, center, filters), "--out", str(tmp_path / "out"), "--at", AT)
    assert result.returncode == 1
    (line,) = errors(result.stderr)
    assert line.startswith(f"error: instance {center.id} filter all-agents: cannot list routing profiles: ListRoutingProfiles ")
    assert line.endswith("paging stopped")
    (records,) = read_tree(tmp_path / "out").values()
    assert_exact(center, filters[1], records)


def test_in_lambda_a_looping_filter_costs_only_itself_not_the_run(deploy, connect_sim, center, capsys):
    from connect_exporter import handler
    from connect_exporter.snapshot import SnapshotFailed

    vip = sorted(center.agents)[:100]
    connect_sim([center], faults=Faults(rewrite=only_for(vip, hostile.repeat_token("GetCurrentUserData"))))
    filters = [{"name": "vip", "agents": vip}, {"name": "later", "agents": sorted(center.agents)[200:260]}]
    objects = deploy({"instances": [{"instance_id": center.id, "filters": filters}], "pacing": FAST})
    with pytest.raises(SnapshotFailed, match="filter vip: GetCurrentUserData handed back a NextToken") as info:
        handler.lambda_handler({"scheduled_time": AT}, Context(budget_seconds=20))
    assert "filter later" not in str(info.value)  # before: the loop ran into the deadline and failed every filter
    (records,) = objects().values()
    assert_exact(center, filters[1], records)


# --- 2. write-once that knows its own writes ----------------------------------------------------------------


@pytest.fixture
def s3_faults(s3, moto_endpoint, monkeypatch):
    """moto's S3 behind a fault proxy; AWS_ENDPOINT_URL_S3 points at the proxy (the bucket is made directly)."""
    faults = S3Faults()
    proxy = S3FaultProxy(moto_endpoint, faults)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.serve())
    yield faults
    proxy.stop()


@pytest.mark.parametrize("mode", [LOST, ERROR_AFTER_STORE])
def test_a_put_whose_answer_is_lost_counts_as_this_runs_write_with_its_metrics(
    deploy, connect_sim, center, s3, s3_faults, mode, capsys
):
    from connect_exporter import handler

    connect_sim([center])
    s3_faults.mode, s3_faults.times = mode, 1  # the first PutObject is stored, its answer lost
    filters = [{"name": "all-agents"}, {"name": "vip", "agents": sorted(center.agents)[:30]}]
    objects = deploy({"instances": [{"instance_id": center.id, "filters": filters}], "pacing": FAST})
    result = handler.lambda_handler({"scheduled_time": AT}, Context())
    assert (result["written"], result["already_written"]) == (2, 0)
    assert len(s3_faults.puts) == 3  # the lost one, its retry (412: this run's own), the other filter
    for filt in filters:
        (records,) = [rows for key, rows in objects().items() if f"filter_name={filt['name']}/" in key]
        assert_exact(center, filt, records)
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "Agents", InstanceId=center.id, Filter="all-agents") == len(center.agents) - sum(
        not a.logged_in for a in center.agents.values()
    )
    assert emf_value(docs, "AvailableSlots", InstanceId=center.id, Filter="all-agents", Channel="VOICE") is not None
    assert emf_value(docs, "AlreadyWritten", InstanceId=center.id, Filter="all-agents") is None
    client, bucket = s3
    key = next(k for k in objects() if "all-agents" in k)
    assert set(client.head_object(Bucket=bucket, Key=key)["Metadata"]) == {"run-id"}


def test_a_minute_an_earlier_run_wrote_is_still_reported_as_already_written(deploy, connect_sim, center, capsys):
    from connect_exporter import handler

    connect_sim([center])
    filters = [{"name": "vip", "agents": sorted(center.agents)[:30]}]
    objects = deploy({"instances": [{"instance_id": center.id, "filters": filters}], "pacing": FAST})
    handler.lambda_handler({"scheduled_time": AT}, Context())
    first = objects()
    capsys.readouterr()
    assert handler.lambda_handler({"scheduled_time": AT}, Context())["already_written"] == 1
    assert objects() == first
    assert emf_value(emf_lines(capsys.readouterr().out), "AlreadyWritten", InstanceId=center.id, Filter="vip") == 1


# --- 3. one deadline for everything -------------------------------------------------------------------------


def test_a_connect_slower_than_the_budget_ends_inside_it_with_every_filter_reported(deploy, connect_sim, center, capsys):
    from connect_exporter import handler
    from connect_exporter.snapshot import SnapshotFailed

    connect_sim([center], faults=Faults(latency=30))  # each call takes longer than the whole run may
    filters = [{"name": "vip", "agents": sorted(center.agents)[:30]}, {"name": "all-agents"}]
    deploy({"instances": [{"instance_id": center.id, "filters": filters}], "pacing": FAST})
    started = time.monotonic()
    with pytest.raises(SnapshotFailed) as info:
        handler.lambda_handler({"scheduled_time": AT}, Context(budget_seconds=12))
    assert time.monotonic() - started < 12 - 1  # before: a call took its 15 s read timeout: "Task timed out"
    # The first call in flight is cut off at the deadline; the filters after it do not start.
    assert (
        "did not answer within" in str(info.value)
        and "filter vip: " in str(info.value)
        and "filter all-agents: " in str(info.value)
    )
    assert emf_value(emf_lines(capsys.readouterr().out), "FailedFilters", InstanceId=center.id) == 2


@pytest.mark.parametrize("mode", [SLOW, SLOW_DOWN])
def test_an_s3_slower_than_the_budget_ends_inside_it_and_names_the_write(deploy, connect_sim, center, s3_faults, mode, capsys):
    from connect_exporter import handler
    from connect_exporter.snapshot import SnapshotFailed

    connect_sim([center])
    s3_faults.mode, s3_faults.times, s3_faults.delay = mode, None, 60  # every PutObject: a minute late, or 503
    filters = [{"name": "vip", "agents": sorted(center.agents)[:30]}, {"name": "later", "agents": sorted(center.agents)[30:60]}]
    deploy({"instances": [{"instance_id": center.id, "filters": filters}], "pacing": FAST})
    started = time.monotonic()
    with pytest.raises(SnapshotFailed, match="filter vip: ") as info:
        handler.lambda_handler({"scheduled_time": AT}, Context(budget_seconds=10))
    assert time.monotonic() - started < 10
    assert "filter later: " in str(info.value)
    assert emf_value(emf_lines(capsys.readouterr().out), "FailedFilters", InstanceId=center.id) == 2


# --- 4, 5. never a wrong empty minute; each agent once ------------------------------------------------------


@pytest.mark.parametrize(
    "rewrite, message",
    [
        (hostile.null_list("GetCurrentUserData"), "filter all-agents: GetCurrentUserData answered UserDataList null, not a list"),
        (
            hostile.null_list("ListRoutingProfiles", []),
            "filter all-agents: cannot list routing profiles: ListRoutingProfiles answered no routing profiles",
        ),
        (
            hostile.null_list("ListRoutingProfiles"),
            "filter all-agents: cannot list routing profiles: ListRoutingProfiles answered RoutingProfileSummaryList null",
        ),
        (hostile.lost_items(0.5), "filter all-agents: GetCurrentUserData counted "),
    ],
    ids=["user-data-null", "no-routing-profiles", "routing-profiles-null", "lost-items"],
)
def test_an_impossible_answer_fails_its_filter_instead_of_writing_an_empty_minute(
    tmp_path, connect_sim, run_cli, center, rewrite, message
):
    connect_sim([center], faults=Faults(rewrite=rewrite))
    result = snapshot(run_cli, tmp_path, center, [{"name": "all-agents"}])
    assert result.returncode == 1
    (line,) = errors(result.stderr)
    assert message in line
    assert read_tree(tmp_path / "out") == {}  # nothing written: a rerun of the minute can still write it right


def test_an_agent_repeated_within_a_page_is_written_once(tmp_path, connect_sim, run_cli, center):
    connect_sim([center], faults=Faults(rewrite=hostile.repeated_in_page(2)))
    result = snapshot(run_cli, tmp_path, center, [{"name": "all-agents"}])
    assert result.returncode == 0, result.stderr
    (records,) = read_tree(tmp_path / "out").values()
    assert_exact(center, {"name": "all-agents"}, records)
    docs = emf_lines(result.stdout)
    assert emf_value(docs, "Agents", InstanceId=center.id, Filter="all-agents") == len(records)
    assert emf_value(docs, "MaxSlots", InstanceId=center.id, Filter="all-agents", Channel="VOICE") == sum(
        r["max_slots"]["VOICE"] for r in records
    )


# --- smaller: one bad agent costs one field -----------------------------------------------------------------


def test_one_agents_unreadable_values_cost_those_fields_only(tmp_path, connect_sim, run_cli, center):
    odd = sorted(center.agents)[:3]

    def spoil(operation, params, answer):
        if operation == "GetCurrentUserData":
            for item in answer["UserDataList"]:
                uid = item["User"]["Id"]
                if uid == odd[0]:
                    item["AvailableSlotsByChannel"]["VOICE"] = None  # a null count
                elif uid == odd[1]:
                    item["Contacts"] = [None, *item["Contacts"]]  # a null contact
                elif uid == odd[2]:
                    item["Status"]["StatusStartTimestamp"] = "2026-11-24T09:58:30.250Z"  # an ISO string: readable
        return answer

    connect_sim([center], faults=Faults(rewrite=spoil))
    result = snapshot(run_cli, tmp_path, center, [{"name": "all-agents"}])
    assert result.returncode == 0, result.stderr
    (rows,) = read_tree(tmp_path / "out").values()
    assert_exact(center, {"name": "all-agents"}, rows)
    records = {r["user_id"]: r for r in rows}
    assert records[odd[0]]["available_slots"] is None and records[odd[0]]["max_slots"] is not None
    assert records[odd[1]]["contact_count"] == len(center.agents[odd[1]].contacts)
    assert records[odd[2]]["status_start_time"] == "2026-11-24T09:58:30.250Z"
    assert records[odd[2]]["status_duration_seconds"] == 89.75
    assert emf_value(emf_lines(result.stdout), "MalformedFields", InstanceId=center.id, Filter="all-agents") == 2
    assert f"user_id={odd[0]}" in result.stderr and "fields=available_slots" in result.stderr


# --- config and input: one line, never a traceback ----------------------------------------------------------


@pytest.mark.parametrize("dest", ["S3://bucket/x", "s3:/bucket/x", "s3//bucket/x", "s3:bucket", "", "s3://B_ad/x"])
def test_a_mistyped_destination_is_refused_before_any_call(tmp_path, connect_sim, run_cli, center, dest):
    sim = connect_sim([center])
    cwd = tmp_path / "cwd"  # an empty working directory, so a stray local write would show
    cwd.mkdir()
    result = run_cli(
        "snapshot", "--config", write_config(tmp_path, center, [{"name": "all-agents"}]), "--out", dest, "--at", AT, cwd=cwd
    )
    assert result.returncode == 2
    (line,) = errors(result.stderr)
    assert repr(dest) in line or "destination is empty" in line
    assert sum(sim.calls.values()) == 0 and list(cwd.iterdir()) == []  # before: ./S3:/bucket/x/... with rc 0


def test_a_destination_that_cannot_be_written_fails_before_any_call(tmp_path, connect_sim, run_cli, center):
    sim = connect_sim([center])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = snapshot(run_cli, tmp_path, center, [{"name": "all-agents"}], out=str(blocker / "out"))
    assert result.returncode == 2
    (line,) = errors(result.stderr)
    assert "Not a directory" in line and "Traceback" not in result.stderr
    assert sum(sim.calls.values()) == 0  # before: found only after every page was read


def test_seconds_in_at_are_truncated_so_a_minute_is_one_object(tmp_path, connect_sim, run_cli, center):
    connect_sim([center])
    config = write_config(tmp_path, center, [{"name": "vip", "agents": sorted(center.agents)[:10]}])
    first = run_cli("snapshot", "--config", config, "--out", str(tmp_path / "out"), "--at", "2026-11-24T03:00:30Z")
    again = run_cli("snapshot", "--config", config, "--out", str(tmp_path / "out"), "--at", "2026-11-24T03:00:45.5Z")
    assert (first.returncode, again.returncode) == (0, 3)
    (key,) = read_tree(tmp_path / "out")
    assert key.endswith("snapshot-20261124T030000Z.json.gz")
    assert {r["snapshot_time"] for r in read_tree(tmp_path / "out")[key]} == {"2026-11-24T03:00:00.000Z"}


@pytest.mark.parametrize(
    "at",
    [
        "2099-01-01T00:00:00Z",
        "9999-12-31T23:59:00-14:00",
        "0001-01-01T00:00:00+14:00",
        "2016-12-31T23:59:00Z",
        "yesterday",
        "2026-13-01T00:00:00Z",
    ],
)
def test_an_impossible_at_is_one_line(tmp_path, connect_sim, run_cli, center, at):
    sim = connect_sim([center])
    result = snapshot(run_cli, tmp_path, center, [{"name": "all-agents"}], at=at)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = errors(result.stderr)
    assert line.startswith("error: snapshot time ")
    assert sum(sim.calls.values()) == 0


def test_snapshot_refuses_a_deployment_section_that_validate_refuses(tmp_path, connect_sim, run_cli, center):
    sim = connect_sim([center])
    config = write_config(tmp_path, center, [{"name": "all-agents"}], deployment={"schedule": "every minute"})
    checked = run_cli("validate", "--config", config)
    result = run_cli("snapshot", "--config", config, "--out", str(tmp_path / "out"), "--at", AT)
    assert checked.returncode == result.returncode == 2
    assert errors(result.stderr) == errors(checked.stderr) and "deployment.schedule" in errors(result.stderr)[0]
    assert sum(sim.calls.values()) == 0


BAD_FILES = {
    "not-utf8": b'{"instances": [{"instance_id": "caf\xe9", "filters": [{"name": "all-agents"}]}]}',
    "huge-integer": b'{"instances": [], "names": {"ttl_seconds": ' + b"9" * 5000 + b"}}",
    "deep": b"[" * 100000 + b"]" * 100000,
    "comparison-list": json.dumps(
        {
            "instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents"}]}],
            "deployment": {"alarms": [{"filter": "all-agents", "channel": "VOICE", "threshold": 1, "comparison": ["<"]}]},
        }
    ).encode(),
    "instance-id-list": json.dumps(
        {
            "instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents"}]}],
            "deployment": {"alarms": [{"filter": "all-agents", "channel": "VOICE", "threshold": 1, "instance_id": ["i-1"]}]},
        }
    ).encode(),
    "trailing-newline": json.dumps({"instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents\n"}]}]}).encode(),
    "ttl-zero": json.dumps(
        {"instances": [{"instance_id": "i-1", "filters": [{"name": "all-agents"}]}], "names": {"ttl_seconds": 0}}
    ).encode(),
    "two-accounts": json.dumps(
        {
            "instances": [
                {
                    "instance_id": "i-1",
                    "filters": [
                        {
                            "name": "vip",
                            "agents": [
                                "arn:aws:connect:us-east-1:111111111111:instance/i-1/agent/a1",
                                "arn:aws:connect:us-east-1:222222222222:instance/i-1/agent/a2",
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode(),
}


@pytest.mark.parametrize("command", ["validate", "plan", "snapshot"])
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_every_bad_file_is_one_line_naming_it_for_every_command(tmp_path, connect_sim, run_cli, center, command, name):
    sim = connect_sim([center])  # a regression that calls Connect anyway calls this, never AWS
    path = tmp_path / f"{name}.json"
    path.write_bytes(BAD_FILES[name])
    extra = ["--out", str(tmp_path / "out")] if command == "snapshot" else []
    result = run_cli(command, "--config", str(path), *extra)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = errors(result.stderr)
    assert lines and all(line.startswith(f"error: {path}") for line in lines), result.stderr
    if command != "validate":
        assert len(lines) == 1
    assert sum(sim.calls.values()) == 0


# --- the handler: every event shape -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        "a string",
        ["list"],
        {"scheduled_time": ""},
        {"scheduled_time": 1795491960},
        {"time": None},
        {"scheduled_time": "2099-01-01T00:00:00Z"},
        {"scheduled_time": "not a time"},
        {"scheduled_time": "9999-12-31T23:59:00-14:00"},
    ],
    ids=["string", "list", "empty-time", "numeric-time", "null-time", "year-2099", "not-a-time", "calendar-edge"],
)
def test_every_event_shape_ends_in_one_line_and_emf_saying_the_run_failed(deploy, connect_sim, center, capsys, caplog, event):
    from connect_exporter import handler

    sim = connect_sim([center])
    objects = deploy(
        {
            "instances": [
                {
                    "instance_id": center.id,
                    "filters": [{"name": "all-agents"}, {"name": "vip", "agents": sorted(center.agents)[:5]}],
                }
            ]
        }
    )
    result = handler.lambda_handler(event, Context())
    assert "refused" in result
    (line,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert line.getMessage() == "run refused" and line.reason == result["refused"] and "\n" not in line.reason
    docs = emf_lines(capsys.readouterr().out)
    assert emf_value(docs, "RunsRefused", InstanceId=center.id) == 1
    assert emf_value(docs, "FailedFilters", InstanceId=center.id) == 2
    assert objects() == {} and sum(sim.calls.values()) == 0


def test_a_scheduled_time_a_few_minutes_ahead_is_refused_and_leaves_the_real_minute_free(
    deploy, connect_sim, center, monkeypatch, capsys
):
    import datetime as dt

    from connect_exporter import handler

    connect_sim([center])
    monkeypatch.setenv("EXPORTER_SCHEDULE_SECONDS", "60")
    objects = deploy(
        {
            "instances": [{"instance_id": center.id, "filters": [{"name": "vip", "agents": sorted(center.agents)[:5]}]}],
            "pacing": FAST,
        }
    )
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)).replace(second=0, microsecond=0)
    assert "more than 60 s in the future" in handler.lambda_handler({"scheduled_time": soon.isoformat()}, Context())["refused"]
    assert objects() == {}  # before: that minute was written early, and its real run then found it "already written"


def test_arns_of_another_account_than_the_functions_are_refused_at_run_time(deploy, connect_sim, center, capsys):
    from connect_exporter import handler

    connect_sim([center])
    other = [f"arn:aws:connect:us-east-1:999999999999:instance/{center.id}/agent/{a}" for a in sorted(center.agents)[:3]]
    deploy({"instances": [{"instance_id": center.id, "filters": [{"name": "vip", "agents": other}]}], "pacing": FAST})
    result = handler.lambda_handler({"scheduled_time": AT}, Context())  # the function is in account 123456789012
    assert "account 999999999999 (the deployment's is 123456789012)" in result["refused"]
    assert emf_value(emf_lines(capsys.readouterr().out), "RunsRefused", InstanceId=center.id) == 1
