"""Keys, encoding and whole-object writes."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json

import pytest

from connect_exporter.sinks import (
    AlreadyWritten,
    LocalSink,
    object_key,
    parse_destination,
)

from ..support import encode_records


def test_key_is_hive_partitioned_by_utc_date_and_hour_and_a_pure_function_of_time():
    at = dt.datetime(2026, 11, 24, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))  # 22:05 UTC the day before
    key = object_key("inst", "support", at)
    assert key == "instance_id=inst/filter_name=support/dt=2026-11-23/hour=22/snapshot-20261123T220500Z.json.gz"
    assert object_key("inst", "support", at) == key


def test_encoding_is_gzip_json_lines_and_deterministic():
    records = [{"a": 1, "b": "é"}, {"a": 2, "b": None}]
    body = encode_records(records)
    assert body == encode_records(records)
    lines = gzip.decompress(body).decode().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_local_sink_writes_a_key_once_keeps_the_first_and_leaves_no_temp_files(tmp_path):
    sink = LocalSink(tmp_path)
    uri = sink.put("a/b/x.json.gz", io.BytesIO(b"first"))
    with pytest.raises(AlreadyWritten) as refused:
        sink.put("a/b/x.json.gz", io.BytesIO(b"second"))
    assert refused.value.uri == uri == str(tmp_path / "a/b/x.json.gz")
    assert (tmp_path / "a/b/x.json.gz").read_bytes() == b"first"
    assert [p.name for p in (tmp_path / "a/b").iterdir()] == ["x.json.gz"]


@pytest.mark.parametrize(
    "dest, parsed",
    [("s3://bkt/pre/fix/", ("s3", "bkt", "pre/fix")), ("s3://bkt", ("s3", "bkt", "")), ("out/dir", ("local", "out/dir", ""))],
)
def test_destinations(dest, parsed):
    assert parse_destination(dest) == parsed


def test_s3_destination_needs_a_bucket():
    with pytest.raises(ValueError, match="is not an S3 bucket name"):
        parse_destination("s3:///prefix")
