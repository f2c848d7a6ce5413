"""The exporter Lambda, its least-privilege role, its config layer and its schedule."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from connect_exporter.config import DEFAULT_CONFIG_PATH, OPERATIONS
from connect_exporter.tools.deployment import DeploymentSettings

from .encryption import READ_WRITE, Encryption, schedule_role
from .nag import acknowledge, logical_id, skip_checkov

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
RUNTIME = lambda_.Runtime.PYTHON_3_14  # the newest Python runtime with a published Powertools layer
ARCHITECTURE = lambda_.Architecture.ARM_64
CONNECT_ACTIONS = [f"connect:{op}" for op in sorted(OPERATIONS)]
# The function's asset holds what runs in Lambda only: the operator's tools (CLI, plan, prices, deployment
# settings) stay in the installable package.
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "*.egg-info", "connect_exporter/tools", "connect_exporter/__main__.py"]


def connect_resources(instance_ids: list[str]) -> list[str]:
    """The configured instances and everything under them; nothing else."""
    arns = []
    for instance_id in instance_ids:
        base = f"arn:{Aws.PARTITION}:connect:{Aws.REGION}:{Aws.ACCOUNT_ID}:instance/{instance_id}"
        arns += [base, f"{base}/*"]
    return arns


def pinned_powertools_version(requirements: Path = ROOT / "requirements.txt") -> str:
    """The Powertools version the tests run on: its pin in requirements.txt is the one place that holds it."""
    match = re.search(r"^aws-lambda-powertools==([0-9][0-9.]*)\s*$", requirements.read_text(encoding="utf-8"), re.M)
    if not match:
        raise ValueError(f"{requirements}: no exact pin aws-lambda-powertools==X.Y.Z")
    return match[1]


def powertools_parameter(version: str) -> str:
    """Powertools publishes one public SSM parameter per version; `latest` would deploy what CI never ran."""
    return f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"


@contextmanager
def config_layer_dir(settings: DeploymentSettings) -> Iterator[str]:
    """A folder holding the config at /opt/exporter/config.json (no 4 KB environment or 8 KB input limit),
    removed once the asset is staged into the cloud assembly: synth leaves nothing behind."""
    with tempfile.TemporaryDirectory(prefix="exporter-config-") as folder:
        target = Path(folder) / Path(DEFAULT_CONFIG_PATH).relative_to("/opt")
        target.parent.mkdir(parents=True)
        target.write_text(Path(settings.source).read_text(encoding="utf-8"), encoding="utf-8")
        yield folder


class Exporter(Construct):
    """The exporter function, its least-privilege role, its config layer, its failed-run queue and its schedule."""

    def __init__(
        self, scope: Construct, id: str, *, settings: DeploymentSettings, bucket: s3.IBucket, encryption: Encryption
    ) -> None:
        super().__init__(scope, id)
        self._settings = settings
        self._instance_ids = [i.instance_id for i in settings.exporter.instances]
        self.log_group = self._build_log_group(encryption)
        self.role = self._build_role(bucket, encryption)
        self.dlq = self._build_failed_runs_queue(encryption)
        self.function = self._build_function(bucket)
        self._build_async_failures()
        self.schedule = self._build_schedule(encryption)
        self._answer_scanners(bucket, encryption)

    def _build_log_group(self, encryption: Encryption) -> logs.LogGroup:
        log_group = logs.LogGroup(self, "Logs", removal_policy=RemovalPolicy.DESTROY, encryption_key=encryption.key)
        # Any of CloudWatch's retention values (validated in settings), set on the L1 directly.
        log_group.node.default_child.retention_in_days = self._settings.deployment.log_retention_days  # type: ignore[union-attr]
        return log_group

    def _build_role(self, bucket: s3.IBucket, encryption: Encryption) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Connect user data exporter: read the configured instances, write snapshots, write its logs",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadConfiguredConnectInstances",
                actions=CONNECT_ACTIONS,
                resources=connect_resources(self._instance_ids),
            )
        )
        # GetObject for the HeadObject that follows a 412: a retried PUT must tell its own object (run id in its
        # metadata) from an earlier run's. The exporter's own prefix only; it reads no body.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSnapshots",
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{self._settings.deployment.prefix}/*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.log_group_arn}"],
            )
        )
        # SSE-KMS PutObject (a bucket key) and the failed-run queue's SendMessage: these two actions, this key.
        encryption.grant(role, READ_WRITE, "UseStackKeyForSnapshotsAndFailedRuns")
        return role

    def _build_failed_runs_queue(self, encryption: Encryption) -> sqs.Queue:
        return sqs.Queue(
            self,
            "FailedRuns",
            enforce_ssl=True,
            retention_period=Duration.days(14),
            **(
                {
                    "encryption": sqs.QueueEncryption.KMS,
                    "encryption_master_key": encryption.key,
                    "data_key_reuse": Duration.hours(1),
                }
                if encryption.key
                else {"encryption": sqs.QueueEncryption.SQS_MANAGED}
            ),
        )

    def _build_function(self, bucket: s3.IBucket) -> lambda_.Function:
        deployment = self._settings.deployment
        # The public layer carries Powertools' extras, pydantic among them (the config models): the layer's own
        # canary imports pydantic from it (powertools-lambda-python, layer_v3/layer/canary/app.py).
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            deployment.powertools_layer_arn
            or ssm.StringParameter.value_for_string_parameter(self, powertools_parameter(pinned_powertools_version())),
        )
        with config_layer_dir(self._settings) as folder:  # the asset is copied into the assembly here
            config = lambda_.LayerVersion(
                self,
                "Config",
                code=lambda_.Code.from_asset(folder),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="Exporter config (validated at synth)",
            )
        return lambda_.Function(
            self,
            "Function",
            description="Exports Amazon Connect GetCurrentUserData snapshots to S3 and CloudWatch EMF",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="connect_exporter.handler.lambda_handler",
            code=lambda_.Code.from_asset(str(LAMBDA_SRC), exclude=ASSET_EXCLUDE),
            layers=[powertools, config],
            role=self.role,
            log_group=self.log_group,
            memory_size=deployment.memory_mb,
            timeout=Duration.seconds(deployment.timeout_seconds),
            # Reserving 1: runs never overlap and never double-draw the account's Connect quota. An account
            # whose concurrency quota is 10 cannot reserve any (deployment.reserved_concurrency: null).
            reserved_concurrent_executions=deployment.reserved_concurrency,
            environment={
                "EXPORTER_DESTINATION": f"s3://{bucket.bucket_name}/{deployment.prefix}",
                "EXPORTER_CONFIG_PATH": DEFAULT_CONFIG_PATH,
                # A run that starts a whole period late writes nothing: its data would be labelled with an old minute.
                "EXPORTER_SCHEDULE_SECONDS": str(deployment.schedule_minutes * 60),
                "EXPORTER_SAMPLE_SECONDS": str(deployment.sample_seconds),
                # A sampling run keeps less: its last sample's slot ends a second before the timeout.
                **(
                    {"EXPORTER_DEADLINE_RESERVE_SECONDS": f"{deployment.deadline_reserve_seconds:g}"}
                    if deployment.sampling
                    else {}
                ),
                "POWERTOOLS_SERVICE_NAME": "connect-user-data-exporter",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                # Traces carry timings, names and counts, never a record (see observability).
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                **({} if deployment.tracing else {"POWERTOOLS_TRACE_DISABLED": "true"}),
            },
            tracing=lambda_.Tracing.ACTIVE if deployment.tracing else lambda_.Tracing.DISABLED,
        )

    def _build_async_failures(self) -> None:
        """The on-failure destination, declared by hand: CDK's SqsDestination would grant the role Encrypt and
        ReEncrypt on the key too; the role holds exactly SendMessage and the two key actions."""
        self.role.add_to_policy(
            iam.PolicyStatement(sid="SendFailedRuns", actions=["sqs:SendMessage"], resources=[self.dlq.queue_arn])
        )
        invoke_config = lambda_.CfnEventInvokeConfig(
            self,
            "AsyncInvoke",
            function_name=self.function.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=1,
            maximum_event_age_in_seconds=max(60, self._settings.deployment.schedule_minutes * 120),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.dlq.queue_arn)
            ),
        )
        invoke_config.node.add_dependency(self.role)  # Lambda checks the role may send there when it is created

    def _build_schedule(self, encryption: Encryption) -> scheduler.Schedule:
        minutes = self._settings.deployment.schedule_minutes
        return scheduler.Schedule(
            self,
            "Schedule",
            description="Snapshot of Amazon Connect current user data",
            schedule=scheduler.ScheduleExpression.expression(self._settings.deployment.schedule_expression),
            time_window=scheduler.TimeWindow.off(),
            target=targets.LambdaInvoke(
                self.function,
                input=scheduler.ScheduleTargetInput.from_object({"scheduled_time": scheduler.ContextAttribute.scheduled_time}),
                dead_letter_queue=self.dlq,
                role=schedule_role(
                    self, "ScheduleRole", encryption, "Runs the exporter on its schedule; its failures go to FailedRuns"
                ),
                retry_attempts=2,
                max_event_age=Duration.seconds(max(60, minutes * 60)),
            ),
        )

    def _answer_scanners(self, bucket: s3.IBucket, encryption: Encryption) -> None:
        """cdk-nag's and checkov's findings on these resources, each answered with its reason."""
        prefix = self._settings.deployment.prefix
        policy = self.role.node.find_child("DefaultPolicy")
        for finding, reason in [
            (
                f"Resource::<{logical_id(bucket)}.Arn>/{prefix}/*",
                "PutObject (and GetObject for write-once's HeadObject) on the snapshot prefix only; keys are per minute.",
            ),
            *(
                (
                    "Resource::arn:<AWS::Partition>:connect:<AWS::Region>:<AWS::AccountId>:instance/" + i + "/*",
                    "Connect reads need the instance's child ARNs (users, queues, profiles); scoped to configured instances.",
                )
                for i in self._instance_ids
            ),
            (f"Resource::<{logical_id(self.log_group)}.Arn>:*", "Log streams of the function's own log group."),
        ]:
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
        acknowledge(self.dlq, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the schedule and the function.")
        acknowledge(self.dlq, "Serverless-SQSRedrivePolicy", "This queue is itself the dead-letter queue; it redrives nowhere.")
        if self._settings.deployment.tracing:
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource: Lambda's active tracing needs '*'.",
            )
        else:
            acknowledge(self.function, "Serverless-LambdaTracing", "Turned off by deployment.tracing: false.")
        answers = {
            (
                "Serverless-LambdaDLQ",
                "NIST.800.53.R5-LambdaDLQ",
                "CKV_AWS_116",
            ): "Failed asynchronous runs go to the FailedRuns queue by an on-failure destination (a DLQ keeps less: no error).",
            (
                "NIST.800.53.R5-LambdaInsideVPC",
                "CKV_AWS_117",
            ): "It calls only AWS APIs (Connect, S3, CloudWatch) over TLS and serves no network: a VPC adds NAT cost, no control.",
            (
                "CKV_AWS_173",
                "CKV_AWS_45",
            ): "The environment holds a bucket URI, a file path, a period and Powertools settings: no secret to encrypt or leak.",
        }
        for findings, reason in answers.items():
            for finding in findings:
                (skip_checkov if finding.startswith("CKV") else acknowledge)(self.function, finding, reason)
        if encryption.key is None:
            unencrypted = 'chosen by deployment.encryption: s3-managed (AWS-owned keys); "kms" or a key ARN uses a KMS key.'
            acknowledge(
                self.log_group, "NIST.800.53.R5-CloudWatchLogGroupEncrypted", f"CloudWatch Logs' own encryption is {unencrypted}"
            )
            skip_checkov(self.log_group, "CKV_AWS_158", f"CloudWatch Logs' own encryption is {unencrypted}")
            skip_checkov(self.dlq, "CKV_AWS_27", f"SQS-managed encryption (SSE-SQS) is {unencrypted}")
        acknowledge(
            Stack.of(self),
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.function)}.Arn>:*]",
            "The scheduler's role may invoke the exporter function and its versions; nothing else.",
        )
