"""Where snapshot objects go: a local directory or an S3 prefix.

Each object is written whole or not at all, and only once: the first complete write of a filter's
minute stands, so a retried or repeated run can add the filters still missing but never replaces a
minute with data read later. A write knows its own: each carries its run's id, so a retry of this run's
PUT whose first response was lost (the object stored, the answer not) counts as written, not as an
earlier run's.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import marshal
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .connect import bounded
from .observability import logger

# S3 object metadata (x-amz-meta-run-id) naming the run that wrote an object.
RUN_ID_KEY = "run-id"


class AlreadyWritten(Exception):
    """The object exists: an earlier run wrote this minute, and its write stands."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"already written: {uri}")
        self.uri = uri


class Sink(Protocol):
    def put(self, key: str, body: BinaryIO, run_id: str = "", seconds: float | None = None) -> str:
        """Store `body` at `key` (relative, '/'-separated) if nothing is there yet, within `seconds` (None: no
        limit); returns its URI. Raises `AlreadyWritten` when the key exists and run `run_id` did not write it
        (the stored object is left as it is), `DeadlineReached` when the write did not finish in time."""
        ...

    def check_writable(self) -> None:
        """Raise OSError (or ValueError) now if nothing could be written, before any API call."""
        ...


def object_key(instance_id: str, filter_name: str, snapshot_time: dt.datetime) -> str:
    """Hive-partitioned key; the file name is a pure function of the snapshot time, so a retry overwrites."""
    t = snapshot_time.astimezone(dt.UTC)
    return f"instance_id={instance_id}/filter_name={filter_name}/dt={t:%Y-%m-%d}/hour={t:%H}/snapshot-{t:%Y%m%dT%H%M%SZ}.json.gz"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder: json.dumps builds one a call


class GzipLines:
    """Gzip JSON Lines written a record at a time into a spooled file: in memory up to SPOOL_BYTES, then in
    /tmp, so a filter's object costs no memory that grows with its agents. A zero mtime and no file name in
    the gzip header: equal records give equal bytes."""

    SPOOL_BYTES = 4 * 1024 * 1024

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=self.SPOOL_BYTES)  # noqa: SIM115  # the object's, until finish()
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


class RecordSpool:
    """Records waiting for their names (flattened before the instance's names arrived), spooled in marshal
    batches (memory up to a few MB, then /tmp) until `records.name` completes them: holding them costs no
    memory that grows with agents, and the work left for after the names is a few dictionary reads a record."""

    def __init__(self) -> None:
        self._file: Any = None

    def add(self, records: list[dict[str, Any]]) -> None:
        if self._file is None:
            self._file = tempfile.SpooledTemporaryFile(max_size=GzipLines.SPOOL_BYTES)  # noqa: SIM115  # the spool's, until read
        batch = marshal.dumps(records)  # plain dicts, lists, strings and numbers: marshal is the fastest codec
        self._file.write(len(batch).to_bytes(8, "little") + batch)

    def drain(self) -> Iterator[list[dict[str, Any]]]:
        if self._file is not None:
            self._file.seek(0)
            while header := self._file.read(8):
                yield marshal.loads(self._file.read(int.from_bytes(header, "little")))
            self._file.close()
            self._file = None


class LocalSink:
    """Writes a temporary file, then hard-links it to its name: the link is atomic and fails if the
    name exists, so the object appears whole and at most once."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def check_writable(self) -> None:
        """The root made and a file created and removed in it: a read-only or mistyped destination fails here,
        not after a whole API's pages."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=self.root, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)

    def put(self, key: str, body: BinaryIO, run_id: str = "", seconds: float | None = None) -> str:
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

    def put(self, key: str, body: BinaryIO, run_id: str = "", seconds: float | None = None) -> str:
        return f"(not written) {key}"

    def check_writable(self) -> None:
        return None


