"""`python -m benchmarks snapshot|history|latency|trino`: each writes its figures to docs/ (see the Makefile's bench verbs)."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("snapshot", help="the exporter CLI at the default quota, 1k-50k agents; writes docs/benchmarks.md")
    history = commands.add_parser(
        "history", help="a day of raw snapshots against the compacted history (DuckDB); writes docs/benchmarks-history.md"
    )
    history.add_argument("--minutes", type=int, default=1440)
    latency = commands.add_parser(
        "latency", help="time from a slot change to the datapoint that shows it; writes docs/benchmarks-latency.md"
    )
    latency.add_argument("--minutes", type=int, default=5, help="minutes of runs per case")
    commands.add_parser("trino", help="bytes each history statement reads on Trino (make trino); writes docs/benchmarks-trino.md")
    args = parser.parse_args(argv)
    # Each benchmark imports only what it drives: the Trino one needs the trino client, the others do not.
    if args.command == "snapshot":
        from .snapshot import main as snapshot

        return snapshot()
    if args.command == "history":
        from .history import main as history_main

        return history_main(args.minutes)
    if args.command == "latency":
        from .latency import main as latency_main

        return latency_main(args.minutes)
    from .trino import main as trino

    return trino()


if __name__ == "__main__":
    raise SystemExit(main())
