"""The stack's encryption key: none (AWS-owned keys, `deployment.encryption: "s3-managed"`), one
customer-managed key the stack creates (`"kms"`), or the user's own key (a key ARN).

Roles get the key actions they need in their own policies (next to what they encrypt); the key policy
adds only the service principals that encrypt on the stack's behalf.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from connect_exporter.tools.deployment import DeploymentSettings

# S3 (SSE-KMS with a bucket key) and SQS need these to write and read; nothing more (no Encrypt, no ReEncrypt).
READ_WRITE = ["kms:Decrypt", "kms:GenerateDataKey"]


class Encryption(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: DeploymentSettings) -> None:
        super().__init__(scope, id)
        self.key: kms.IKey | None = None
        if settings.deployment.encryption == "kms":
            key = kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                pending_window=Duration.days(30),
                description="Encrypts the Connect user data exporter's snapshots, history, logs, queue, topic and Athena results",
                # A retained bucket whose key is deleted is unreadable: the key lives as long as the data.
                removal_policy=RemovalPolicy.RETAIN if settings.deployment.retain_data else RemovalPolicy.DESTROY,
            )
            # CloudWatch Logs encrypts log groups itself: it needs the key, limited to this account's log groups here.
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                    principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                    actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        }
                    },
                )
            )
            self.key = key
        elif settings.deployment.customer_key:
            # The user's key: its policy is theirs (the README says what it must allow); roles still get grants.
            self.key = kms.Key.from_key_arn(self, "Key", settings.deployment.encryption)

    def grant(self, role: iam.IRole, actions: list[str], sid: str) -> None:
        """`actions` on the key in `role`'s own policy; nothing without a key."""
        if self.key is not None:
            role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=[self.key.key_arn]))


def schedule_role(scope: Construct, id: str, encryption: Encryption, description: str) -> iam.Role:
    """The role EventBridge Scheduler runs a target as (CDK grants it the target and the dead-letter queue).
    Made here rather than by CDK so that, with a key, it can also encrypt into the KMS-encrypted queue:
    without kms:GenerateDataKey and kms:Decrypt, a failed run would be dropped instead of kept."""
    role = iam.Role(
        scope,
        id,
        description=description,
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
        ),
    )
    encryption.grant(role, READ_WRITE, "SendToEncryptedDeadLetterQueue")
    return role
