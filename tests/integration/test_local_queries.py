"""`python -m simulator history` then `query`: the named queries on a local tree, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import REPO


def simulator(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
    return subprocess.run([sys.executable, "-m", "simulator", *args], env=env, capture_output=True, text=True, timeout=300)


def test_history_then_every_named_query_runs_locally(tmp_path):
    made = simulator("history", "--minutes", "3", "--agents", "60", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert "3 snapshots" in made.stderr and "0 failed filters" in made.stderr
    assert "filter written" not in made.stderr  # the summary is not buried in per-filter logs
    ran = simulator("query", "--root", str(tmp_path / "snapshots"), "--rows", "3")
    assert ran.returncode == 0, ran.stderr
    headers = [line for line in ran.stdout.splitlines() if line.startswith("-- ")]
    assert [h.split(":")[0] for h in headers] == [
        "-- latest-agent-state", "-- agents-per-status-over-time", "-- slots-per-channel-over-time",
        "-- agents-on-contacts-by-state", "-- status-minutes-per-agent-today",
    ]
    assert "(60 rows)" in headers[0]  # every agent was logged in at the start


def test_bad_query_input_is_one_line(tmp_path):
    missing = simulator("query", "--root", str(tmp_path))
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: no snapshots under {tmp_path} (run `python -m simulator history` first)"
    simulator("history", "--minutes", "1", "--agents", "10", "--out", str(tmp_path))
    unknown = simulator("query", "--root", str(tmp_path / "snapshots"), "--name", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no named query nope; there are latest-agent-state")
