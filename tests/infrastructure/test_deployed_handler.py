"""The synthesized function, invoked with the schedule's own input, against the simulator and moto's S3:
its objects land where the Glue table's storage.location.template says they are."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.scenario import exporter_config

from ..support import world
from .support import EXPORTER_FUNCTION, REPO, Synthesized, properties, synth, the

RUNNER = """
import importlib, json, sys, time
module, _, function = sys.argv[1].rpartition(".")
event = json.loads(sys.argv[2])
class Context:
    function_name = "exporter"; memory_limit_in_mb = 512; aws_request_id = "e2e"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:exporter"
    def get_remaining_time_in_millis(self): return 50_000
print(json.dumps(getattr(importlib.import_module(module), function)(event, Context())), file=sys.stderr)
"""


def _subsegments(segment: dict) -> list[dict]:
    found = []
    for sub in segment.get("subsegments", []):
        found += [sub, *_subsegments(sub)]
    return found


def asset_dir(synthesized: Synthesized, kind: str, logical_id: str) -> Path:
    """The folder of a resource's code asset in the cloud assembly (the asset metadata `cdk synth` writes)."""
    resource = synthesized.template.find_resources(kind)[logical_id]
    return synthesized.outdir / resource["Metadata"]["aws:asset:path"]


def test_scheduled_input_through_the_synthesized_handler_lands_under_the_table_location(tmp_path, connect_sim, s3):
    client, bucket = s3
    (inst,) = world(1, 300, seed=3)
    connect_sim([inst])
    config = exporter_config(
        [inst],
        pacing={"requests_per_second": 500, "burst": 50},
        deployment={"alarms": [{"filter": "support", "channel": "VOICE", "threshold": 1}]},
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert path.stat().st_size > 8192  # more than Lambda's 4 KB of environment or Scheduler's 8 KB of input hold
    synthesized = synth(tmp_path, path)
    # The nearest minute: the function skips a run that starts a whole schedule period late and refuses a time
    # more than a period ahead, so rounding leaves at least 30 s either way (truncating left none at hh:mm:59).
    scheduled = (datetime.now(UTC) + timedelta(seconds=30)).replace(second=0, microsecond=0)
    fn_id = the(synthesized.template, "AWS::Lambda::Function", EXPORTER_FUNCTION)
    fn = properties(synthesized, fn_id)
    code = asset_dir(synthesized, "AWS::Lambda::Function", fn_id)
    layer = asset_dir(synthesized, "AWS::Lambda::LayerVersion", the(synthesized.template, "AWS::Lambda::LayerVersion"))
    env_vars = fn["Environment"]["Variables"]
    destination = "".join(p if isinstance(p, str) else bucket for p in env_vars["EXPORTER_DESTINATION"]["Fn::Join"][1])
    config_path = env_vars["EXPORTER_CONFIG_PATH"].replace("/opt", str(layer), 1)
    schedule = properties(synthesized, the(synthesized.template, "AWS::Scheduler::Schedule", prefix="Exporter"))
    event = schedule["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", f"{scheduled:%Y-%m-%dT%H:%M:%SZ}")

    assert len(json.dumps(env_vars)) < 4096 and len(event) < 8192
    # The function's code is the package and nothing else: no tests, no simulator, no install metadata.
    assert [p.name for p in code.iterdir()] == ["connect_exporter"]
    assert not [p for p in code.rglob("*") if p.name.startswith("test") or p.suffix == ".pyc"]
    assert fn["TracingConfig"] == {"Mode": "Active"}
    # As Lambda runs it with active tracing: a trace header, and the X-Ray daemon's UDP address (here, this test).
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(2)
    env = {
        **os.environ,
        **{k: v for k, v in env_vars.items() if isinstance(v, str)},
        "EXPORTER_DESTINATION": destination,
        "EXPORTER_CONFIG_PATH": config_path,
        "PYTHONPATH": str(code),
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_LAMBDA_FUNCTION_NAME": "exporter",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
    }
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, fn["Handler"], event], env=env, capture_output=True, text=True, timeout=120
    )
    datagrams = []
    with contextlib.suppress(TimeoutError):
        while True:
            datagrams.append(daemon.recv(65536).decode())
    daemon.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stderr.strip().splitlines()[-1])
    assert (summary["filters"], summary["written"]) == (5, 5)
    # The trace: the handler, each filter (annotated), each Connect and S3 call; names and counts, no record.
    segments = [json.loads(d.split("\n", 1)[1]) for d in datagrams]
    names = {s["name"] for s in segments} | {sub["name"] for s in segments for sub in _subsegments(s)}
    assert {"## lambda_handler", "connect", "s3"} <= names
    assert {f"## filter {f['name']}" for f in config["instances"][0]["filters"]} <= names
    support = next(sub for s in segments for sub in [s, *_subsegments(s)] if sub["name"] == "## filter support")
    assert support["annotations"] == {"instance_id": inst.id, "filter_name": "support"}
    operations = {sub.get("aws", {}).get("operation") for s in segments for sub in [s, *_subsegments(s)]}
    assert {"GetCurrentUserData", "ListUsers", "PutObject"} <= operations
    traces = "\n".join(datagrams)
    assert not [a.username for a in inst.agents.values() if a.username in traces]

    raw = the(synthesized.template, "AWS::Glue::Table", {"TableInput": {"TableType": "EXTERNAL_TABLE"}})
    table = properties(synthesized, raw)["TableInput"]
    params = table["Parameters"]
    location = "".join(p if isinstance(p, str) else bucket for p in params["storage.location.template"]["Fn::Join"][1])
    pattern = re.escape(location.removeprefix(f"s3://{bucket}/"))
    for column in ("instance_id", "filter_name"):
        pattern = pattern.replace(
            re.escape(f"${{{column}}}"), "(" + "|".join(map(re.escape, params[f"projection.{column}.values"].split(","))) + ")"
        )
    pattern = pattern.replace(re.escape("${dt}"), f"{scheduled:%Y-%m-%d}").replace(re.escape("${hour}"), f"{scheduled:%H}")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 5
    assert all(re.fullmatch(pattern + f"snapshot-{scheduled:%Y%m%dT%H%M%SZ}\\.json\\.gz", key) for key in keys), (pattern, keys)


# What runs in Lambda, and nothing else: the CLI, plan, prices and deployment settings are operator tools.
RUNTIME_MODULES = [
    "__init__.py",
    "clients.py",
    "config.py",
    "connect.py",
    "directory.py",
    "handler.py",
    "metrics.py",
    "observability.py",
    "pacing.py",
    "pager.py",
    "records.py",
    "sampling.py",
    "schema.py",
    "sinks.py",
    "snapshot.py",
    "validation.py",
]


def test_the_function_asset_holds_the_runtime_modules_only(synthesized):
    function_id = the(synthesized.template, "AWS::Lambda::Function", EXPORTER_FUNCTION)
    root = asset_dir(synthesized, "AWS::Lambda::Function", function_id)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [f"connect_exporter/{name}" for name in RUNTIME_MODULES]


def test_synth_imports_no_powertools_metrics_provider():
    """Synth reads the config models, not the function's EMF code (which loads Powertools' metrics provider)."""
    probe = "import sys, app; print(sorted(m for m in sys.modules if m.startswith('aws_lambda_powertools')))"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'lambda_src'}{os.pathsep}{REPO}"}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
