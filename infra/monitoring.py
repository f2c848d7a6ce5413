"""Alarms on the exporter's EMF metrics (exact dimensions), its health, and a dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from connect_exporter.config import CHANNELS
from connect_exporter.tools.deployment import COMPARISONS, DeploymentSettings

from .encryption import Encryption
from .nag import acknowledge


class Monitoring(Construct):
    """The alarm topic (and the key CloudWatch publishes to it with), every alarm, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploymentSettings,
        function: lambda_.IFunction,
        log_group: logs.ILogGroup,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self._settings = settings
        self._namespace = settings.exporter.metrics.namespace
        self._period = Duration.minutes(settings.deployment.schedule_minutes)
        # The slot alarms' period: 10 or 30 s over high-resolution slot metrics when sampling below a minute.
        self._slot_period = Duration.seconds(settings.deployment.alarm_period_seconds)
        self.alarms: list[cw.Alarm] = []
        self.topic = self._build_topic(encryption)
        self._action = actions.SnsAction(self.topic)
        self._build_slot_alarms()
        self._build_health_alarms(function, log_group)
        self.dashboard = self._build_dashboard(function)

    def _build_topic(self, encryption: Encryption) -> sns.Topic:
        # CloudWatch alarms publish as the service principal, which has no IAM policy of its own: the topic's
        # resource policy (which replaces SNS's default policy) and the key policy must both let it, limited to
        # alarms of this account and Region (no confused deputy).
        alarms_here = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
        }
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # The stack's key when there is one; else a key of the topic's own (SNS has no AWS-owned key alarms can use).
        key = encryption.key or kms.Key(
            self, "TopicKey", enable_key_rotation=True, description="Encrypts the exporter's alarm topic"
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsUseTheTopicKey",
                principals=[cloudwatch],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions=alarms_here,
            )
        )
        topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True, display_name="Connect user data alarms")
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=alarms_here,
            )
        )
        if self._settings.deployment.alarm_email:
            email = topic.add_subscription(subscriptions.EmailSubscription(self._settings.deployment.alarm_email))
            acknowledge(
                email,
                "Serverless-SNSRedrivePolicy",
                "An e-mail endpoint: a queue of undelivered alarm e-mails would be read by no one; "
                "the alarm's state and history stay in CloudWatch.",
            )
        return topic

    def _alarm(self, id: str, **kwargs: Any) -> cw.Alarm:
        """An alarm that notifies the topic when it fires and when it clears."""
        created = cw.Alarm(self, id, actions_enabled=True, **kwargs)
        created.add_alarm_action(self._action)
        created.add_ok_action(self._action)
        self.alarms.append(created)
        return created

    def _metric(self, name: str, statistic: str, period: Duration | None = None, **dimensions: str) -> cw.Metric:
        return cw.Metric(
            namespace=self._namespace,
            metric_name=name,
            statistic=statistic,
            period=period or self._period,
            dimensions_map=dimensions,
        )

    def _build_slot_alarms(self) -> None:
        """The user's rules (deployment.alarms): the reason this product exists."""
        for rule in self._settings.alarms:
            self._alarm(
                f"{rule.metric}-{rule.filter_name}-{rule.channel}-{rule.instance_id}",
                alarm_description=f"{rule.metric} for {rule.filter_name}/{rule.channel} {rule.comparison} {rule.threshold:g} "
                f"for {rule.datapoints_to_alarm} of {rule.evaluation_periods} periods of "
                f"{self._slot_period.to_seconds():g} s (instance {rule.instance_id})",
                metric=self._metric(
                    rule.metric,
                    "Minimum",
                    self._slot_period,
                    InstanceId=str(rule.instance_id),
                    Filter=rule.filter_name,
                    Channel=rule.channel,
                ),
                threshold=rule.threshold,
                comparison_operator=getattr(cw.ComparisonOperator, COMPARISONS[rule.comparison]),
                evaluation_periods=rule.evaluation_periods,
                datapoints_to_alarm=rule.datapoints_to_alarm,
                # Missing slots data means the exporter is down: the staleness alarm owns that, not this one.
                treat_missing_data=cw.TreatMissingData.IGNORE,
            )

    def _build_health_alarms(self, function: lambda_.IFunction, log_group: logs.ILogGroup) -> None:
        """The exporter's own health: a filter gone quiet, filters failing, the function failing, EMF rejected."""
        stale_after = self._settings.deployment.stale_after_minutes
        for instance in self._settings.exporter.instances:
            for filt in instance.filters:
                self._alarm(
                    f"Stale-{filt.name}-{instance.instance_id}",
                    alarm_description=f"No FilterFailed datapoint for {filt.name} (instance {instance.instance_id}) "
                    f"for {stale_after} periods: the exporter is not running",
                    # FilterFailed is the one metric every filter emits on every run, whatever its families.
                    metric=self._metric("FilterFailed", "SampleCount", InstanceId=instance.instance_id, Filter=filt.name),
                    threshold=1,
                    comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=stale_after,
                    treat_missing_data=cw.TreatMissingData.BREACHING,
                )
            self._alarm(
                f"FailedFilters-{instance.instance_id}",
                alarm_description=f"Filters of instance {instance.instance_id} failed in 2 of the last 3 runs",
                metric=self._metric("FailedFilters", "Maximum", InstanceId=instance.instance_id),
                threshold=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        self._alarm(
            "ExporterErrors",
            alarm_description="The exporter Lambda failed in 2 of the last 3 runs",
            metric=function.metric_errors(period=self._period, statistic="Sum"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        emf_errors = cw.MathExpression(
            expression="validation + parsing",
            using_metrics={
                name.lower().replace("emf", "").replace("errors", ""): cw.Metric(
                    namespace="AWS/Logs",
                    metric_name=name,
                    statistic="Sum",
                    period=Duration.minutes(5),
                    dimensions_map={"LogGroupName": log_group.log_group_name},
                )
                for name in ("EMFValidationErrors", "EMFParsingErrors")
            },
            label="EMF errors",
            period=Duration.minutes(5),
        )
        self._alarm(
            "EmfErrors",
            alarm_description="CloudWatch rejected EMF documents from the exporter: metrics (and slot alarms) are silently missing",
            metric=emf_errors,
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _build_dashboard(self, function: lambda_.IFunction) -> cw.Dashboard:
        """Slots and statuses per filter (only the families it emits), then the exporter's health."""
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{Aws.STACK_NAME}-connect-user-data")
        widgets: list[cw.IWidget] = []
        seconds = int(self._period.to_seconds())
        for instance in self._settings.exporter.instances:
            for filt in instance.filters:
                families = self._settings.exporter.families(filt)
                if "slots" in families:
                    widgets.append(
                        cw.GraphWidget(
                            title=f"{filt.name}: available slots by channel",
                            width=12,
                            left=[
                                self._metric(
                                    "AvailableSlots",
                                    "Minimum",
                                    self._slot_period,
                                    InstanceId=instance.instance_id,
                                    Filter=filt.name,
                                    Channel=ch,
                                ).with_(label=ch)
                                for ch in CHANNELS
                            ],
                        )
                    )
                if "status" in families:
                    widgets.append(
                        cw.GraphWidget(
                            title=f"{filt.name}: agents by status",
                            width=12,
                            left=[
                                cw.MathExpression(
                                    expression=(
                                        f'SEARCH(\'{{{self._namespace},InstanceId,Filter,Status}} MetricName="AgentsByStatus" '
                                        f'InstanceId="{instance.instance_id}" Filter="{filt.name}"\', \'Average\', {seconds})'
                                    ),
                                    label="",
                                    period=self._period,
                                )
                            ],
                        )
                    )
        widgets.append(
            cw.GraphWidget(
                title="Exporter health",
                width=24,
                left=[
                    function.metric_errors(period=self._period, statistic="Sum"),
                    function.metric_duration(period=self._period, statistic="Maximum"),
                ],
                right=[
                    self._metric(name, "Sum", InstanceId=i.instance_id).with_(label=f"{name} {i.instance_id[:8]}")
                    for i in self._settings.exporter.instances
                    for name in ("FailedFilters", "Throttles", "LateRunsSkipped")
                ],
            )
        )
        for row in range(0, len(widgets), 2):
            dashboard.add_widgets(*widgets[row : row + 2])
        return dashboard
