"""The CLI against the simulator: complete, exact, idempotent, and clear about bad input."""

from __future__ import annotations

import json

import pytest

from simulator.scenario import exporter_config, five_filters

from ..support import emf_lines, emf_value, expected_calls, expected_ids, read_tree, world

AT = "2026-11-24T03:45:00Z"


@pytest.fixture(scope="module")
def instance():
    (inst,) = world(1, 1500)
    return inst


def write_config(tmp_path, config: dict):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_five_filter_kinds_are_exported_complete_and_exact(tmp_path, instance, connect_sim, run_cli):
    sim = connect_sim([instance])
    config = exporter_config([instance], pacing={"requests_per_second": 500, "burst": 50})
    out = tmp_path / "out"
    result = run_cli("snapshot", "--config", write_config(tmp_path, config), "--out", str(out), "--at", AT)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    tree = read_tree(out)
    docs = emf_lines(result.stdout)
    filters = five_filters(instance)
    assert len(tree) == len(filters)
    assert len(filters[1]["queues"]) == 150 and len(instance.routing_profiles) > 100
    for filt in filters:
        key = f"instance_id={instance.id}/filter_name={filt['name']}/dt=2026-11-24/hour=03/snapshot-20261124T034500Z.json.gz"
        records = tree[key]
        ids = [r["user_id"] for r in records]
        assert len(ids) == len(set(ids)), f"duplicates in {filt['name']}"
        assert set(ids) == expected_ids(instance, filt), filt["name"]
        for record in records:
            agent = instance.agents[record["user_id"]]
            available, maximum, active = instance.slots(agent)
            profile = instance.routing_profiles[agent.routing_profile_id]
            assert record["snapshot_time"] == "2026-11-24T03:45:00.000Z"
            assert (record["username"], record["routing_profile_name"], record["status_name"]) == (
                agent.username,
                profile.name,
                agent.status,
            )
            assert (record["available_slots"], record["max_slots"], record["active_slots"]) == (available, maximum, active)
            assert [c["contact_id"] for c in record["contacts"]] == [c.contact_id for c in agent.contacts]
            # Agent queues (a transfer to this agent) have no name in Connect: null, never another queue's.
            assert all(c["queue_name"] == (instance.queues[c["queue_id"]].name or None) for c in record["contacts"])
            names = [instance.groups[g].name for g in agent.hierarchy] + [None] * (5 - len(agent.hierarchy))
            assert [record[f"hierarchy_level_{n}_name"] for n in range(1, 6)] == names
        dims = {"InstanceId": instance.id, "Filter": filt["name"]}
        assert emf_value(docs, "Agents", **dims) == len(records)
        for channel in ("VOICE", "CHAT", "TASK", "EMAIL"):
            total = sum(r["available_slots"][channel] for r in records)
            assert emf_value(docs, "AvailableSlots", **dims, Channel=channel) == total
    # The snapshot took the calls it needed and no more: one page per 100 agents of each chunk.
    assert sim.calls["GetCurrentUserData"] == sum(expected_calls(instance, f) for f in filters)
    assert sim.throttled["GetCurrentUserData"] == 0
    # Names of standard queues only: one page, where agent queues would have needed one more per 1,000 agents.
    assert sim.calls["ListQueues"] == 1 and len(instance.queues) > 1000
    assert any(
        c["queue_id"] == r["user_id"] and c["queue_name"] is None for rs in tree.values() for r in rs for c in r["contacts"]
    )
    assert "5/5 filters written" in result.stderr


