"""A real Trino (Athena engine v3's engine) on loopback for the Trino suite: `make trino` unpacks
`io.trino:trino-server` from Maven Central into `.trino/`, and `TrinoServer` runs it with two catalogs over
one file metastore on the local file system, as Athena sees one Glue catalog:

- `awsdatacatalog` (Athena's name for the Glue catalog, the one its stored views name): the Hive connector,
  where the raw table and the views live; Iceberg tables named through it are redirected to
- `iceberg`: the Iceberg connector over the same metastore, where history and the watermark live.

Settings that make Trino answer as Athena does, each for a reason:
- `hive.ignore-absent-partitions`: Athena's partition projection returns no rows for a projected partition
  with no objects; Trino's Hive connector fails the query (HIVE_FILE_NOT_FOUND) unless told otherwise.
- `iceberg.expire-snapshots.min-retention` / `remove-orphan-files.min-retention` 0s: VACUUM is mapped to
  these procedures with a zero threshold (the test's stand-in for snapshots past Athena's maximum age).
- `iceberg.compression-codec=ZSTD`: the history table's `write_compression`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = "476"  # 483's trino-server and trino-server-core did not resolve on Maven Central from here
HOME = Path(os.environ.get("TRINO_HOME", REPO / ".trino" / f"trino-server-{VERSION}"))
JAVA = Path(os.environ.get("TRINO_JAVA", "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java"))
STARTUP_SECONDS = 240


class TrinoMissing(RuntimeError):
    """Trino or its Java is not installed: one line saying how to get them."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TrinoServer:
    """One coordinator (which also runs the tasks) with its data under `root`: `root/lake` is the file
    system `local:///` names, `root/lake/metastore` the catalog."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.lake = root / "lake"
        self.process: subprocess.Popen | None = None

    def start(self) -> TrinoServer:
        if not (HOME / "lib").is_dir():
            raise TrinoMissing(f"no Trino at {HOME}: run `make trino` (or `make test-trino`)")
        if not JAVA.exists():
            raise TrinoMissing(f"no Java at {JAVA}: Trino {VERSION} needs Java 24 or newer (set TRINO_JAVA)")
        etc = self.root / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        (self.lake / "metastore").mkdir(parents=True, exist_ok=True)
        _write(
            etc / "config.properties",
            {
                "coordinator": "true",
                "node-scheduler.include-coordinator": "true",
                "http-server.http.port": self.port,
                "discovery.uri": f"http://127.0.0.1:{self.port}",
                "catalog.config-dir": etc / "catalog",
                "node.environment": "test",
                "node.id": "trino-suite",
                "query.max-memory": "2GB",
                "query.max-memory-per-node": "1GB",
            },
        )
        files = {
            "hive.metastore.catalog.dir": "local:///metastore",
            "fs.native-local.enabled": "true",
            "local.location": self.lake,
        }
        _write(
            etc / "catalog" / "awsdatacatalog.properties",
            {
                "connector.name": "hive",
                "hive.metastore": "file",
                **files,
                "hive.iceberg-catalog-name": "iceberg",
                "hive.ignore-absent-partitions": "true",
            },
        )
        _write(
            etc / "catalog" / "iceberg.properties",
            {
                "connector.name": "iceberg",
                "iceberg.catalog.type": "TESTING_FILE_METASTORE",
                **files,
                "iceberg.hive-catalog-name": "awsdatacatalog",
                "iceberg.compression-codec": "ZSTD",
                "iceberg.expire-snapshots.min-retention": "0s",
                "iceberg.remove-orphan-files.min-retention": "0s",
            },
        )
        log = (self.root / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(JAVA),
                "-Xmx4G",
                "-XX:+UseG1GC",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djdk.attach.allowAttachSelf=true",
                f"-Dconfig={etc / 'config.properties'}",
                "-cp",
                str(HOME / "lib" / "*"),
                "io.trino.server.TrinoServer",
            ],
            cwd=HOME,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Trino exited with {self.process.returncode}: see {self.root / 'server.log'}")
            if self._started():
                return self
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"Trino did not start in {STARTUP_SECONDS} s: see {self.root / 'server.log'}")

    def _started(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/info", timeout=2) as answer:
                return json.load(answer).get("starting") is False
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _write(path: Path, properties: dict) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
