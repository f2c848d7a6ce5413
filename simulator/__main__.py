"""`python -m simulator serve|config|demo|plan|history`: run the Connect simulator, print a matching config, run the
demo or plan it, export a local history of snapshots (query it with `python -m local_athena`). Benchmarks that drive
the simulator live in `benchmarks/`."""

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
    history = commands.add_parser(
        "history", help="export the last N minutes of a moving center, one snapshot a minute (or --sample-seconds)"
    )
    history.add_argument("--minutes", type=int, default=60)
    history.add_argument("--agents", type=int, default=300)
    history.add_argument("--seed", type=int, default=7)
    history.add_argument("--out", default="out/history")
    history.add_argument("--sample-seconds", type=int, choices=SAMPLE_SECONDS, default=60, help="deployment.sample_seconds")
    args = parser.parse_args(argv)
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
