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
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from botocore.exceptions import ClientError


class AlreadyWritten(Exception):
    """The object exists: an earlier run wrote this minute, and its write stands."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"already written: {uri}")
        self.uri = uri


class Sink(Protocol):
    def put(self, key: str, body: BinaryIO) -> str:
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


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder: json.dumps builds one a call


class GzipLines:
    """Gzip JSON Lines written a record at a time into a spooled file: in memory up to SPOOL_BYTES, then in
    /tmp, so a filter's object costs no memory that grows with its agents. A zero mtime and no file name in
    the gzip header: equal records give equal bytes."""

    SPOOL_BYTES = 4 * 1024 * 1024

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES)
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self.file, compresslevel=6, mtime=0)
        self.records = 0
        self.size = 0  # bytes, once finished

    def write(self, record: Mapping[str, Any]) -> None:
        self._gzip.write((_ENCODER.encode(record) + "\n").encode("utf-8"))
        self.records += 1

    def finish(self) -> BinaryIO:
        """The whole object, positioned at its start; its size is `size`."""
        self._gzip.close()
        self.size = self.file.tell()
        self.file.seek(0)
        return self.file  # type: ignore[return-value]


class LocalSink:
    """Writes a temporary file, then hard-links it to its name: the link is atomic and fails if the
    name exists, so the object appears whole and at most once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: BinaryIO) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(body, handle)
            os.link(tmp, target)
        except FileExistsError:
            raise AlreadyWritten(str(target)) from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return str(target)


class DiscardSink:
    """Writes nothing (`connect-exporter plan` without --out): the objects are built and measured, then dropped."""

    def put(self, key: str, body: BinaryIO) -> str:
        return f"(not written) {key}"


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

    def put(self, key: str, body: BinaryIO) -> str:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        uri = f"s3://{self.bucket}/{full_key}"
        attempt = 0
        while True:
            body.seek(0)
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
