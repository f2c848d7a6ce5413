"""Helpers for integration tests: the simulator's truth, and reading what the exporter wrote."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..support import PREFIX, REPO


@pytest.fixture
def run_cli():
    """Run the CLI as a user would: a subprocess, env pointing boto3 at the fakes."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
        return subprocess.run(
            [sys.executable, "-m", "connect_exporter", *args], env=env, capture_output=True, text=True, timeout=300, cwd=cwd
        )

    return run


@pytest.fixture
def deploy(tmp_path, s3, monkeypatch):
    """Configure the function's environment as the stack does; returns a reader of the bucket."""
    from connect_exporter import handler  # imports Powertools' Tracer: only for the tests that deploy

    client, bucket = s3

    def configure(config: dict):
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        monkeypatch.setenv("EXPORTER_CONFIG_PATH", str(path))
        monkeypatch.setenv("EXPORTER_DESTINATION", f"s3://{bucket}/{PREFIX}")
        handler.runtime.cache_clear()

        def objects() -> dict[str, list[dict]]:
            keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
            return {
                k: [json.loads(x) for x in gzip.decompress(client.get_object(Bucket=bucket, Key=k)["Body"].read()).splitlines()]
                for k in keys
            }

        return objects

    yield configure
    handler.runtime.cache_clear()
