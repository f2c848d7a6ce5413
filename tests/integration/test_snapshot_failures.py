"""A write that fails costs only its own filter, and leaves nothing partial behind."""

from __future__ import annotations

import datetime as dt
from typing import BinaryIO

import pytest

from connect_exporter.clients import connect_client, s3_client
from connect_exporter.config import validate_config
from connect_exporter.connect import ConnectApi
from connect_exporter.directory import Directory
from connect_exporter.sinks import LocalSink, S3Sink
from connect_exporter.snapshot import run_snapshot

from ..support import read_tree, world

AT = dt.datetime(2026, 11, 24, 3, 48, tzinfo=dt.UTC)


class DiskFullFor(LocalSink):
    """A local directory that is full for one filter's object."""

    def __init__(self, root, failing_filter: str) -> None:
        super().__init__(root)
        self.failing = f"filter_name={failing_filter}/"

    def put(self, key: str, body: BinaryIO, run_id: str = "", seconds: float | None = None) -> str:
        if self.failing in key:
            raise OSError(28, "No space left on device")
        return super().put(key, body, run_id, seconds)


@pytest.fixture
def two_filters():
    (inst,) = world(1, 1500)
    agents = sorted(inst.agents)
    return inst, validate_config(
        {
            "instances": [
                {
                    "instance_id": inst.id,
                    "filters": [{"name": "first", "agents": agents[:50]}, {"name": "second", "agents": agents[50:90]}],
                }
            ],
            "pacing": {"requests_per_second": 500, "burst": 50},
        }
    )


def test_a_failed_local_write_leaves_no_partial_file_and_keeps_the_other_filter(tmp_path, connect_sim, two_filters):
    inst, config = two_filters
    connect_sim([inst])
    sink = DiskFullFor(tmp_path, "first")
    report = run_snapshot(
        config, AT, ConnectApi(connect_client(), config.pacing), Directory(900), sink, emit=lambda d: len(list(d))
    )
    assert [(o.filter_name, o.error) for o in report.failures] == [("first", "OSError: [Errno 28] No space left on device")]
    tree = read_tree(tmp_path)
    assert [k.split("/")[1] for k in tree] == ["filter_name=second"] and len(next(iter(tree.values()))) == 40
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.endswith(".json.gz")]


def test_an_s3_write_that_keeps_failing_is_reported_and_the_other_filter_is_saved(connect_sim, s3, two_filters):
    inst, config = two_filters
    connect_sim([inst])
    client, bucket = s3
    # The second filter writes under a prefix the bucket policy denies: a PutObject failure boto3 cannot retry away.
    client.put_bucket_policy(
        Bucket=bucket,
        Policy=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject",'
            f'"Resource":"arn:aws:s3:::{bucket}/p/instance_id={inst.id}/filter_name=second/*"}}]}}'
        ),
    )
    emitted: list[dict] = []
    report = run_snapshot(
        config,
        AT,
        ConnectApi(connect_client(), config.pacing),
        Directory(900),
        S3Sink(s3_client(), bucket, "p"),
        emit=lambda docs: emitted.extend(docs) or 0,
    )
    assert [(o.filter_name, o.error) for o in report.failures] == [("second", "PutObject 403: Forbidden")]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert [k.split("/")[2] for k in keys] == ["filter_name=first"]
    failed = {d["Filter"]: d["FilterFailed"] for d in emitted if "FilterFailed" in d}
    assert failed == {"first": [0.0], "second": [1.0]}
