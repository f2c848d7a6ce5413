"""Athena's side of the Trino suite: the stack's catalog written into Trino's metastore as Glue holds it, and
each statement the stack sends Athena run on Trino, as it is wherever the two engines share a dialect.

One source for every statement: DML, views and queries run unchanged (only `current_date` and
`current_timestamp` are pinned to the test's clock, as the DuckDB lake pins them). Where Athena's dialect is
not Trino's, the Trino form is derived here from the statement itself, never written by hand:

| Athena (Hive DDL, Iceberg maintenance)                    | Trino                                               |
|-----------------------------------------------------------|-----------------------------------------------------|
| CREATE TABLE … PARTITIONED BY … LOCATION … TBLPROPERTIES  | CREATE TABLE iceberg.… WITH (partitioning, location)|
|   ('table_type'='ICEBERG', …)                             |                                                     |
| ALTER TABLE t ADD COLUMNS (a t, b u)                      | ALTER TABLE t ADD COLUMN a t; … (one a statement)   |
| ALTER TABLE t SET TBLPROPERTIES (Athena's optimize and    | nothing: Athena's own settings (only Athena checks) |
|   vacuum settings)                                        |                                                     |
| OPTIMIZE t REWRITE DATA USING BIN_PACK [WHERE p]          | ALTER TABLE t EXECUTE optimize [WHERE p]            |
| VACUUM t                                                  | EXECUTE expire_snapshots, remove_orphan_files (0 s) |

The raw table and the bootstrap view are not statements: CloudFormation writes them into Glue. They are
written into Trino's file metastore from the synthesized template's `AWS::Glue::Table` resources, field by
field (columns, partition keys, table parameters with the projection, SerDe and its parameters, the view's
`ViewOriginalText`), with the bucket `s3://…/` mapped to the local file system's `local:///`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlglot
import trino

from .server import VERSION

UTC = dt.UTC
BUCKET = "s3://REF/"  # the bucket as a synthesized definition names it (tokens read as REF)
LOCAL = "local:///"


def local(location: str) -> str:
    if not location.startswith(BUCKET):
        raise ValueError(f"not in the stack's bucket: {location}")
    return LOCAL + location.removeprefix(BUCKET)


def joined(value: Any) -> Any:
    """A template value with Fn::Join flattened and every other token read as REF."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(p if isinstance(p, str) else "REF" for p in parts)
        return {k: joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [joined(v) for v in value]
    return value


def metastore_table(table_input: dict, version: str) -> dict:
    """A Glue TableInput as Trino's file metastore stores a table (its `TableMetadata` JSON; the file metastore
    reads only what its own version wrote)."""
    table = joined(table_input)
    storage = table.get("StorageDescriptor", {})
    columns = [{"name": c["Name"], "type": c["Type"], "properties": {}} for c in storage.get("Columns", [])]
    partitions = [{"name": c["Name"], "type": c["Type"], "properties": {}} for c in table.get("PartitionKeys", [])]
    parameters = {k: v.replace(BUCKET, LOCAL) for k, v in table.get("Parameters", {}).items()}
    serde = storage.get("SerdeInfo", {})
    out: dict[str, Any] = {
        "writerVersion": version,
        "owner": "athena",
        "tableType": table["TableType"],
        "dataColumns": columns,
        "partitionColumns": partitions,
        "serdeParameters": serde.get("Parameters", {}),
        "columnStatistics": {},
    }
    if table["TableType"] == "VIRTUAL_VIEW":
        out.update(
            parameters=parameters,
            originalStorageFormat={},
            viewOriginalText=table["ViewOriginalText"],
            viewExpandedText=table["ViewExpandedText"],
        )
    else:
        out.update(
            parameters={**parameters, "EXTERNAL": "TRUE"},
            externalLocation=local(storage["Location"]),
            originalStorageFormat={
                "serde": serde["SerializationLibrary"],
                "inputFormat": storage["InputFormat"],
                "outputFormat": storage["OutputFormat"],
            },
        )
    return out


def glue_tables(template: dict) -> list[tuple[str, dict]]:
    """(database, TableInput) of every table and view the stack creates in Glue."""
    return [
        (r["Properties"]["DatabaseName"], r["Properties"]["TableInput"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Glue::Table"
    ]


def pin_clock(sql: str, now: dt.datetime) -> str:
    """The statement as Athena would run it at `now` (UTC, Athena's session zone)."""
    now = now.astimezone(UTC)
    sql = re.sub(r"\bcurrent_timestamp\b", f"TIMESTAMP '{now:%Y-%m-%d %H:%M:%S} UTC'", sql, flags=re.I)
    return re.sub(r"\bcurrent_date\b", f"DATE '{now:%Y-%m-%d}'", sql, flags=re.I)


_CREATE = re.compile(
    r"CREATE TABLE IF NOT EXISTS (\S+) \((.*?)\)\s*(?:PARTITIONED BY \(([^)]*)\)\s*)?LOCATION '([^']*)'\s*TBLPROPERTIES \((.*)\)",
    re.S,
)


def to_trino(statement: str) -> list[str]:
    """The Trino statements that do what Athena does with `statement` (see the table above)."""
    text = statement.strip()
    if created := _CREATE.fullmatch(text):
        name, columns, partitions, location, properties = created.groups()
        if "'table_type'='ICEBERG'" not in properties.replace(" ", ""):
            raise ValueError(f"only Iceberg tables are created by statement: {text[:80]}")
        typed = sqlglot.parse_one(f"CREATE TABLE t ({columns})", read="athena").this.expressions
        partitioning = ", ".join(f"'{p.strip()}'" for p in (partitions or "").split(",") if p.strip())
        return [
            f"CREATE TABLE IF NOT EXISTS iceberg.{name} ({', '.join(c.sql('trino') for c in typed)}) WITH ("
            f"format = 'PARQUET', location = '{local(location)}'"
            + (f", partitioning = ARRAY[{partitioning}]" if partitioning else "")
            + ")"
        ]
    if added := re.fullmatch(r"ALTER TABLE (\S+) ADD COLUMNS \((.*)\)", text, re.S):
        typed = sqlglot.parse_one(f"CREATE TABLE t ({added[2]})", read="athena").this.expressions
        return [f"ALTER TABLE {added[1]} ADD COLUMN {c.sql('trino')}" for c in typed]
    if re.fullmatch(r"ALTER TABLE \S+ SET TBLPROPERTIES \(.*\)", text, re.S):
        return []
    if optimized := re.fullmatch(r"OPTIMIZE (\S+) REWRITE DATA USING BIN_PACK(\s+WHERE .*)?", text, re.S):
        return [f"ALTER TABLE {optimized[1]} EXECUTE optimize{optimized[2] or ''}"]
    if vacuumed := re.fullmatch(r"VACUUM (\S+)", text):
        return [
            f"ALTER TABLE {vacuumed[1]} EXECUTE expire_snapshots(retention_threshold => '0s')",
            f"ALTER TABLE {vacuumed[1]} EXECUTE remove_orphan_files(retention_threshold => '0s')",
        ]
    if re.match(r"(CREATE|ALTER|DROP|OPTIMIZE|VACUUM|MSCK)\b", text, re.I) and not text.upper().startswith(
        "CREATE OR REPLACE VIEW"
    ):
        raise ValueError(f"no Trino form derived for: {text[:80]}")
    return [text]


class TrinoAthena:
    """Athena as the stack uses it, on a running Trino: the catalog from the template, statements as above."""

    def __init__(self, port: int, metastore: Path) -> None:
        self.metastore = metastore
        self.connection = trino.dbapi.connect(
            host="127.0.0.1", port=port, user="athena", catalog="awsdatacatalog", schema="default", http_scheme="http"
        )
        self.read: list[tuple[str, int]] = []  # (statement, bytes read), in the order run

    def execute(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        except trino.exceptions.TrinoQueryError as exc:
            exc.add_note(f"the statement: {' '.join(sql.split())[:400]}")  # which of the machine's statements failed
            raise
        names = [d[0] for d in cursor.description or []]
        # What the statement read from storage: Trino's measure of what Athena bills as data scanned.
        self.read.append((sql, int(cursor.stats.get("physicalInputBytes", 0))))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def register(self, template: dict) -> None:
        """Create the stack's Glue database(s), then its tables and views as CloudFormation would."""
        for database, table_input in glue_tables(template):
            self.execute(f'CREATE SCHEMA IF NOT EXISTS awsdatacatalog."{database}"')
            folder = self.metastore / database / table_input["Name"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".trinoSchema").write_text(json.dumps(metastore_table(table_input, VERSION)))

    def athena(self, now: dt.datetime) -> Callable[[str], list[dict[str, Any]]]:
        """What `startQueryExecution` does with a statement at `now`; the rows of the last Trino statement."""

        def run(statement: str) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            for sql in to_trino(pin_clock(statement, now)):
                rows = self.execute(sql)
            return rows

        return run

    def drop_all(self, database: str) -> None:
        """Every table and view of `database` gone from the catalog (Iceberg's files with them)."""
        for row in self.execute(
            f"SELECT table_name, table_type FROM awsdatacatalog.information_schema.tables WHERE table_schema = '{database}'"
        ):
            kind = "VIEW" if row["table_type"] == "VIEW" else "TABLE"
            self.execute(f'DROP {kind} IF EXISTS awsdatacatalog."{database}"."{row["table_name"]}"')
