"""The README's first command: a simulator, a matching config, and the exporter CLI run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .scenario import exporter_config
from .server import ConnectSimulator
from .world import Instance

REPO = Path(__file__).resolve().parent.parent


def exporter_env(endpoint: str) -> dict[str, str]:
    """The environment for the exporter CLI as a subprocess: boto3 pointed at the simulator, never at AWS."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "lambda_src"),
        "AWS_ENDPOINT_URL_CONNECT": endpoint,
        "AWS_ACCESS_KEY_ID": "simulator",
        "AWS_SECRET_ACCESS_KEY": "simulator",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    return env


@contextmanager
def demo_center(instances: list[Instance], out: str) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """The output folder, a config matching the simulated center in it, and the exporter's environment
    pointed at a simulator serving that center (stopped on exit)."""
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "config.json"
    config_path.write_text(json.dumps(exporter_config(instances), indent=2))
    sim = ConnectSimulator(instances)
    endpoint = sim.serve()
    print(f"Simulator: {endpoint}, {sum(len(i.agents) for i in instances)} agents. Config: {config_path}", file=sys.stderr)
    try:
        yield out_dir, config_path, exporter_env(endpoint)
    finally:
        sim.stop()


def run_demo(instances: list[Instance], out: str) -> int:
    with demo_center(instances, out) as (out_dir, config_path, env):
        emf_path = out_dir / "emf.jsonl"
        with emf_path.open("w") as emf:
            code = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "connect_exporter",
                    "snapshot",
                    "--config",
                    str(config_path),
                    "--out",
                    str(out_dir / "snapshots"),
                ],
                env=env,
                stdout=emf,
            )
    print(f"Snapshots under {out_dir / 'snapshots'}; EMF metrics in {emf_path}", file=sys.stderr)
    return 0 if code == 3 else code  # 3: a second demo in the same minute found its snapshots already written


def run_plan(instances: list[Instance], out: str) -> int:
    """`connect-exporter plan` on the demo center: what its config would need and cost."""
    with demo_center(instances, out) as (_, config_path, env):
        return subprocess.call([sys.executable, "-m", "connect_exporter", "plan", "--config", str(config_path)], env=env)
