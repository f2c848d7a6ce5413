"""Alarms on the exporter's EMF metrics (exact dimensions), its health, and a dashboard."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from connect_exporter.config import CHANNELS
from constructs import Construct

from connect_exporter.tools.deployment import COMPARISONS, DeploymentSettings

from .encryption import Encryption


class Monitoring(Construct):
    def __init__(
        self, scope: Construct, id: str, *, settings: DeploymentSettings, function: lambda_.IFunction, log_group: logs.ILogGroup,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        namespace = settings.exporter.metrics.namespace
        period = Duration.minutes(settings.deployment.schedule_minutes)
        # CloudWatch alarms publish as the service principal, which has no IAM policy of its own: the topic's
        # resource policy (which replaces SNS's default policy) and the key policy must both let it, limited to
        # alarms of this account and Region (no confused deputy).
        alarms_here = {
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
        }
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # The stack's key when there is one; else a key of the topic's own (SNS has no AWS-owned key alarms can use).
        key = encryption.key or kms.Key(self, "TopicKey", enable_key_rotation=True, description="Encrypts the exporter's alarm topic")
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsUseTheTopicKey", principals=[cloudwatch],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"], conditions=alarms_here,
        ))
        self.topic = sns.Topic(self, "Alarms", master_key=key, enforce_ssl=True, display_name="Connect user data alarms")
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish", principals=[cloudwatch],
            actions=["sns:Publish"], resources=[self.topic.topic_arn], conditions=alarms_here,
        ))
        if settings.deployment.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.deployment.alarm_email))
        action = actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(id: str, **kwargs) -> cw.Alarm:
            created = cw.Alarm(self, id, actions_enabled=True, **kwargs)
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)
            return created

        for rule in settings.alarms:
            alarm(
                f"{rule.metric}-{rule.filter_name}-{rule.channel}-{rule.instance_id}",
                alarm_description=f"{rule.metric} for {rule.filter_name}/{rule.channel} {rule.comparison} {rule.threshold:g} "
                f"for {rule.datapoints_to_alarm} of {rule.evaluation_periods} periods (instance {rule.instance_id})",
                metric=cw.Metric(
                    namespace=namespace, metric_name=rule.metric, statistic="Minimum", period=period,
                    dimensions_map={"InstanceId": rule.instance_id, "Filter": rule.filter_name, "Channel": rule.channel},
                ),
                threshold=rule.threshold,
                comparison_operator=getattr(cw.ComparisonOperator, COMPARISONS[rule.comparison]),
                evaluation_periods=rule.evaluation_periods,
                datapoints_to_alarm=rule.datapoints_to_alarm,
                # Missing slots data means the exporter is down: the staleness alarm owns that, not this one.
                treat_missing_data=cw.TreatMissingData.IGNORE,
            )
        for instance in settings.exporter.instances:
            for filt in instance.filters:
                alarm(
                    f"Stale-{filt.name}-{instance.instance_id}",
                    alarm_description=f"No FilterFailed datapoint for {filt.name} (instance {instance.instance_id}) "
                    f"for {settings.deployment.stale_after_minutes} periods: the exporter is not running",
                    # FilterFailed is the one metric every filter emits on every run, whatever its families.
                    metric=cw.Metric(namespace=namespace, metric_name="FilterFailed", statistic="SampleCount", period=period,
                                     dimensions_map={"InstanceId": instance.instance_id, "Filter": filt.name}),
                    threshold=1, comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                    evaluation_periods=settings.deployment.stale_after_minutes,
                    treat_missing_data=cw.TreatMissingData.BREACHING,
                )
            alarm(
                f"FailedFilters-{instance.instance_id}",
                alarm_description=f"Filters of instance {instance.instance_id} failed in 2 of the last 3 runs",
                metric=cw.Metric(namespace=namespace, metric_name="FailedFilters", statistic="Maximum", period=period,
                                 dimensions_map={"InstanceId": instance.instance_id}),
                threshold=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
        alarm(
            "ExporterErrors",
            alarm_description="The exporter Lambda failed in 2 of the last 3 runs",
            metric=function.metric_errors(period=period, statistic="Sum"),
            threshold=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3, datapoints_to_alarm=2, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        emf_errors = cw.MathExpression(
            expression="validation + parsing",
            using_metrics={
                name.lower().replace("emf", "").replace("errors", ""): cw.Metric(
                    namespace="AWS/Logs", metric_name=name, statistic="Sum", period=Duration.minutes(5),
                    dimensions_map={"LogGroupName": log_group.log_group_name},
                )
                for name in ("EMFValidationErrors", "EMFParsingErrors")
            },
            label="EMF errors",
            period=Duration.minutes(5),
        )
        alarm(
            "EmfErrors",
            alarm_description="CloudWatch rejected EMF documents from the exporter: metrics (and slot alarms) are silently missing",
            metric=emf_errors, threshold=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{Aws.STACK_NAME}-connect-user-data")
        widgets: list[cw.IWidget] = []
        for instance in settings.exporter.instances:
            for filt in instance.filters:
                dims = {"InstanceId": instance.instance_id, "Filter": filt.name}
                families = settings.exporter.families(filt)  # a widget only on metrics the filter emits
                if "slots" in families:
                    widgets.append(cw.GraphWidget(
                        title=f"{filt.name}: available slots by channel", width=12,
                        left=[cw.Metric(namespace=namespace, metric_name="AvailableSlots", statistic="Minimum", period=period,
                                        dimensions_map={**dims, "Channel": ch}, label=ch) for ch in CHANNELS],
                    ))
                if "status" in families:
                    widgets.append(cw.GraphWidget(
                        title=f"{filt.name}: agents by status", width=12,
                        left=[cw.MathExpression(
                            expression=(f"SEARCH('{{{namespace},InstanceId,Filter,Status}} MetricName=\"AgentsByStatus\" "
                                        f"InstanceId=\"{instance.instance_id}\" Filter=\"{filt.name}\"', 'Average', {int(period.to_seconds())})"),
                            label="", period=period,
                        )],
                    ))
        widgets.append(cw.GraphWidget(
            title="Exporter health", width=24,
            left=[function.metric_errors(period=period, statistic="Sum"), function.metric_duration(period=period, statistic="Maximum")],
            right=[cw.Metric(namespace=namespace, metric_name=name, statistic="Sum", period=period,
                             dimensions_map={"InstanceId": i.instance_id}, label=f"{name} {i.instance_id[:8]}")
                   for i in settings.exporter.instances for name in ("FailedFilters", "Throttles", "LateRunsSkipped")],
        ))
        for row in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[row : row + 2])
