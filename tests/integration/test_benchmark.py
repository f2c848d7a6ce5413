"""`make bench` is not run by CI; this keeps its machinery honest on a small case (no timing asserted)."""

from __future__ import annotations

from benchmarks.snapshot import Case, bench_filters, missed_targets, monthly_cost, run_case
from simulator.scenario import build_instances

from ..support import expected_ids


def test_a_small_case_counts_what_the_cli_did(tmp_path):
    case = Case("small", 1, 300, queue_filters=2)
    result = run_case(case, tmp_path)
    (inst,) = build_instances(1, 300, seed=7)
    covered = sum(len(expected_ids(inst, f)) for f in bench_filters(inst, 2))
    assert (result["records"], result["objects"], result["filters"]) == (covered, 3, 3)
    assert result["throttled"] == 0 and result["calls"]["GetCurrentUserData"] >= 5
    assert result["floor_s"] == max(0.0, (result["calls"]["GetCurrentUserData"] - 5) / 2)
    # One filter's EMF: 4 channels x 3 slot metrics, 5 health and agents metrics, then statuses and contact states.
    assert result["custom_metrics"] >= 3 * (4 * 3 + 5) and result["emf_docs"] >= 3 * 5 + 1
    assert result["cpu_s"] > 0 and 20 < result["peak_rss_mb"] < 1024
    cost = monthly_cost(result)
    assert cost["custom_metrics"] == result["custom_metrics"] * 0.30
    assert cost["s3_puts"] == 730 * 60 * 3 * 0.005 / 1000
    # The stack's alarms for one instance of three filters: three stale, one failed-filters, errors, EMF, compaction x 2.
    assert result["alarms"] == 3 + 1 + 2 + 2 and cost["alarms"] == 8 * 0.10
    assert cost["total"] == sum(v for k, v in cost.items() if k != "total")


def test_missed_targets_are_named_so_make_bench_fails():
    fine = {"case": "a", "ratio": 1.05, "peak_rss_mb": 100, "throttled": 0}
    slow = {"case": "b", "ratio": 1.2, "peak_rss_mb": 300, "throttled": 3}
    assert missed_targets([fine]) == []
    assert missed_targets([fine, slow]) == ["b: ratio 1.200 > 1.1", "b: peak RSS 300 MB >= 160 MB", "b: 3 throttled calls"]


def test_a_raised_quota_case_with_latency_paces_each_operation_at_its_own_quota(tmp_path):
    case = Case("raised", 1, 2000, queue_filters=1, rate=20, burst=10, latency=0.06)
    result = run_case(case, tmp_path)
    assert result["throttled"] == 0 and result["records"] > 2000
    assert result["floor_s"] == (result["calls"]["GetCurrentUserData"] - 10) / 20
    assert result["cpu_s_per_1000_agents"] == result["cpu_s"] / 2
