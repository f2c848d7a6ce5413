"""Where snapshot objects go: a local directory or an S3 prefix.

Each object is written whole or not at all, and only once: the first complete write of a filter's
minute stands, so a retried or repeated run can add the filters still missing but never replaces a
minute with data read later.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError


class AlreadyWritten(Exception):
    """The object exists: an earlier run wrote this minute, and its write stands."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"already written: {uri}")
        self.uri = uri


class Sink(Protocol):
    def put(self, key: str, body: bytes) -> str:
        """Store `body` at `key` (relative, '/'-separated) if nothing is there yet; returns its URI.
        Raises `AlreadyWritten` when the key exists (the stored object is left as it is)."""
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
    """Writes a temporary file, then hard-links it to its name: the link is atomic and fails if the
    name exists, so the object appears whole and at most once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.link(tmp, target)
        except FileExistsError:
            raise AlreadyWritten(str(target)) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return str(target)


class S3Sink:
    """Writes with one conditional PutObject (`If-None-Match: *`): atomic, and refused with 412 when the key
    exists, without reading anything (the role needs only s3:PutObject). boto3's standard retries cover
    transient failures.

    No Content-Encoding header: HTTP clients would un-gzip on download and leave text in a .gz file.
    """

    # S3 answers 409 while another conditional write of the same key is in flight; the retry then learns
    # whether that write completed (412) or not (200).
    CONFLICT_RETRIES = 3

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def put(self, key: str, body: bytes) -> str:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        uri = f"s3://{self.bucket}/{full_key}"
        attempt = 0
        while True:
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=full_key, Body=body, ContentType="application/gzip", IfNoneMatch="*"
                )
                return uri
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "PreconditionFailed":
                    raise AlreadyWritten(uri) from None
                if code != "ConditionalRequestConflict" or attempt == self.CONFLICT_RETRIES:
                    raise
                attempt += 1
                time.sleep(0.2 * attempt)


def parse_destination(dest: str) -> tuple[str, str, str]:
    """('s3', bucket, prefix) for s3://bucket/prefix, else ('local', path, '')."""
    if dest.startswith("s3://"):
        bucket, _, prefix = dest[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"destination {dest!r} names no bucket")
        return "s3", bucket, prefix.strip("/")
    return "local", dest, ""
