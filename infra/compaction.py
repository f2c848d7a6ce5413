"""The history tier on AWS: a Step Functions state machine that runs `lake_sql.history`'s statements on
Athena (no code of ours runs), scheduled hourly, with a daily maintenance pass, and alarms on failure
and lag. Its role may use this workgroup, this database's tables and the two S3 prefixes: nothing else."""

from __future__ import annotations

import re

import sqlglot
from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_athena as athena
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from connect_exporter.tools.deployment import DeploymentSettings
from lake_sql import activity, history

from .encryption import READ_WRITE, Encryption, schedule_role
from .nag import acknowledge, logical_id, skip_checkov

ATHENA_RETRYABLE = ["Athena.TooManyRequestsException", "States.TaskFailed"]  # throttles, Iceberg commit conflicts


def formatted(template: str, source: str = "$.plan") -> str:
    """The statement with an earlier answer filled in when the state runs (States.Format over `source`)."""
    names = re.findall(r"\{(\w+)\}", template)
    positional = re.sub(r"\{\w+\}", "{}", template)
    return sfn.JsonPath.format(positional, *(sfn.JsonPath.string_at(f"{source}.{name}") for name in names))


class Compaction(Construct):
    """The Step Functions state machine that runs the lake's SQL on Athena, its role, schedules and alarms."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploymentSettings,
        bucket: s3.IBucket,
        results: s3.IBucket,
        workgroup: athena.CfnWorkGroup,
        alarm_action: cw.IAlarmAction,
        dlq: sqs.IQueue,
        database: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self._settings, self._workgroup, self._database = settings, workgroup, database
        # Named, so the role may list this machine's executions without a reference cycle (role -> machine -> role).
        self.state_machine_name = f"{Aws.STACK_NAME}-compaction"  # at most 80 characters: stack names up to 69
        self.role = self._build_role(bucket, results, encryption)
        definition = self._one_at_a_time(
            self._build_compaction(f"s3://{bucket.bucket_name}/{settings.deployment.history_prefix}/")
        )
        self.log_group = self._build_log_group(encryption)
        self.state_machine = self._build_state_machine(definition)
        self._build_schedules(encryption, dlq)
        self.after_deploy = self._build_after_deploy()
        self.alarms = self._build_alarms(alarm_action)
        self._answer_scanners(bucket, results, encryption)

    def _build_role(self, bucket: s3.IBucket, results: s3.IBucket, encryption: Encryption) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="History compaction: runs Athena on this workgroup, this database, two prefixes",
        )
        for statement in self._statements(bucket, results):
            role.add_to_policy(statement)
        # Athena reads SSE-KMS snapshots, writes SSE-KMS history and results as this role.
        encryption.grant(role, READ_WRITE, "UseStackKeyForSnapshotsHistoryAndResults")
        return role

    def _query(self, name: str, sql: str, result_path: str = sfn.JsonPath.DISCARD) -> tasks.AthenaStartQueryExecution:
        """One statement on Athena, waited for (RUN_JOB), retried on Athena's transient errors."""
        task = tasks.AthenaStartQueryExecution(
            self,
            name,
            query_string=sql,
            work_group=self._workgroup.ref,
            query_execution_context=tasks.QueryExecutionContext(database_name=self._database),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            result_path=result_path,
        )
        task.add_retry(errors=ATHENA_RETRYABLE, interval=Duration.seconds(20), max_attempts=3, backoff_rate=2)
        return task

    def _dynamic(self, name: str, template: str) -> tasks.AthenaStartQueryExecution:
        """A statement whose placeholders are filled from the plan when the state runs."""
        return self._query(name, formatted(template))

    def _answer(self, name: str, source: str, result_path: str, fields: list[str], **static: str) -> tasks.AthenaGetQueryResults:
        """Row 1 of a query's answer (row 0 is the header) as `result_path`'s fields, and these constants."""
        return tasks.AthenaGetQueryResults(
            self,
            name,
            query_execution_id=sfn.JsonPath.string_at(f"{source}.QueryExecution.QueryExecutionId"),
            result_path=result_path,
            result_selector={**{f"{f}.$": f"$.ResultSet.Rows[1].Data[{i}].VarCharValue" for i, f in enumerate(fields)}, **static},
        )

    def _build_compaction(self, location: str) -> sfn.IChainable:
        """Create the tables, add new columns, reconcile (daily), plan and merge closed hours, then (daily) retention."""
        database, deployment = self._database, self._settings.deployment
        query, dynamic, answer = self._query, self._dynamic, self._answer

        def columns(sql: str) -> list[str]:
            select = sqlglot.parse_one(sql.replace("{", "").replace("}", ""), read="trino")
            assert isinstance(select, sqlglot.exp.Query)
            return select.named_selects  # in order

        # A console start with `{}` has no $.maintenance: a Choice rule on an absent path fails the execution
        # (States.Runtime), so the test is paired with IsPresent and `{}` runs compaction only.
        daily = sfn.Condition.and_(sfn.Condition.is_present("$.maintenance"), sfn.Condition.boolean_equals("$.maintenance", True))

        # Plan, merge, advance the watermark, rebuild the view; again from the period's stop while hours wait.
        plan_sql = history.plan_sql(database)
        plan = query("Plan", formatted(plan_sql, "$.resume"), result_path="$.planned")
        read_plan = answer("ReadPlan", "$.planned", "$.plan", columns(plan_sql))
        merge = dynamic("MergeClosedHours", history.merge_sql(database))
        # Agent activity from the hours just merged, before the watermark moves: a run that fails in between is
        # redone whole by the next (each statement is idempotent over its period).
        refresh_intervals, clear_activity, fill_activity = activity.refresh_sql(
            database, deployment.activity_interval_minutes, deployment.sample_period_seconds
        )
        refresh = (
            dynamic("RefreshStatusIntervals", refresh_intervals)
            .next(dynamic("ClearActivity", clear_activity))
            .next(dynamic("FillActivity", fill_activity))
        )
        watermark = dynamic("AdvanceWatermark", history.watermark_sql(database))
        view = dynamic("RebuildView", history.view_sql(database))
        intervals_now = dynamic("RebuildIntervalsNow", activity.intervals_now_view_sql(database))
        next_period = sfn.Pass(
            self, "NextPeriod", parameters={"from.$": "$.resume.from", "after.$": "$.plan.stop"}, result_path="$.resume"
        )
        done = sfn.Succeed(self, "Done")

        # The daily pass: a short watermark, expired days deleted and rewritten one a pass, yesterday bin-packed,
        # watermark compacted, then VACUUM frees what no snapshot references.
        find_expired = query(
            "FindExpiredDay",
            history.expired_sql(database, deployment.history_retention_days, activity.RETAINED),
            result_path="$.found",
        )
        # An expired day leaves history and agent activity's two tables together, each deleted then rewritten.
        drop_expired: sfn.Chain | None = None
        for name, table in zip(("Day", "Intervals", "Activity"), activity.RETAINED, strict=True):
            step = query(f"DropExpired{name}", formatted(history.retention_sql(database, table), "$.expired")).next(
                query(f"RewriteExpired{name}", formatted(history.optimize_expired_sql(database, table), "$.expired"))
            )
            drop_expired = step if drop_expired is None else drop_expired.next(step)
        assert drop_expired is not None
        retention = (
            dynamic("TrimWatermark", history.trim_watermark_sql(database))
            .next(find_expired)
            .next(answer("ReadExpiredDay", "$.found", "$.expired", ["dt"]))
            .next(
                sfn.Choice(self, "ExpiredDay?")
                .when(
                    sfn.Condition.string_equals("$.expired.dt", "none"),
                    dynamic("OptimizeYesterday", history.optimize_yesterday_sql(database))
                    .next(query("OptimizeWatermark", history.optimize_sql(database, history.WATERMARK)))
                    .next(dynamic("OptimizeIntervals", activity.optimize_yesterday_sql(activity.INTERVALS, database)))
                    .next(dynamic("OptimizeActivity", activity.optimize_yesterday_sql(activity.ACTIVITY, database)))
                    .next(query("VacuumHistory", history.vacuum_sql(database)))
                    .next(query("VacuumWatermark", history.vacuum_sql(database, history.WATERMARK)))
                    .next(query("VacuumIntervals", history.vacuum_sql(database, activity.INTERVALS)))
                    .next(query("VacuumActivity", history.vacuum_sql(database, activity.ACTIVITY)))
                    .next(done),
                )
                .otherwise(drop_expired.next(find_expired))
            )
        )
        view.next(intervals_now)
        intervals_now.next(
            sfn.Choice(self, "MoreClosedHours?")
            .when(sfn.Condition.string_equals("$.plan.more", "yes"), next_period.next(plan))
            .otherwise(sfn.Choice(self, "Maintenance?").when(daily, retention).otherwise(done))
        )
        plan.next(read_plan).next(
            sfn.Choice(self, "Work?")
            .when(sfn.Condition.string_equals("$.plan.work", "yes"), merge.next(refresh).next(watermark).next(view))
            .otherwise(view)
        )
        # Daily, first: the properties retention relies on (a table made by an older version lacks them), and
        # the first hour raw holds more of than history (a minute written after its look-back): planned from there.
        reconcile_sql = history.reconcile_sql(database, deployment.history_reconcile_days)
        reconcile = (
            query("HistoryProperties", history.properties_sql(history.HISTORY, database))
            .next(query("WatermarkProperties", history.properties_sql(history.WATERMARK, database)))
            .next(query("Reconcile", reconcile_sql, result_path="$.reconciled"))
            .next(answer("ReadReconcile", "$.reconciled", "$.resume", columns(reconcile_sql), after=history.EPOCH))
            .next(plan)
        )
        look_back = sfn.Pass(
            self,
            "FromTheLookBack",
            result=sfn.Result.from_object({"from": history.NEVER, "after": history.EPOCH}),
            result_path="$.resume",
        ).next(plan)
        start_plan = sfn.Choice(self, "Reconcile?").when(daily, reconcile).otherwise(look_back)
        # History made by an older version gets the columns added to schema.py since, before anything merges.
        find_new = query("FindNewColumns", history.missing_columns_sql(database), result_path="$.found")
        add_new = query("AddNewColumns", formatted(history.add_columns_sql(database), "$.schema"))
        return (
            query("CreateHistory", history.history_ddl(location, database))
            .next(query("CreateWatermark", history.watermark_ddl(location, database)))
            .next(query("CreateStatusIntervals", activity.intervals_ddl(location, database)))
            .next(query("CreateActivity", activity.activity_ddl(location, database)))
            .next(find_new)
            .next(answer("ReadNewColumns", "$.found", "$.schema", ["missing"]))
            .next(
                sfn.Choice(self, "NewColumns?")
                .when(sfn.Condition.string_equals("$.schema.missing", "none"), start_plan)
                .otherwise(add_new.next(start_plan))
            )
        )

    def _build_log_group(self, encryption: Encryption) -> logs.LogGroup:
        log_group = logs.LogGroup(self, "Logs", removal_policy=RemovalPolicy.DESTROY, encryption_key=encryption.key)
        log_group.node.default_child.retention_in_days = self._settings.deployment.log_retention_days  # type: ignore[union-attr]
        return log_group

    def _build_state_machine(self, definition: sfn.IChainable) -> sfn.StateMachine:
        return sfn.StateMachine(
            # The tasks would add Athena's, S3's and Glue's broad defaults to a mutable role (s3:* on *,
            # glue:Delete* …): they get an immutable view of it, and `_statements` states exactly what runs need.
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            role=self.role.without_policy_updates(),
            timeout=Duration.hours(2),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment="Merges closed hours of raw snapshots into the Iceberg history table, refreshes agent activity, rebuilds the user_data view",
        )

    def _build_schedules(self, encryption: Encryption, dlq: sqs.IQueue) -> None:
        role = schedule_role(self, "ScheduleRole", encryption, "Starts history compaction; its failures go to FailedRuns")
        for name, expression, maintenance_run in (
            ("Hourly", "cron(20 * * * ? *)", False),  # past SETTLE_MINUTES: the last hour's writes have landed
            ("Daily", "cron(50 3 * * ? *)", True),
        ):
            scheduler.Schedule(
                self,
                name,
                description=f"History compaction ({name.lower()})",
                schedule=scheduler.ScheduleExpression.expression(expression),
                time_window=scheduler.TimeWindow.off(),
                target=targets.StepFunctionsStartExecution(
                    self.state_machine,
                    input=scheduler.ScheduleTargetInput.from_object({"maintenance": maintenance_run}),
                    dead_letter_queue=dlq,
                    retry_attempts=2,
                    role=role,
                ),
            )

    def _build_after_deploy(self) -> events.Rule:
        """One run (`{}`: compaction, no maintenance) when this stack's create or update completes, so history,
        agent activity's tables and both views exist minutes after `cdk deploy` instead of at the next :20, and a
        view whose columns an update changed reads history again at once. CloudFormation sends "CloudFormation
        Stack Status Change" to the default bus with `detail.stack-id` (the stack's ARN) and
        `detail.status-details.status` (CloudFormation User Guide, "Stack Status Change event detail"). A start
        that never comes costs an hour at most: the hourly schedule runs the same definition."""
        # EventBridge assumes it for this account's rules only (the role CDK would make trusts any account's).
        role = iam.Role(
            self,
            "AfterDeployRole",
            description="Starts history compaction after a deploy of this stack",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
        )
        return events.Rule(
            self,
            "AfterDeploy",
            description="Starts one history compaction when this stack's create or update completes",
            event_pattern=events.EventPattern(
                source=["aws.cloudformation"],
                detail_type=["CloudFormation Stack Status Change"],
                detail={
                    "stack-id": [Stack.of(self).stack_id],
                    "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]},
                },
            ),
            targets=[
                events_targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_object({}),
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                    role=role,
                )
            ],
        )

    def _build_alarms(self, alarm_action: cw.IAlarmAction) -> list[cw.Alarm]:
        deployment = self._settings.deployment
        alarms = [
            cw.Alarm(
                self,
                "Failed",
                alarm_description="A history compaction run failed: the view keeps reading raw snapshots for those hours",
                metric=self.state_machine.metric_failed(period=Duration.hours(1), statistic="Sum"),
                threshold=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self,
                "Lagging",
                alarm_description=f"No history compaction succeeded for {deployment.history_max_lag_hours} hours: "
                f"raw snapshots expire after {deployment.snapshot_retention_days} days",
                metric=self.state_machine.metric_succeeded(period=Duration.hours(1), statistic="Sum"),
                threshold=1,
                comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=deployment.history_max_lag_hours,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(alarm_action)
            alarm.add_ok_action(alarm_action)
        return alarms

    def _answer_scanners(self, bucket: s3.IBucket, results: s3.IBucket, encryption: Encryption) -> None:
        """cdk-nag's and checkov's findings on these resources, each answered with its reason."""
        acknowledge(
            self.after_deploy,
            "Serverless-EventBusDLQ",
            "A deploy's start that EventBridge gives up on loses no data: the hourly schedule, whose failures go to "
            "the FailedRuns queue, runs the same definition within the hour.",
        )
        if encryption.key is None:
            reason = 'CloudWatch Logs\' own encryption is chosen by deployment.encryption: s3-managed; "kms" uses a KMS key.'
            acknowledge(self.log_group, "NIST.800.53.R5-CloudWatchLogGroupEncrypted", reason)
            skip_checkov(self.log_group, "CKV_AWS_158", reason)
        raw, hist = self._settings.deployment.prefix, self._settings.deployment.history_prefix
        policy = self.role.node.find_child("DefaultPolicy")
        for finding, reason in (
            (f"Resource::<{logical_id(bucket)}.Arn>/{raw}/*", "Reads raw snapshot objects under the snapshot prefix only."),
            (
                f"Resource::<{logical_id(bucket)}.Arn>/{hist}/*",
                "Iceberg writes and deletes its own data and metadata files under the history prefix.",
            ),
            (
                f"Resource::<{logical_id(results)}.Arn>/results/*",
                "Athena names a result object per query under the workgroup's results prefix.",
            ),
            (
                f"Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/{self._database}/*",
                "The tables of this stack's database: raw, history, watermark, the view and agent activity's two.",
            ),
            ("Resource::*", "CloudWatch Logs delivery and X-Ray take no resource narrower than *."),
        ):
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)

    def _one_at_a_time(self, compact: sfn.IChainable) -> sfn.IChainable:
        """Standard workflows run executions side by side (a slow backlog, a manual start, the daily run beside
        the hourly one), and Athena's Iceberg writes are snapshot-isolated: two MERGEs may both commit the same
        rows. So only the oldest running execution compacts; a newer one ends at once (the next hour catches up).
        ListExecutions lists newest first and is eventually consistent: a list without this execution's elders
        (or empty) proceeds, and two started together still let one through (Step Functions API reference)."""
        me = sfn.Pass(self, "WhoAmI", parameters={"me.$": "$$.Execution.Id"}, result_path="$.guard")
        running = tasks.CallAwsService(
            self,
            "RunningExecutions",
            service="sfn",
            action="listExecutions",
            parameters={"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 1000},
            iam_resources=[self._machine_arn()],  # the role is immutable here: `_grant` states the permission
            result_selector={"oldest.$": "$.Executions[-1:].ExecutionArn"},
            result_path="$.guard.running",
        )
        running.add_retry(
            errors=["Sfn.SfnException", "States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2
        )
        alone = (
            sfn.Choice(self, "OldestRunning?")
            .when(
                sfn.Condition.or_(
                    sfn.Condition.not_(sfn.Condition.is_present("$.guard.running.oldest[0]")),
                    sfn.Condition.string_equals_json_path("$.guard.running.oldest[0]", "$.guard.me"),
                ),
                compact,
            )
            .otherwise(sfn.Succeed(self, "AnotherRunCompacts", comment="An older execution is compacting; this one adds nothing"))
        )
        return me.next(running).next(alone)

    def _machine_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:{self.state_machine_name}"

    def _statements(self, bucket: s3.IBucket, results: s3.IBucket) -> list[iam.PolicyStatement]:
        """Exactly what the runs need: this workgroup, this database's tables, the two prefixes, its own executions."""
        glue = f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        database, workgroup = self._database, self._workgroup
        raw, hist = self._settings.deployment.prefix, self._settings.deployment.history_prefix
        statements = [
            iam.PolicyStatement(
                sid="RunQueriesInTheWorkGroup",
                actions=[
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                resources=[f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{workgroup.ref}"],
            ),
            iam.PolicyStatement(sid="SeeOwnExecutions", actions=["states:ListExecutions"], resources=[self._machine_arn()]),
            iam.PolicyStatement(
                sid="TheGlueDataCatalog",
                actions=["athena:GetDataCatalog"],
                resources=[f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:datacatalog/AwsDataCatalog"],
            ),
            # Athena reads the catalog's `default` database on every query besides the one it runs in (Athena
            # user guide, "Configure access to databases and tables in the AWS Glue Data Catalog"): read only.
            iam.PolicyStatement(
                sid="TheDefaultDatabase", actions=["glue:GetDatabase"], resources=[f"{glue}:catalog", f"{glue}:database/default"]
            ),
            iam.PolicyStatement(
                sid="ThisDatabasesTables",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                ],
                resources=[f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/*"],
            ),
            # CREATE TABLE IF NOT EXISTS, ADD COLUMNS, SET TBLPROPERTIES and CREATE OR REPLACE VIEW write only the
            # tables compaction owns: the raw table is CloudFormation's.
            iam.PolicyStatement(
                sid="WriteOwnTables",
                actions=["glue:CreateTable", "glue:UpdateTable"],
                resources=[
                    f"{glue}:catalog",
                    f"{glue}:database/{database}",
                    *(
                        f"{glue}:table/{database}/{name}"
                        for name in (
                            history.HISTORY,
                            history.WATERMARK,
                            history.VIEW,
                            activity.INTERVALS,
                            activity.ACTIVITY,
                            activity.INTERVALS_NOW,
                        )
                    ),
                ],
            ),
            # CREATE OR REPLACE VIEW may drop and recreate a view's catalog entry: only the two views'.
            iam.PolicyStatement(
                sid="ReplaceTheView",
                actions=["glue:DeleteTable"],
                resources=[
                    f"{glue}:catalog",
                    f"{glue}:database/{database}",
                    f"{glue}:table/{database}/{history.VIEW}",
                    f"{glue}:table/{database}/{activity.INTERVALS_NOW}",
                ],
            ),
            iam.PolicyStatement(sid="ReadRawSnapshots", actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{raw}/*")]),
            # DeleteObject: without it Athena's VACUUM succeeds and deletes nothing (Athena user guide, "VACUUM").
            iam.PolicyStatement(
                sid="WriteHistory",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(f"{hist}/*")],
            ),
            iam.PolicyStatement(
                sid="ListTheTwoPrefixes",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{raw}/*", f"{hist}/*", raw, hist]}},
            ),
            # Athena asks every bucket it reads or writes for its Region ("Identity and access management in Athena").
            # s3:prefix is a key of ListBucket only: under the condition above this request would never be allowed.
            iam.PolicyStatement(sid="LocateTheBucket", actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(
                sid="QueryResults",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resources=[results.arn_for_objects("results/*")],
            ),
            iam.PolicyStatement(
                sid="QueryResultsBucket",
                actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                resources=[results.bucket_arn],
            ),
            # Step Functions' log delivery and X-Ray accept no narrower resource.
            iam.PolicyStatement(
                sid="DeliverOwnLogs",
                actions=[
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="Traces",
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
                resources=["*"],
            ),
        ]
        return statements