class S3Sink:
    """Writes with one conditional PutObject (`If-None-Match: *`): atomic, and refused with 412 when the key
    exists. boto3's standard retries cover transient failures, and so can meet their own write: the first
    try stored the object but its answer was lost (a reset, a 500 after the store), and the retry gets 412.
    So every object carries its run's id in its metadata and a 412 is followed by one HeadObject: the run's
    own id is a write (exit 0, metrics), another id an earlier run's. That HeadObject needs s3:GetObject on
    the prefix; without it a 412 is taken as an earlier run's, with a warning.

    No Content-Encoding header: HTTP clients would un-gzip on download and leave text in a .gz file.
    """

    # S3 answers 409 while another conditional write of the same key is in flight; the retry then learns
    # whether that write completed (412) or not (200).
    CONFLICT_RETRIES = 3

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def check_writable(self) -> None:
        return None  # knowing would take a write or s3:ListBucket; a denied PutObject fails its filter in one line

    def put(self, key: str, body: BinaryIO, run_id: str = "", seconds: float | None = None) -> str:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        uri = f"s3://{self.bucket}/{full_key}"
        late = (
            f"PutObject {uri} did not finish before the Lambda deadline: not counted as written "
            "(if S3 stored it after all, a rerun of the minute finds it written)"
        )
        return bounded(lambda: self._put(full_key, uri, body, run_id), seconds, late)

    def _put(self, full_key: str, uri: str, body: BinaryIO, run_id: str) -> str:
        attempt = 0
        while True:
            body.seek(0)
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=full_key,
                    Body=body,
                    ContentType="application/gzip",
                    IfNoneMatch="*",
                    Metadata={RUN_ID_KEY: run_id} if run_id else {},
                )
                return uri
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "PreconditionFailed":
                    if run_id and self._written_by(full_key, uri, run_id):
                        return uri
                    raise AlreadyWritten(uri) from None
                if code != "ConditionalRequestConflict" or attempt == self.CONFLICT_RETRIES:
                    raise
                attempt += 1
                time.sleep(0.2 * attempt)

    def _written_by(self, full_key: str, uri: str, run_id: str) -> bool:
        """True if the object at `full_key` carries `run_id`: this run's own earlier try stored it."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "cannot tell who wrote an existing object (HeadObject needs s3:GetObject); taken as an earlier run's",
                extra={"uri": uri, "error": str(exc)},
            )
            return False
        mine = (head.get("Metadata") or {}).get(RUN_ID_KEY) == run_id
        if mine:
            logger.info("a retried PutObject found this run's own object: its first answer was lost", extra={"uri": uri})
        return mine


# S3's bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# What a mistyped S3 URI looks like (S3://, s3:/, s3//, s3:b): refused, never written as a local folder.
_S3_NEAR_MISS = re.compile(r"\s*s3\s*(:|//|\\)", re.IGNORECASE)


def parse_destination(dest: str) -> tuple[str, str, str]:
    """('s3', bucket, prefix) for exactly s3://bucket[/prefix], else ('local', path, ''). An empty
    destination, or one that looks like a mistyped S3 URI, is a ValueError naming it."""
    if dest.startswith("s3://"):
        bucket, _, prefix = dest[len("s3://") :].partition("/")
        prefix = prefix.strip("/")
        if not BUCKET_RE.fullmatch(bucket) or ".." in bucket:
            raise ValueError(f"destination {dest!r}: {bucket!r} is not an S3 bucket name (3-63 of a-z 0-9 . -)")
        if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
            raise ValueError(f"destination {dest!r}: the prefix has an empty, . or .. segment")
        return "s3", bucket, prefix
    if not dest.strip():
        raise ValueError("destination is empty: give a local directory or s3://bucket[/prefix]")
    if _S3_NEAR_MISS.match(dest):
        raise ValueError(f"destination {dest!r} looks like an S3 URI but is not one: write s3://bucket[/prefix]")
    return "local", dest, ""
