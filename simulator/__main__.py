"""`python -m simulator serve|config|demo|plan|bench|bench-history|bench-latency|history`: run the Connect simulator, print a matching
config, run the demo, plan it or the benchmark, export a local history of snapshots (query it with `python -m local_athena`)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from connect_exporter.config import SAMPLE_SECONDS

from .hostile import MODES
from .scenario import build_instances, exporter_config
from .server import ConnectSimulator, Faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "config", "demo", "plan"):
        sub = commands.add_parser(name)
        sub.add_argument("--agents", type=int, default=1500)
        sub.add_argument("--instances", type=int, default=1)
        sub.add_argument("--seed", type=int, default=7)
        if name == "serve":
            sub.add_argument("--port", type=int, default=8700)
            sub.add_argument("--rate", type=float, default=2.0)
            sub.add_argument("--burst", type=int, default=5)
            sub.add_argument("--error-rate", type=float, default=0.0)
            sub.add_argument("--latency", type=float, default=0.0)
            sub.add_argument(
                "--hostile", choices=sorted(MODES), help="answer one way Connect must never answer (see simulator/hostile.py)"
            )
        if name in ("demo", "plan"):
            sub.add_argument("--out", default=f"out/{name}")
    commands.add_parser("bench", help="measure the exporter at the default quota; writes docs/benchmarks.md")
    bench_history = commands.add_parser(
        "bench-history", help="a day of raw snapshots against the compacted history; writes docs/benchmarks-history.md"
    )
    bench_history.add_argument("--minutes", type=int, default=1440)
    bench_latency = commands.add_parser(
        "bench-latency", help="time from a slot change to the datapoint that shows it; writes docs/benchmarks-latency.md"
    )
    bench_latency.add_argument("--minutes", type=int, default=5, help="minutes of runs per case")
    history = commands.add_parser(
        "history", help="export the last N minutes of a moving center, one snapshot a minute (or --sample-seconds)"
    )
    history.add_argument("--minutes", type=int, default=60)
    history.add_argument("--agents", type=int, default=300)
    history.add_argument("--seed", type=int, default=7)
    history.add_argument("--out", default="out/history")
    history.add_argument("--sample-seconds", type=int, choices=SAMPLE_SECONDS, default=60, help="deployment.sample_seconds")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from .benchmark import main as bench

        return bench()
    if args.command == "bench-history":
        from .history_benchmark import main as bench_history_main

        return bench_history_main(args.minutes)
    if args.command == "bench-latency":
        from .latency import main as bench_latency_main

        return bench_latency_main(args.minutes)
    if args.command == "history":
        from .history import run_history

        return run_history(args.out, args.minutes, args.agents, args.seed, args.sample_seconds)
    instances = build_instances(args.instances, args.agents, args.seed)
    if args.command == "config":
        json.dump(exporter_config(instances), sys.stdout, indent=2)
        print()
        return 0
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(instances, args.out)
    if args.command == "plan":
        from .demo import run_plan

        return run_plan(instances, args.out)
    rewrite = MODES[args.hostile]() if args.hostile else None
    sim = ConnectSimulator(
        instances, args.rate, args.burst, Faults(error_rate=args.error_rate, latency=args.latency, rewrite=rewrite)
    )
    url = sim.serve(port=args.port)
    print(
        f"Connect simulator on {url} ({args.instances} instance(s), {args.agents} agents each); Ctrl-C stops it", file=sys.stderr
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
