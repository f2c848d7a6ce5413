"""Snapshot storage and catalog: buckets, the Glue table (from the exporter's schema) and Athena."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS, TIMESTAMP_FORMAT_JAVA
from connect_exporter.tools.deployment import DeploymentSettings
from lake_sql import history
from lake_sql.named import QUERIES
from lake_sql.queries import TABLE, VIEW

from .nag import acknowledge, skip_checkov

JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"


def secure_bucket(
    scope: Construct, id: str, *, logs: s3.IBucket | None, retain: bool, key: kms.IKey | None = None, **kwargs
) -> s3.Bucket:
    """Private, encrypted (SSE-KMS with a bucket key when given a key, else SSE-S3), TLS-only, versioned, with
    access logs. Not retained: emptied (every version) on `cdk destroy` by CDK's auto-delete custom resource,
    since a non-empty bucket cannot be deleted."""
    encryption = (
        {"encryption": s3.BucketEncryption.KMS, "encryption_key": key, "bucket_key_enabled": True}
        if key
        else {"encryption": s3.BucketEncryption.S3_MANAGED}
    )
    bucket = s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        **encryption,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=logs,
        server_access_logs_prefix=f"{id.lower()}/" if logs else None,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        auto_delete_objects=not retain,
        **kwargs,
    )
    acknowledge(
        bucket,
        "NIST.800.53.R5-S3BucketReplicationEnabled",
        "One Region by design (versioned, retained by default); add replication where a recovery plan needs a second Region.",
    )
    if key is None:
        acknowledge(
            bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            'SSE-S3 (AES-256) is chosen by deployment.encryption: s3-managed; "kms" or a key ARN encrypts with KMS.'
            if logs is not None
            else "Access logs: S3 server access logging delivers only to SSE-S3 buckets.",
        )
    return bucket


def table_parameters(settings: DeploymentSettings, bucket_name: str) -> dict[str, str]:
    """Partition projection over the configured instances and filters: queryable the minute a snapshot lands."""
    instances = [i.instance_id for i in settings.exporter.instances]
    filters = sorted({f.name for i in settings.exporter.instances for f in i.filters})
    return {
        "classification": "json",
        "compressionType": "gzip",
        "projection.enabled": "true",
        "projection.instance_id.type": "enum",
        "projection.instance_id.values": ",".join(instances),
        "projection.filter_name.type": "enum",
        "projection.filter_name.values": ",".join(filters),
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        # Days, not YEARS: Athena takes both, Trino's projection (and so the Trino suite) only DAY|HOUR|MINUTE|SECOND.
        # Raw snapshots live `snapshot_retention_days` (a day more for the lifecycle's lag): no older day is projected.
        "projection.dt.range": f"NOW-{settings.deployment.snapshot_retention_days + 1}DAYS,NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": (
            f"s3://{bucket_name}/{settings.deployment.prefix}/instance_id=${{instance_id}}/filter_name=${{filter_name}}"
            "/dt=${dt}/hour=${hour}/"
        ),
    }


class SnapshotStorage(Construct):
    """Buckets, Glue database and table, Athena workgroup and named queries."""

    def __init__(self, scope: Construct, id: str, *, settings: DeploymentSettings, database: str, key: kms.IKey | None) -> None:
        super().__init__(scope, id)
        retain = settings.deployment.retain_data
        # S3 server access logging delivers only to SSE-S3 buckets (not SSE-KMS): this one keeps S3's keys.
        self.access_logs = secure_bucket(
            self,
            "AccessLogs",
            logs=None,
            retain=retain,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))],
        )
        for finding in ("AwsSolutions-S1", "CKV_AWS_18"):
            answer = skip_checkov if finding.startswith("CKV") else acknowledge
            answer(self.access_logs, finding, "This is the access-log bucket; logging it to itself would loop.")
        self.bucket = secure_bucket(
            self,
            "Snapshots",
            logs=self.access_logs,
            retain=retain,
            key=key,
            lifecycle_rules=[
                s3.LifecycleRule(
                    prefix=f"{settings.deployment.prefix}/",
                    expiration=Duration.days(settings.deployment.snapshot_retention_days),
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # History files are removed by Iceberg (retention DELETE, then VACUUM), never by age: a lifecycle
                # expiration would delete files a table snapshot still references. Only what VACUUM deleted goes.
                s3.LifecycleRule(
                    prefix=f"{settings.deployment.history_prefix}/",
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )
        self.results = secure_bucket(
            self,
            "AthenaResults",
            logs=self.access_logs,
            retain=False,
            key=key,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(30), noncurrent_version_expiration=Duration.days(1))],
        )

        self.database_name, self.table_name = database, TABLE
        glue_database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="Amazon Connect current user data snapshots"
            ),
        )
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=self.table_name,
                description="One row per agent per filter per snapshot; partition projection, no crawler",
                table_type="EXTERNAL_TABLE",
                parameters=table_parameters(settings, self.bucket.bucket_name),
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=c.name, type=c.type, comment=c.comment) for c in PARTITION_COLUMNS
                ],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=c.name, type=c.type, comment=c.comment) for c in COLUMNS],
                    location=f"s3://{self.bucket.bucket_name}/{settings.deployment.prefix}/",
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE,
                        parameters={"timestamp.formats": TIMESTAMP_FORMAT_JAVA},
                    ),
                ),
            ),
        )
        self.table.add_resource_dependency(glue_database)
        # The view from the first minute: raw snapshots only, as Athena stores a view; the first compaction
        # replaces it (CREATE OR REPLACE VIEW) with history before the watermark and raw after it.
        self.view = glue.CfnTable(
            self,
            "View",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=history.VIEW,
                description="Every snapshot row: history before the watermark, raw snapshots after it",
                table_type="VIRTUAL_VIEW",
                parameters={"presto_view": "true", "comment": "Presto View"},
                partition_keys=[],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[glue.CfnTable.ColumnProperty(name=c.name, type=c.type) for c in (*COLUMNS, *PARTITION_COLUMNS)],
                    serde_info=glue.CfnTable.SerdeInfoProperty(),
                ),
                view_original_text=history.presto_view_text(self.database_name),
                view_expanded_text="/* Presto View */",
            ),
        )
        self.view.add_resource_dependency(self.table)

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=f"{Aws.STACK_NAME}-connect-user-data",
            description="Queries over Amazon Connect user data snapshots",
            state="ENABLED",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                # Reads go through the columnar history; a query past 20 GB is scanning raw JSON over a long
                # range by mistake (a day of raw at 10,000 agents and four filters is about 4 GB).
                bytes_scanned_cutoff_per_query=20 * 1024**3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn
                    )
                    if key
                    else athena.CfnWorkGroup.EncryptionConfigurationProperty(encryption_option="SSE_S3"),
                ),
            ),
        )
        for query in QUERIES:
            athena.CfnNamedQuery(
                self,
                f"Query-{query.name}",
                name=query.name,
                description=query.description,
                database=self.database_name,
                work_group=self.workgroup.ref,
                query_string=query.render(f'"{database}"."{VIEW}"', database, settings.deployment.sample_period_seconds),
            )  # work_group=ref orders it after the workgroup
