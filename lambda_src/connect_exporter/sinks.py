"""Where snapshot objects go: a local directory or an S3 prefix. Each object is written whole or not at all."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol


class Sink(Protocol):
    def put(self, key: str, body: bytes) -> str:
        """Store `body` at `key` (relative, '/'-separated), replacing any object there; returns its URI."""
        ...


def object_key(instance_id: str, filter_name: str, snapshot_time: dt.datetime) -> str:
    """Hive-partitioned key; the file name is a pure function of the snapshot time, so a retry overwrites."""
    t = snapshot_time.astimezone(dt.timezone.utc)
    return (
        f"instance_id={instance_id}/filter_name={filter_name}/dt={t:%Y-%m-%d}/hour={t:%H}/"
        f"snapshot-{t:%Y%m%dT%H%M%SZ}.json.gz"
    )


def encode_records(records: Iterable[Mapping[str, Any]]) -> bytes:
    """Gzip JSON Lines, one object per line, with a zero mtime so equal records give equal bytes."""
    lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return gzip.compress(lines.encode("utf-8"), compresslevel=6, mtime=0)


class LocalSink:
    """Writes under a directory through a temporary file and an atomic rename."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)


class S3Sink:
    """Writes with one PutObject (atomic in S3); boto3's standard retries cover transient failures.

    No Content-Encoding header: HTTP clients would un-gzip on download and leave text in a .gz file.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def put(self, key: str, body: bytes) -> str:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        self.client.put_object(
            Bucket=self.bucket, Key=full_key, Body=body, ContentType="application/gzip"
        )
        return f"s3://{self.bucket}/{full_key}"


def parse_destination(dest: str) -> tuple[str, str, str]:
    """('s3', bucket, prefix) for s3://bucket/prefix, else ('local', path, '')."""
    if dest.startswith("s3://"):
        bucket, _, prefix = dest[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"destination {dest!r} names no bucket")
        return "s3", bucket, prefix.strip("/")
    return "local", dest, ""
