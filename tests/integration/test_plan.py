"""`connect-exporter`, the installed console script: validate, plan, and progress only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.snapshot import bench_filters, monthly_cost
from simulator.scenario import build_instances

from ..support import REPO, expected_calls, expected_ids

COMMAND = Path(sys.executable).parent / "connect-exporter"  # what `pip install .` put on the venv's PATH
EXAMPLE = REPO / "config" / "example.json"


def run(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, timeout=300, cwd=cwd, **kwargs)


def test_the_console_script_offers_snapshot_validate_plan_and_activity():
    result = run("--help")
    assert result.returncode == 0
    assert "{snapshot,validate,schema,plan,activity}" in result.stdout


def test_schema_prints_the_committed_json_schema():
    result = run("schema")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == json.loads((REPO / "config" / "config.schema.json").read_text())


def test_validate_accepts_the_example_and_names_the_first_problem_in_one_line(tmp_path):
    good = run("validate", "--config", str(EXAMPLE))
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout.strip() == f"ok: {EXAMPLE}: 1 instance(s), 5 filter(s), rate(1 minute), 2 slot alarm(s)"
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["schedule"] = "rate(90 seconds)"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    result = run("validate", "--config", str(bad))
    assert (result.returncode, result.stdout) == (2, "")
    assert (
        result.stderr
        == f"error: {bad}: deployment.schedule: must be rate(N minute[s]) with N from 1 to 15 (got 'rate(90 seconds)')\n"
    )
    # Every problem at once, one line each, in the order synth would meet them (it stops at the first). The
    # alarms' filters are checked against the filters once those are valid: here, after the name is fixed.
    config["instances"][0]["filters"][1]["name"] = "Support"
    config["pacing"] = {"burst": 0}
    config["deployment"]["encryption"] = "aes"
    bad.write_text(json.dumps(config))
    result = run("validate", "--config", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line.split(": ")[2] for line in result.stderr.splitlines()] == [
        "instances[0].filters[1].name",
        "pacing.burst",
        "deployment.schedule",
        "deployment.encryption",
    ]
    config["instances"][0]["filters"][1]["name"] = "support-voice"
    config["pacing"] = {}
    config["deployment"].update(schedule="rate(1 minute)", encryption="kms")
    bad.write_text(json.dumps(config))
    result = run("validate", "--config", str(bad))
    assert [line.split(": ")[2] for line in result.stderr.splitlines()] == ["deployment.alarms[0].filter"]


@pytest.fixture(scope="module")
def center():
    (instance,) = build_instances(1, 1000, seed=7)  # the benchmark's 1,000-agent case
    return instance


def test_plan_measures_fit_metrics_and_cost_of_the_users_config(tmp_path, center, connect_sim):
    sim = connect_sim([center], rate=2, burst=5)  # Connect's default quota, as the config paces
    filters = bench_filters(center, 3)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"instances": [{"instance_id": center.id, "filters": filters}]}))
    result = run("plan", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)  # one JSON object, nothing else on stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # planned, not written
    assert (plan["schedule_seconds"], plan["budget_seconds"]) == (60, 50)
    assert plan["headroom_seconds"] == pytest.approx(plan["budget_seconds"] - plan["snapshot_seconds"], abs=0.02)
    assert plan["paced_floor_seconds"] == (sim.calls["GetCurrentUserData"] - 5) / 2 <= plan["snapshot_seconds"]
    assert plan["api_calls"] == dict(sim.calls)
    (instance,) = plan["instances"]
    for got, filt in zip(instance["filters"], filters, strict=True):
        agents = [center.agents[i] for i in expected_ids(center, filt)]
        statuses = {a.status for a in agents}
        states = {c.state for a in agents for c in a.contacts}
        assert (got["name"], got["agents"], got["calls"]) == (filt["name"], len(agents), expected_calls(center, filt))
        # 12 slot metrics, FilterFailed, 3 more health, Agents, then one per status and contact state seen.
        assert got["custom_metrics"] == 12 + 1 + 3 + 1 + len(statuses) + len(states)
    assert plan["custom_metrics"] == sum(f["custom_metrics"] for f in instance["filters"]) + instance["custom_metrics"]
    cost = plan["monthly_cost_usd"]
    assert cost["custom_metrics"] == pytest.approx(plan["custom_metrics"] * 0.30, abs=0.01)
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"), abs=0.05)
    # The same model as the benchmark, fed the benchmark's measured 1,000-agent case: within 5 %.
    recorded = next(
        c for c in json.loads((REPO / "docs" / "benchmarks.json").read_text())["cases"] if c["case"] == "1,000 agents"
    )
    assert cost["total"] == pytest.approx(monthly_cost(recorded)["total"], rel=0.05)


def test_plan_at_15_s_sampling_states_fit_per_sample_and_prices_four_samples_a_minute(tmp_path, center, connect_sim):
    connect_sim([center], rate=2, burst=5)
    plans = {}
    for seconds in (60, 15):
        config = tmp_path / f"config-{seconds}.json"
        config.write_text(
            json.dumps(
                {
                    "instances": [{"instance_id": center.id, "filters": [{"name": "all-agents", "metrics": ["slots"]}]}],
                    "deployment": {
                        "sample_seconds": seconds,
                        "alarms": [{"filter": "all-agents", "channel": "VOICE", "threshold": 1}],
                    },
                }
            )
        )
        result = run("plan", "--config", str(config), "--format", "json")
        assert result.returncode == 0, result.stderr
        plans[seconds] = json.loads(result.stdout)
    sampled, minute = plans[15], plans[60]
    # A sample has its 15 s slot, less for the last (59 s timeout, 3 s reserve, begun at 45 s): 11 s.
    assert (sampled["samples_per_run"], sampled["budget_seconds"], sampled["sample_calls_allowed"]) == (4, 11, 27)
    assert (minute["samples_per_run"], minute["budget_seconds"]) == (1, 50)
    assert sampled["api_calls"]["GetCurrentUserData"] <= 27 and not [w for w in sampled["warnings"] if "fit" in w]
    cost, base = sampled["monthly_cost_usd"], minute["monthly_cost_usd"]
    assert cost["s3_puts"] == pytest.approx(4 * base["s3_puts"], rel=0.02)
    assert cost["log_ingestion"] > 3 * base["log_ingestion"]
    assert cost["lambda"] > 10 * base["lambda"]  # billed while it waits 45 s for its later samples
    assert cost["alarms"] == pytest.approx(base["alarms"] + 0.30 - 0.10, abs=0.001)  # the slot alarm: high resolution
    text = run("plan", "--config", str(tmp_path / "config-15.json")).stdout
    assert text.startswith("Sample: ") and "every 15 s (4 a run); a sample has 11 s" in text


def test_validate_states_the_sampling_fit_and_refuses_a_rate_the_quota_cannot_carry(tmp_path):
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["sample_seconds"] = 15
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    good = run("validate", "--config", str(path))
    assert good.stdout.strip() == (
        f"ok: {path}: 1 instance(s), 5 filter(s), rate(1 minute), a sample every 15 s (at least 5 of the 27 calls "
        "a sample can make), 30 s alarm periods, 2 slot alarm(s)"
    )
    config["instances"][0]["filters"] += [{"name": f"q{i}", "queues": [f"queue-{i}"]} for i in range(20)]
    config["deployment"]["sample_seconds"] = 10
    path.write_text(json.dumps(config))
    bad = run("validate", "--config", str(path))
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == (
        f"error: {path}: deployment.sample_seconds: 10 s sampling does not fit: each sample needs at least 25 "
        "GetCurrentUserData calls (one per filter chunk), and at 2/s, burst 5, a sample can make 17 in the 6 s it has; "
        "sample less often, or raise the quota (Service Quotas L-9E54B88B) and set pacing.operations.GetCurrentUserData "
        "(got 10)\n"
    )
    config["pacing"] = {"operations": {"GetCurrentUserData": {"requests_per_second": 5, "burst": 10}}}
    path.write_text(json.dumps(config))
    assert run("validate", "--config", str(path)).returncode == 0  # a raised quota carries it


def test_plan_prices_come_from_a_file_and_a_bad_one_is_one_line(tmp_path, center, connect_sim):
    connect_sim([center])
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "instances": [{"instance_id": center.id, "filters": [{"name": "alarm-only", "metrics": ["slots"]}]}],
                "pacing": {"requests_per_second": 1000, "burst": 1000},
            }
        )
    )
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"custom_metric_month": 0.10}))
    result = run("plan", "--config", str(config), "--prices", str(prices))
    assert result.returncode == 0, result.stderr
    # A slots-only filter: 13 metrics (plus the instance's own 5), priced at the file's rate.
    assert "Custom metrics: 18 (slots 12, instance 5, health 1)" in result.stdout
    assert re.search(r"custom_metrics 1\.80[,;]", result.stdout)
    assert "warning: custom metrics" not in result.stdout
    prices.write_text(json.dumps({"custom_metrics": 0.1}))
    bad = run("plan", "--config", str(config), "--prices", str(prices))
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith(f"error: {prices}: custom_metrics: unknown price; known: lambda_gb_second_arm64,")
    assert len(bad.stderr.splitlines()) == 1


def _on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (as in a shell), stdout on a pipe."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(COMMAND), *args], stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done with it
            break
        if not chunk:
            break
        seen += chunk
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    os.close(leader)
    return proc.wait(timeout=60), stdout, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # colours off


def test_progress_shows_on_a_terminal_only_and_never_on_stdout(tmp_path, center, connect_sim):
    connect_sim([center])
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "instances": [{"instance_id": center.id, "filters": [{"name": "all-agents"}]}],
                "pacing": {"requests_per_second": 1000, "burst": 1000},
            }
        )
    )
    args = ["snapshot", "--config", str(config), "--at", "2026-11-24T09:00:00Z", "--quiet"]
    code, stdout, terminal = _on_a_terminal([*args, "--out", str(tmp_path / "tty")], dict(os.environ))
    assert code == 0, terminal
    agents = len(expected_ids(center, {"name": "all-agents"}))
    assert re.search(rf"{center.id[:8]} / all-agents.*{agents}/{agents} agents", terminal)
    assert all(json.loads(line)["_aws"] for line in stdout.splitlines())  # stdout stays EMF only
    piped = run(*args, "--out", str(tmp_path / "pipe"))
    assert piped.returncode == 0, piped.stderr
    assert "agents" not in piped.stderr and "━" not in piped.stderr
    in_lambda = _on_a_terminal([*args, "--out", str(tmp_path / "lambda")], {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": "x"})
    assert in_lambda[0] == 0 and "━" not in in_lambda[2] and "/all-agents" not in in_lambda[2]
