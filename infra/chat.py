"""Alarms where the team already is: AWS Chatbot channels (Slack, Microsoft Teams) subscribed to the alarm topic.

Each channel configuration holds a role Chatbot assumes to draw an alarm's notification (its graph comes from
CloudWatch) and a guardrail that caps whatever any role in that channel may do. Unset, the guardrail is
AdministratorAccess (CloudFormation, AWS::Chatbot::*ChannelConfiguration GuardrailPolicies), so both are set
here to the "Notification permissions" template's read-only CloudWatch actions, and no channel member can run
commands through it.

Nothing is added to the topic's or the key's policy: Chatbot subscribes an HTTPS endpoint of its own (through
its service-linked role, in this account), and SNS itself decrypts what it delivers to HTTPS endpoints; only a
publisher needs the key, and CloudWatch alarms already have it (`monitoring`).
"""

from __future__ import annotations

from typing import TypedDict

from aws_cdk import Aws
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from connect_exporter.tools.deployment import ChatConfig

from .nag import acknowledge

# Chatbot's "Notification permissions" policy template: what it needs to render an alarm in a channel.
NOTIFICATION_ACTIONS = ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"]


class _Shared(TypedDict):
    """What every channel configuration holds alike."""

    iam_role_arn: str
    guardrail_policies: list[str]
    sns_topic_arns: list[str]
    logging_level: str
    user_role_required: bool


class ChatAlerts(Construct):
    """One Chatbot channel configuration per configured chat, each sending the alarm topic to its channel."""

    def __init__(self, scope: Construct, id: str, *, chat: ChatConfig, topic: sns.ITopic) -> None:
        super().__init__(scope, id)
        self.guardrail = self._build_guardrail()
        self.role = self._build_role()
        self.channels: list[chatbot.CfnSlackChannelConfiguration | chatbot.CfnMicrosoftTeamsChannelConfiguration] = []
        shared = _Shared(
            iam_role_arn=self.role.role_arn,
            guardrail_policies=[self.guardrail.managed_policy_arn],
            sns_topic_arns=[topic.topic_arn],
            logging_level="ERROR",  # Chatbot logs delivery failures to CloudWatch Logs (us-east-1)
            user_role_required=False,
        )
        if chat.slack:
            self.channels.append(
                chatbot.CfnSlackChannelConfiguration(
                    self,
                    "Slack",
                    configuration_name=f"{Aws.STACK_NAME}-slack",
                    slack_workspace_id=chat.slack.workspace_id,
                    slack_channel_id=chat.slack.channel_id,
                    **shared,
                )
            )
        if chat.teams:
            self.channels.append(
                chatbot.CfnMicrosoftTeamsChannelConfiguration(
                    self,
                    "Teams",
                    configuration_name=f"{Aws.STACK_NAME}-teams",
                    team_id=chat.teams.team_id,
                    teams_channel_id=chat.teams.channel_id,
                    teams_tenant_id=chat.teams.tenant_id,
                    **shared,
                )
            )

    def _build_guardrail(self) -> iam.ManagedPolicy:
        """The channel guardrail: the most any role used from the channel may do."""
        guardrail = iam.ManagedPolicy(
            self,
            "Guardrail",
            description="Chatbot channel guardrail: reading CloudWatch alarms and metrics, nothing else",
            statements=[iam.PolicyStatement(sid="ReadAlarms", actions=NOTIFICATION_ACTIONS, resources=["*"])],
        )
        _answer_wildcards(guardrail)
        return guardrail

    def _build_role(self) -> iam.Role:
        """The channel role: Chatbot assumes it to render notifications (read-only CloudWatch)."""
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="AWS Chatbot renders the exporter's alarms in chat with it: read-only CloudWatch",
        )
        role.add_to_policy(iam.PolicyStatement(sid="ReadAlarms", actions=NOTIFICATION_ACTIONS, resources=["*"]))
        _answer_wildcards(role)
        return role


def _answer_wildcards(construct: Construct) -> None:
    for action in NOTIFICATION_ACTIONS:
        acknowledge(construct, f"AwsSolutions-IAM5[Action::{action}]", "Chatbot's notification template: read-only CloudWatch.")
    acknowledge(
        construct,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch's Describe/Get/List actions on metrics and alarm history take no resource ARN; read-only.",
    )
