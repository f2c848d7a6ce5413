"""The plan's arithmetic over a measured snapshot: fit, headroom and the warnings that say what to do."""

from __future__ import annotations

import datetime as dt
import json

from connect_exporter.snapshot import FilterOutcome, SnapshotReport
from connect_exporter.tools.costs import PRICES
from connect_exporter.tools.deployment import load_settings
from connect_exporter.tools.plan import make_plan, paced_seconds

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
IID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


def settings(tmp_path, schedule: str = "rate(1 minute)"):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "instances": [{"instance_id": IID, "filters": [{"name": "all-agents"}, {"name": "team", "queues": ["q1"]}]}],
                "deployment": {"schedule": schedule},
            }
        )
    )
    return load_settings(path)


def report(seconds: float) -> SnapshotReport:
    r = SnapshotReport(snapshot_time=AT, duration_seconds=seconds)
    for name, records, calls in (("all-agents", 6000, 60), ("team", 2500, 25)):
        outcome = FilterOutcome(IID, name, records=records, bytes_written=records * 170, seconds=seconds / 2)
        outcome.stats.calls["GetCurrentUserData"] = calls
        r.outcomes.append(outcome)
        r.api_stats.merge(outcome.stats)
    return r


def test_a_snapshot_longer_than_a_run_says_it_does_not_fit_and_what_to_change(tmp_path):
    plan = make_plan(settings(tmp_path), report(62.0), [], PRICES)
    assert (plan.budget_seconds, plan.headroom_seconds, plan.share_of_schedule) == (50, -12.0, round(62 / 60, 3))
    assert [(f.name, f.agents, f.calls, f.share_of_schedule) for f in plan.instances[0].filters] == [
        ("all-agents", 6000, 60, round(31 / 60, 3)),
        ("team", 2500, 25, round(31 / 60, 3)),
    ]
    (warning,) = plan.warnings
    assert warning.startswith("does not fit: a snapshot takes 62.0 s of the 50 s a run has.")
    assert "Service Quotas L-9E54B88B" in warning and "pacing.operations.GetCurrentUserData" in warning
    assert "deployment.schedule" in warning and warning.endswith(f"already reads: {IID}/team")


def test_a_longer_schedule_makes_room_and_halves_the_per_run_costs(tmp_path):
    every_minute = make_plan(settings(tmp_path), report(62.0), [], PRICES)
    every_two = make_plan(settings(tmp_path, "rate(2 minutes)"), report(62.0), [], PRICES)
    assert every_two.budget_seconds == 110 and every_two.headroom_seconds == 48.0 and every_two.warnings == []
    for item in ("lambda", "s3_puts", "log_ingestion"):
        assert (
            every_two.monthly_cost_usd[item] == round(every_minute.monthly_cost_usd[item] / 2, 2)
            or abs(every_two.monthly_cost_usd[item] - every_minute.monthly_cost_usd[item] / 2) <= 0.01
        )


def test_the_paced_floor_is_the_slowest_operation_at_its_own_pace(tmp_path):
    pacing = settings(tmp_path).exporter.pacing
    assert paced_seconds({"GetCurrentUserData": 85, "ListUsers": 9}, pacing) == (85 - 5) / 2
    assert paced_seconds({"GetCurrentUserData": 3}, pacing) == 0.0


def test_agent_activity_refresh_is_priced_by_the_bytes_it_reads_with_athenas_minimum(tmp_path):
    """Each hourly refresh reads a multiple of the snapshots' bytes, three statements billed 10 MB at least."""
    big = make_plan(settings(tmp_path), report(5.0), [], PRICES).monthly_cost_usd["athena_activity"]
    small_report = report(5.0)
    for outcome in small_report.outcomes:
        outcome.bytes_written //= 100
    small = make_plan(settings(tmp_path), small_report, [], PRICES).monthly_cost_usd["athena_activity"]
    hours_a_month, minimum = 730, 3 * 10 * 1024**2
    assert small == round(hours_a_month * minimum / 1024**4 * PRICES["athena_tb_scanned"], 2) == 0.1
    raw_per_run = sum(o.bytes_written for o in report(5.0).outcomes)
    assert big > 10 * small and big > hours_a_month * 60 * raw_per_run / 1024**4 * PRICES["athena_tb_scanned"]
