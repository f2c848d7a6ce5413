"""Benchmarks that print numbers and write them to `docs/`: speed, memory, bytes scanned and latency.

They drive the exporter, the local lake and Trino the way a user would, against the simulator; they take minutes,
so they are `make bench*` verbs, never tests. The tests check their arithmetic (`tests/integration/test_benchmark.py`).
"""