def test_a_rerun_of_the_same_minute_writes_only_what_is_missing_and_says_so(tmp_path, instance, connect_sim, run_cli):
    connect_sim([instance])
    config = write_config(tmp_path, exporter_config([instance], pacing={"requests_per_second": 500, "burst": 50}))
    out = tmp_path / "out"
    first = run_cli("snapshot", "--config", config, "--out", str(out), "--at", AT, "--quiet")
    assert first.returncode == 0, first.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    deleted, replaced = files[0], files[1]
    deleted_bytes = deleted.read_bytes()
    deleted.unlink()
    replaced.write_bytes(b"kept as it is")
    second = run_cli("snapshot", "--config", config, "--out", str(out), "--at", AT)
    assert second.returncode == 3, second.stderr
    assert deleted.read_bytes() == deleted_bytes  # the missing filter is written again, the same minute
    assert replaced.read_bytes() == b"kept as it is"  # an existing minute is never rewritten
    assert sorted(p for p in out.rglob("*") if p.is_file()) == files  # no temp files, no duplicates
    assert "1/5 filters written, 4 already written" in second.stderr
    docs = emf_lines(second.stdout)
    assert emf_value(docs, "AlreadyWrittenFilters", InstanceId=instance.id) == 4
    name = deleted.relative_to(out).parts[1].removeprefix("filter_name=")
    assert emf_value(docs, "AlreadyWritten", InstanceId=instance.id, Filter=name) is None  # written now
    assert emf_value(docs, "Agents", InstanceId=instance.id, Filter=name) > 0
    other = replaced.relative_to(out).parts[1].removeprefix("filter_name=")
    assert emf_value(docs, "AlreadyWritten", InstanceId=instance.id, Filter=other) == 1
    assert emf_value(docs, "Agents", InstanceId=instance.id, Filter=other) is None  # no second datapoint


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["instances"][0]["filters"].append({"name": "bad name"}), "filters[5].name: must match"),
        (lambda c: c["instances"][0]["filters"][1].update(agents=["x"]), "sets queues and agents"),
        (lambda c: c.update(pacing={"requests_per_second": -1}), "pacing.requests_per_second"),
        (lambda c: c["instances"][0].update(region="eu"), "instances[0].region: unknown key"),
    ],
)
def test_bad_config_exits_2_before_any_api_call_and_writes_nothing(tmp_path, instance, connect_sim, run_cli, mutate, expected):
    sim = connect_sim([instance])
    config = exporter_config([instance])
    mutate(config)
    path = write_config(tmp_path, config)
    result = run_cli("snapshot", "--config", path, "--out", str(tmp_path / "out"), "--at", AT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and expected in result.stderr
    assert path in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and sum(sim.calls.values()) == 0 and result.stdout == ""


def test_an_unknown_instance_is_named_and_costs_the_good_one_nothing(tmp_path, instance, connect_sim, run_cli):
    connect_sim([instance])
    config = exporter_config([instance], pacing={"requests_per_second": 500, "burst": 50})
    ghost = "00000000-0000-4000-8000-000000000000"
    config["instances"].insert(0, {"instance_id": ghost, "filters": [{"name": "all-agents"}, {"name": "vip", "agents": ["a1"]}]})
    out = tmp_path / "out"
    result = run_cli("snapshot", "--config", write_config(tmp_path, config), "--out", str(out), "--at", AT)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: instance {ghost} filter all-agents: cannot list routing profiles: ListRoutingProfiles ResourceNotFoundException: Instance not found: {ghost}",
        f"error: instance {ghost} filter vip: GetCurrentUserData ResourceNotFoundException: Instance not found: {ghost}",
    ]
    assert "Traceback" not in result.stderr
    # No name lookups for an instance that never answered: no failing List calls, no warnings.
    assert not [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    tree = read_tree(out)
    assert len(tree) == 5 and not any(ghost in key for key in tree)
    docs = emf_lines(result.stdout)
    assert emf_value(docs, "FilterFailed", InstanceId=ghost, Filter="vip") == 1
    assert emf_value(docs, "FailedFilters", InstanceId=ghost) == 2
    assert emf_value(docs, "FailedFilters", InstanceId=instance.id) == 0


def test_a_filter_the_api_rejects_fails_alone(tmp_path, instance, connect_sim, run_cli):
    connect_sim([instance])
    config = exporter_config([instance], pacing={"requests_per_second": 500, "burst": 50})
    config["instances"][0]["filters"].insert(2, {"name": "stale", "queues": ["no-such-queue"]})
    out = tmp_path / "out"
    result = run_cli("snapshot", "--config", write_config(tmp_path, config), "--out", str(out), "--at", AT)
    assert result.returncode == 1
    assert (
        f"error: instance {instance.id} filter stale: GetCurrentUserData InvalidParameterException: Queues value not found in instance: no-such-queue"
        in result.stderr
    )
    written = {key.split("/")[1] for key in read_tree(out)}
    assert written == {"filter_name=" + f["name"] for f in five_filters(instance)}


def test_denied_name_lookups_keep_ids_with_null_names_and_warn(tmp_path, instance, connect_sim, run_cli):
    sim = connect_sim([instance])
    sim.faults.deny = {"ListUsers"}
    config = {"instances": [{"instance_id": instance.id, "filters": [{"name": "vip", "agents": sorted(instance.agents)[:10]}]}]}
    out = tmp_path / "out"
    result = run_cli("snapshot", "--config", write_config(tmp_path, config), "--out", str(out), "--at", AT)
    assert result.returncode == 0, result.stderr
    assert "ListUsers failed; users names stay null" in result.stderr and "AccessDeniedException" in result.stderr
    (records,) = read_tree(out).values()
    assert len(records) == 10 and all(r["username"] is None and r["routing_profile_name"] for r in records)


def test_denied_user_data_is_a_clear_failure(tmp_path, instance, connect_sim, run_cli):
    sim = connect_sim([instance])
    sim.faults.deny = {"GetCurrentUserData"}
    config = {"instances": [{"instance_id": instance.id, "filters": [{"name": "vip", "agents": ["a1"]}]}]}
    result = run_cli("snapshot", "--config", write_config(tmp_path, config), "--out", str(tmp_path / "out"), "--at", AT)
    assert result.returncode == 1
    assert f"error: instance {instance.id} filter vip: GetCurrentUserData AccessDeniedException" in result.stderr
    assert list((tmp_path / "out").rglob("*.json.gz")) == []
