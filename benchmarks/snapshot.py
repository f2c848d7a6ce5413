"""`python -m benchmarks snapshot` (`make bench`): the exporter CLI against the simulator at Connect's default quota.

Each case runs the CLI as a user would (a subprocess) against a simulator answering at 2 requests/s,
burst 5, and measures what the issue asks for: wall time against the API floor, calls by operation,
throttles, CPU, peak RSS, bytes, EMF, custom metrics and an estimated monthly cost. Results go to
`docs/benchmarks.md` with a plot. Not part of the test suite: it takes minutes, by design.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connect_exporter.metrics import metric_keys
from connect_exporter.tools.costs import PRICE_NOTES, PRICES, Usage
from connect_exporter.tools.costs import monthly_cost as cost_model
from connect_exporter.tools.deployment import alarm_count, load_settings
from simulator.demo import exporter_env
from simulator.scenario import build_instances
from simulator.server import ConnectSimulator, Faults
from simulator.world import Instance

REPO = Path(__file__).resolve().parents[1]
RATE, BURST = 2.0, 5
HISTORY_MARK = "\n<!-- history tier: written by make bench-history -->\n"
AT = "2026-11-24T09:00:00Z"
LAMBDA_TIMEOUT = 55.0  # the stack's timeout at a one-minute schedule
PAGING_BUDGET = LAMBDA_TIMEOUT - 5.0  # the handler keeps 5 s to write and report
MAX_RATIO, MAX_RSS_MB = 1.1, 160  # the targets: wall time within 10 % of the floor, RSS well under the default 512 MB


@dataclass(frozen=True)
class Case:
    name: str
    instances: int
    agents: int  # per instance
    queue_filters: int = 3
    rate: float = RATE  # GetCurrentUserData's quota; the List APIs keep Connect's default
    burst: int = BURST
    latency: float = 0.0  # seconds added to every call, as a Lambda's round trip to Connect

    @property
    def total_agents(self) -> int:
        return self.instances * self.agents


CASES = (
    Case("1,000 agents", 1, 1000),
    Case("5,000 agents", 1, 5000),
    Case("10,000 agents", 1, 10000),
    Case("3 instances x 2,000 agents", 3, 2000),
    Case("10,000 agents, all-agents filter only", 1, 10000, queue_filters=0),
    # A raised GetCurrentUserData quota (Service Quotas) with a real endpoint's latency; List APIs at 2/s, burst 5.
    Case("20,000 agents, five filters, 10/s, 60 ms", 1, 20000, queue_filters=4, rate=10, burst=20, latency=0.06),
    Case("50,000 agents, all-agents, 20/s, 60 ms", 1, 50000, queue_filters=0, rate=20, burst=40, latency=0.06),
)


def bench_filters(instance: Instance, queue_filters: int) -> list[dict[str, Any]]:
    """All agents plus team-sized queue filters (ten queues each, disjoint)."""
    queues = sorted(q.id for q in instance.queues.values() if q.kind == "STANDARD")
    return [{"name": "all-agents"}] + [
        {"name": f"queues-{n}", "queues": queues[n * 10 : (n + 1) * 10]} for n in range(queue_filters)
    ]


def run_case(case: Case, work: Path) -> dict[str, Any]:
    instances = build_instances(case.instances, case.agents, seed=7)
    config = {
        "instances": [{"instance_id": i.id, "filters": bench_filters(i, case.queue_filters)} for i in instances],
        "pacing": {
            "requests_per_second": RATE,
            "burst": BURST,
            **(
                {"operations": {"GetCurrentUserData": {"requests_per_second": case.rate, "burst": case.burst}}}
                if (case.rate, case.burst) != (RATE, BURST)
                else {}
            ),
        },
    }
    folder = work / case.name.replace(" ", "-").replace(",", "")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    sim = ConnectSimulator(
        instances,
        rate=RATE,
        burst=BURST,
        faults=Faults(latency=case.latency),
        quotas={"GetCurrentUserData": (case.rate, case.burst)},
    )
    endpoint = sim.serve()
    try:
        with (folder / "emf.jsonl").open("wb") as out, (folder / "stderr.txt").open("wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connect_exporter",
                    "snapshot",
                    "--config",
                    str(folder / "config.json"),
                    "--out",
                    str(folder / "out"),
                    "--at",
                    AT,
                    "--quiet",
                ],
                env=exporter_env(endpoint),
                stdout=out,
                stderr=err,
            )
            _, status, usage = os.wait4(proc.pid, 0)  # the child's own CPU and peak RSS
            wall = time.perf_counter() - started
    finally:
        sim.stop()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"bench: case {case.name!r} failed (exit {code}): {(folder / 'stderr.txt').read_text()[-500:]}")
    stdout = (folder / "emf.jsonl").read_bytes()
    docs = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    files = list((folder / "out").rglob("*.json.gz"))
    gcud = sim.calls["GetCurrentUserData"]
    floor = max(0.0, (gcud - case.burst) / case.rate)
    return {
        "case": case.name,
        "agents": case.total_agents,
        "filters": len(config["instances"]) * (1 + case.queue_filters),
        "wall_s": wall,
        "floor_s": floor,
        "ratio": wall / floor if floor else float("nan"),
        "calls": dict(sorted(sim.calls.items())),
        "throttled": sum(sim.throttled.values()),
        "records": sum(_count_lines(f) for f in files),
        "objects": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "emf_docs": len(docs),
        "emf_bytes": len(stdout),
        "custom_metrics": len(metric_keys(docs)),
        "alarms": alarm_count(load_settings(folder / "config.json")),  # the stack's defaults around this config
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "cpu_s_per_1000_agents": (usage.ru_utime + usage.ru_stime) / (case.total_agents / 1000),
    }


def _count_lines(path: Path) -> int:
    return gzip.decompress(path.read_bytes()).count(b"\n")


def monthly_cost(result: dict[str, Any]) -> dict[str, float]:
    """USD per month at a one-minute schedule for this case as measured, by `connect-exporter plan`'s model
    (Lambda billed for the whole measured wall time, interpreter start-up included)."""
    return cost_model(
        Usage(
            seconds=result["wall_s"],
            objects=result["objects"],
            bytes=result["bytes"],
            custom_metrics=result["custom_metrics"],
            emf_bytes=result["emf_bytes"],
            filters=result["filters"],
            alarms=result["alarms"],
        )
    )


def cold_import_seconds(samples: int = 5) -> list[float]:
    """The handler module's import in fresh interpreters: the code's share of a Lambda cold start."""
    code = "import time; t = time.perf_counter(); import connect_exporter.handler; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": str(REPO / "lambda_src")}
    return [float(subprocess.check_output([sys.executable, "-c", code], env=env)) for _ in range(samples)]


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    raised = lambda r: "/s" in r["case"]  # noqa: E731
    for marker, pick in (
        ("o", lambda r: "instances" not in r["case"] and "only" not in r["case"] and not raised(r)),
        ("s", lambda r: "instances" in r["case"]),
        ("^", lambda r: "only" in r["case"]),
        ("D", raised),
    ):
        chosen = [r for r in results if pick(r)]
        if not chosen:
            continue
        label = (
            chosen[0]["case"]
            if len(chosen) == 1
            else ("raised quota, 60 ms a call" if marker == "D" else "1 instance, all-agents + 3 queue filters")
        )
        ax.plot(
            [r["agents"] for r in chosen],
            [r["wall_s"] for r in chosen],
            marker=marker,
            linestyle="-" if len(chosen) > 1 else "",
            label=f"wall time: {label}",
        )
        ax.plot(
            [r["agents"] for r in chosen],
            [r["floor_s"] for r in chosen],
            marker=marker,
            linestyle=":",
            fillstyle="none",
            color="grey",
            label=None,
        )
    ax.plot([], [], linestyle=":", color="grey", marker="o", fillstyle="none", label="API floor (calls - 5) / 2")
    ax.axhline(LAMBDA_TIMEOUT, color="red", linewidth=0.8, linestyle="--", label="Lambda timeout at a 1-minute schedule")
    ax.set_xlabel("agents")
    ax.set_ylabel("seconds per snapshot")
    ax.set_title("Snapshot wall time at GetCurrentUserData 2/s, burst 5")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)


def write_report(results: list[dict[str, Any]], imports: list[float], path: Path) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {dt.date.today().isoformat()} ({platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}). The exporter CLI runs as a subprocess against the simulator at "
        f"GetCurrentUserData's default quota, {RATE:g} requests/s with a burst of {BURST} (each List API has its own "
        "bucket of the same size), except the last two cases: a raised GetCurrentUserData quota (the List APIs "
        "still at the default, `pacing.operations` set to match) with 60 ms added to every call, as a Lambda's "
        "round trip to Connect. The floor is `(GetCurrentUserData calls − burst) / rate`: no exporter can be "
        "faster at that quota. Wall time is the whole CLI process, interpreter start-up included. Filters: "
        "all-agents plus three queue filters of ten queues each, per instance, unless the case says otherwise.",
        "",
        "How soon a change in Connect reaches an alarm, at one sample a minute and below it, is measured by "
        "`make bench-latency`: [benchmarks-latency.md](benchmarks-latency.md).",
        "",
        "![wall time against agents](benchmarks.png)",
        "",
        f"| case | agents | filters | records | wall s | floor s | ratio | fits one minute (≤ {PAGING_BUDGET:g} s) | calls by operation | throttled | CPU s | CPU s per 1,000 agents | peak RSS MB | bytes written | EMF docs | EMF bytes | custom metrics |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        calls = ", ".join(f"{op} {n}" for op, n in r["calls"].items())
        lines.append(
            f"| {r['case']} | {r['agents']:,} | {r['filters']} | {r['records']:,} | {r['wall_s']:.1f} | {r['floor_s']:.1f} | "
            f"{r['ratio']:.3f} | {'yes' if r['wall_s'] <= PAGING_BUDGET else 'no'} | {calls} | {r['throttled']} | {r['cpu_s']:.2f} | {r['cpu_s_per_1000_agents']:.3f} | {r['peak_rss_mb']:.0f} | {r['bytes']:,} | "
            f"{r['emf_docs']} | {r['emf_bytes']:,} | {r['custom_metrics']} |"
        )
    lines += [
        "",
        "## Estimated monthly cost at a one-minute schedule",
        "",
        "43,800 runs a month, by the model `connect-exporter plan` uses (`lambda_src/connect_exporter/costs.py`): a "
        "512 MB arm64 Lambda billed for the measured wall time (the function waits on the API quota, so duration is "
        "the floor, not CPU); one PUT per filter a run; storage at the steady state of the defaults (raw snapshots "
        "kept 30 days, the Parquet history at a fifth of their size kept 400 days); the stack's alarms at their count "
        "for the config; log ingestion of the EMF plus Lambda's platform lines and a JSON line per filter; the "
        "history tier's hourly compaction in Athena (three hours of raw a run, plus two queries at the 10 MB "
        "minimum); the dashboard and the alarm topic's KMS key. Not included: your own Athena queries and S3 GETs. "
        "A case that does not fit one minute cannot run at this schedule; at `rate(2 minutes)` its per-run costs halve.",
        "",
        "| case | Lambda | S3 PUTs | S3 storage | custom metrics | alarms | log ingestion | Athena (history) | dashboard + key | total | per 1,000 agents |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cost = monthly_cost(r)
        lines.append(
            f"| {r['case']} | ${cost['lambda']:.2f} | ${cost['s3_puts']:.2f} | ${cost['s3_storage']:.2f} | "
            f"${cost['custom_metrics']:.2f} | ${cost['alarms']:.2f} | ${cost['log_ingestion']:.2f} | ${cost['athena_history']:.2f} | "
            f"${cost['fixed']:.2f} | ${cost['total']:.2f} | ${cost['total'] / r['agents'] * 1000:.2f} |"
        )
    lines += ["", "Prices used (USD, us-east-1 list prices; `connect-exporter plan --prices FILE` takes others):", ""]
    lines += [f"- {PRICE_NOTES[name]} (`{name}`): ${price:g}" for name, price in PRICES.items()]
    lines += [
        "",
        "## Cold start",
        "",
        f"Import of `connect_exporter.handler` (boto3, Powertools, the X-Ray SDK its Tracer loads (about 120 ms of it) and the exporter) in a fresh interpreter, {len(imports)} runs: "
        f"median {statistics.median(imports) * 1000:.0f} ms, min {min(imports) * 1000:.0f} ms, max {max(imports) * 1000:.0f} ms.",
        "",
        "## Reading the numbers",
        "",
        "- Every case is bound by the quota: CPU is a small share of wall time, and the ratio to the floor is the "
        "cost of interpreter start-up, the List calls for names and loopback latency.",
        f"- A one-minute schedule fits any case whose wall time stays under the Lambda timeout ({LAMBDA_TIMEOUT:g} s, "
        "of which 5 s are kept to write and report). See the README's capacity section for what to change above it.",
        "- Custom metrics are counted from one snapshot; an agent status or contact state that appears later adds "
        "its own metrics (`AgentsByStatus`, `Contacts`).",
    ]
    # The history tier's section is written by `make bench-history`: kept as it is.
    kept = path.read_text().partition(HISTORY_MARK)[2] if path.exists() else ""
    path.write_text("\n".join(lines) + "\n" + (HISTORY_MARK + kept if kept else ""))


def main(cases: tuple[Case, ...] = CASES, docs: Path = REPO / "docs") -> int:
    docs.mkdir(exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        for case in cases:
            result = run_case(case, Path(tmp))
            results.append(result)
            print(
                f"{case.name}: {result['wall_s']:.1f} s (floor {result['floor_s']:.1f} s, ratio {result['ratio']:.3f}), "
                f"{result['calls']}, throttled {result['throttled']}, CPU {result['cpu_s']:.2f} s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB, {result['records']:,} records, {result['bytes']:,} bytes, "
                f"EMF {result['emf_docs']} docs / {result['emf_bytes']:,} bytes, {result['custom_metrics']} custom metrics",
                flush=True,
            )
    imports = cold_import_seconds()
    print(f"cold import of connect_exporter.handler: median {statistics.median(imports) * 1000:.0f} ms", flush=True)
    (docs / "benchmarks.json").write_text(json.dumps({"cold_import_s": imports, "cases": results}, indent=1) + "\n")
    plot(results, docs / "benchmarks.png")
    write_report(results, imports, docs / "benchmarks.md")
    print(f"wrote {docs / 'benchmarks.md'}, .png and .json")
    missed = missed_targets(results)
    for miss in missed:
        print(f"bench: target missed: {miss}", file=sys.stderr)
    return 1 if missed else 0


def missed_targets(results: list[dict[str, Any]]) -> list[str]:
    """Ratio to the floor at every size, and peak RSS, as the issue set them."""
    missed = [f"{r['case']}: ratio {r['ratio']:.3f} > {MAX_RATIO}" for r in results if r["ratio"] > MAX_RATIO]
    missed += [
        f"{r['case']}: peak RSS {r['peak_rss_mb']:.0f} MB >= {MAX_RSS_MB} MB" for r in results if r["peak_rss_mb"] >= MAX_RSS_MB
    ]
    missed += [f"{r['case']}: {r['throttled']} throttled calls" for r in results if r["throttled"]]
    return missed
