"""The stack only composes the constructs and states its outputs."""

from __future__ import annotations

import re

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_cloudwatch_actions as actions
from constructs import Construct

from connect_exporter.tools.deployment import DeploymentSettings
from lake_sql.queries import DATABASE, VIEW

from .chat import ChatAlerts
from .compaction import Compaction
from .encryption import Encryption
from .exporter import Exporter
from .monitoring import Monitoring
from .nag import acknowledge, skip_checkov
from .storage import SnapshotStorage

DEFAULT_STACK_NAME = "ConnectUserDataExporter"


def database_name(stack_name: str, settings: DeploymentSettings) -> str:
    """`deployment.database`, or one per stack: `connect_user_data` for the default stack name, else the stack's
    name in snake case under that prefix (ConnectUserDataStaging: connect_user_data_staging), so staging and
    production deploy side by side in one account and Region."""
    if settings.deployment.database:
        return settings.deployment.database
    if stack_name == DEFAULT_STACK_NAME:
        return DATABASE
    snake = re.sub(r"[^a-z0-9]+", "_", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stack_name).lower()).strip("_")
    return snake if snake.startswith(DATABASE) else f"{DATABASE}_{snake}"


class ExporterStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: DeploymentSettings, **kwargs) -> None:
        super().__init__(scope, id, description="Amazon Connect current user data exporter (snapshots, Athena, alarms)", **kwargs)
        acknowledge(
            self,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "Each role's policy is CDK's inline policy, scoped to this stack's resources; it lives and dies with its role.",
        )
        encryption = Encryption(self, "Encryption", settings=settings)
        storage = SnapshotStorage(
            self, "Storage", settings=settings, database=database_name(self.stack_name, settings), key=encryption.key
        )
        exporter = Exporter(self, "Exporter", settings=settings, bucket=storage.bucket, encryption=encryption)
        monitoring = Monitoring(
            self, "Monitoring", settings=settings, function=exporter.function, log_group=exporter.log_group, encryption=encryption
        )
        if settings.deployment.chat:
            ChatAlerts(self, "Chat", chat=settings.deployment.chat, topic=monitoring.topic)
        compaction = Compaction(
            self,
            "History",
            settings=settings,
            bucket=storage.bucket,
            results=storage.results,
            workgroup=storage.workgroup,
            alarm_action=actions.SnsAction(monitoring.topic),
            dlq=exporter.dlq,
            database=storage.database_name,
            encryption=encryption,
        )
        # CDK's own function that empties buckets on `cdk destroy` (the Athena results are never retained).
        provider = self.node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
        if provider is not None:
            handler = provider.node.find_child("Handler")
            for check, reason in (
                (
                    "CKV_AWS_116",
                    "CDK's bucket-emptying handler runs synchronously inside a CloudFormation delete: nothing to redrive.",
                ),
                ("CKV_AWS_117", "CDK's bucket-emptying handler calls only S3's API; a VPC would add NAT cost, no control."),
                ("CKV_AWS_115", "CDK's bucket-emptying handler runs once per stack deletion: no concurrency to limit."),
            ):
                skip_checkov(handler, check, reason)
        outputs = {
            "SnapshotBucket": storage.bucket.bucket_name,
            "SnapshotLocation": f"s3://{storage.bucket.bucket_name}/{settings.deployment.prefix}/",
            "AthenaTable": f"{storage.database_name}.{storage.table_name}",
            "AthenaView": f"{storage.database_name}.{VIEW}",
            "HistoryLocation": f"s3://{storage.bucket.bucket_name}/{settings.deployment.history_prefix}/",
            "CompactionStateMachine": compaction.state_machine.state_machine_arn,
            "AthenaWorkGroup": storage.workgroup.ref,
            "AlarmTopic": monitoring.topic.topic_arn,
            "ExporterFunction": exporter.function.function_name,
            "DashboardUrl": f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={monitoring.dashboard.dashboard_name}",
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
