"""The history tier as synthesized: the state machine's statements run on a local lake, its schedules,
alarms, retention and a role limited to the workgroup, this database's tables and two prefixes."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from aws_cdk.assertions import Match

from lake_sql import activity, history
from lake_sql.queries import TABLE_REF, VIEW_REF
from local_athena.engine import run_query
from local_athena.lake import Lake, run_statement
from simulator.history import export_history, history_filters
from simulator.world import build_instance

from . import statemachine
from .policies import ACCOUNT, PARTITION, PSEUDO, REGION, STACK, resolve, role_may
from .support import Synthesized, event_matches, ids, properties, synth_example, the

UTC = dt.UTC
START = dt.datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def new_lake(root) -> Lake:
    instance = build_instance(seed=3, agents=40, routing_profiles=6, queues=10, epoch=START)
    export_history(instance, history_filters(instance)[:2], START, 90, root / "snapshots", lambda docs: 0)
    return Lake(root)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    return new_lake(tmp_path_factory.mktemp("lake"))


def athena_on(con, now: dt.datetime):
    """What Athena would do with each statement, done by the local lake's DuckDB."""
    return lambda sql: run_statement(con, sql, now)


def test_the_deployed_state_machine_compacts_closed_hours_and_rebuilds_the_view(synthesized, lake):
    template = synthesized.json
    machine = statemachine.definition(template)
    con = lake.connect()
    raw = run_query(con, f"SELECT count(*) AS n FROM {TABLE_REF}")
    # 00:55 on the 24th: with 35 settle minutes, only 23:00-00:00 is closed.
    now = dt.datetime(2026, 11, 24, 0, 55, tzinfo=UTC)
    data, statements = statemachine.run(machine, {"maintenance": False}, athena_on(con, now))
    assert data["plan"]["until"] == "2026-11-24 00:00:00" and data["plan"]["more"] == "no"
    create = statements[0]
    assert create.startswith("CREATE TABLE IF NOT EXISTS connect_user_data.history (")  # Athena DDL: no double quotes
    assert not [x for x in statements if x.startswith(("CREATE TABLE", "OPTIMIZE", "VACUUM")) and '"' in x]
    assert "PARTITIONED BY (instance_id, filter_name, dt)" in create and "'table_type'='ICEBERG'" in create
    assert "'write_compression'='zstd'" in create and "LOCATION 's3://REF/history/history/'" in create
    merges = [s for s in statements if s.startswith('MERGE INTO "connect_user_data"."history"')]
    assert merges and merges[-1] == history.render(history.merge_sql(), data["plan"])  # the same SQL the lake tests run
    (counts,) = run_query(
        con,
        f"SELECT count(*) AS n, count(DISTINCT (filter_name, snapshot_time, user_id)) AS k, "
        f"max(snapshot_time) AS last FROM {history.ref(history.HISTORY)}",
    )
    assert counts["n"] == counts["k"] > 0 and counts["last"] == dt.datetime(2026, 11, 23, 23, 59)
    assert run_query(con, f"SELECT count(*) AS n FROM {VIEW_REF}") == raw
    # Run again, as the daily maintenance run: nothing new, nothing twice, the retention delete runs.
    data, statements = statemachine.run(machine, {"maintenance": True}, athena_on(con, now))
    assert any(s.startswith("DELETE FROM") for s in statements) and statements[-1].startswith("VACUUM")
    (again,) = run_query(con, f"SELECT count(*) AS n FROM {history.ref(history.HISTORY)}")
    assert again["n"] == counts["n"]
    assert run_query(con, f"SELECT count(*) AS n FROM {VIEW_REF}") == raw
    # A manual start from the console with `{}`: compaction, no maintenance (before: States.Runtime at Maintenance?).
    data, statements = statemachine.run(machine, {}, athena_on(con, now))
    retention = f"DELETE FROM {history.ref(history.HISTORY)}"
    assert statements[-1].startswith("CREATE OR REPLACE VIEW") and not any(s.startswith(retention) for s in statements)
    assert run_query(con, f"SELECT count(*) AS n FROM {VIEW_REF}") == raw
    con.close()


def machine_and_role(synthesized: Synthesized) -> tuple[str, str]:
    """The compaction state machine's logical id and its role's."""
    machine = the(synthesized.template, "AWS::StepFunctions::StateMachine")
    return machine, properties(synthesized, machine)["RoleArn"]["Fn::GetAtt"][0]


STACK_STATUSES = (
    "CREATE_IN_PROGRESS",
    "CREATE_COMPLETE",
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_COMPLETE",
)


def stack_status_event(stack_id: str, status: str) -> dict:
    """A "CloudFormation Stack Status Change" event as the default bus receives it (CloudFormation User Guide,
    "Stack Status Change event detail": source, detail-type, detail.stack-id, detail.status-details)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "CloudFormation Stack Status Change",
        "source": "aws.cloudformation",
        "account": ACCOUNT,
        "time": "2026-12-02T18:43:48Z",
        "region": REGION,
        "resources": [stack_id],
        "detail": {"stack-id": stack_id, "status-details": {"status": status, "status-reason": ""}, "client-request-token": ""},
    }


def test_a_deploy_starts_one_compaction_run_when_the_stack_is_created_or_updated(synthesized):
    """History, agent activity's tables and the views exist minutes after `cdk deploy`, not at the next :20: the
    rule matches this stack's CREATE_COMPLETE and UPDATE_COMPLETE (and nothing else, nor another stack's), and
    starts the machine with `{}`, the console's start (compaction, no maintenance; run on a lake in the test above)."""
    template = synthesized.json
    machine, _ = machine_and_role(synthesized)
    starts_machine = {"Targets": Match.array_with([Match.object_like({"Arn": {"Ref": machine}})])}
    rule = properties(synthesized, the(synthesized.template, "AWS::Events::Rule", starts_machine))
    pattern = resolve(template, rule["EventPattern"])
    this = PSEUDO["AWS::StackId"]
    matched = [s for s in STACK_STATUSES if event_matches(pattern, stack_status_event(this, s))]
    assert matched == ["CREATE_COMPLETE", "UPDATE_COMPLETE"]
    assert not event_matches(pattern, stack_status_event(this.replace(f"/{STACK}/", "/AnotherStack/"), "CREATE_COMPLETE"))
    (target,) = rule["Targets"]
    assert json.loads(target["Input"]) == {} and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    # The role EventBridge runs it as: this account's rules only, and it may start this machine and nothing else.
    role = target["RoleArn"]["Fn::GetAtt"][0]
    (trust,) = properties(synthesized, role)["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert resolve(template, trust["Condition"]) == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert role_may(template, role, "states:StartExecution", machine)
    other_machine = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:another"
    exporter = the(synthesized.template, "AWS::Lambda::Function", {"Handler": "connect_exporter.handler.lambda_handler"})
    for action, resource in (
        ("states:StartExecution", other_machine),
        ("states:StopExecution", machine),
        ("lambda:InvokeFunction", exporter),
        ("iam:PassRole", machine_and_role(synthesized)[1]),
    ):
        assert not role_may(template, role, action, resource), (action, resource)


def test_schedules_run_compaction_hourly_after_the_settle_time_and_maintenance_daily(synthesized):
    machine, _ = machine_and_role(synthesized)
    runs_machine = {"Target": Match.object_like({"Arn": {"Ref": machine}})}
    assert len(ids(synthesized.template, "AWS::Scheduler::Schedule", runs_machine)) == 2
    for expression, maintenance in (("cron(20 * * * ? *)", False), ("cron(50 3 * * ? *)", True)):
        synthesized.template.has_resource_properties(
            "AWS::Scheduler::Schedule",
            {
                "ScheduleExpression": expression,
                "Target": Match.object_like(
                    {
                        "Arn": {"Ref": machine},
                        "Input": Match.serialized_json({"maintenance": maintenance}),
                        "DeadLetterConfig": Match.any_value(),
                    }
                ),
            },
        )
    assert 60 - history.SETTLE_MINUTES + 60 > 20  # the hourly run starts after the previous hour has settled


def test_compaction_failure_and_lag_alarm_on_the_state_machine(synthesized):
    machine, _ = machine_and_role(synthesized)
    on_machine = Match.array_with([{"Name": "StateMachineArn", "Value": {"Ref": machine}}])
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ExecutionsFailed", "Threshold": 1, "Dimensions": on_machine}
    )
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ExecutionsSucceeded",
            "Dimensions": on_machine,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 3,
            "TreatMissingData": "breaching",
        },
    )


def test_the_compaction_role_reaches_only_the_workgroup_the_database_and_two_prefixes(synthesized):
    _, role_id = machine_and_role(synthesized)
    policy = the(synthesized.template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    statements = {s["Sid"]: s for s in properties(synthesized, policy)["PolicyDocument"]["Statement"]}
    text = json.dumps(statements)
    assert "s3:*" not in text and "lakeformation" not in text and "CreateBucket" not in text
    actions = {sid: s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for sid, s in statements.items()}
    deleting = [statements[sid] for sid, names in actions.items() if any(a.startswith("glue:Delete") for a in names)]
    assert [s["Sid"] for s in deleting] == ["ReplaceTheView"] and deleting[0]["Action"] == "glue:DeleteTable"
    views = [r["Fn::Join"][1][-1].rsplit(":", 1)[-1] for r in deleting[0]["Resource"][-2:]]
    assert views == ["table/connect_user_data/user_data", "table/connect_user_data/agent_status_intervals_now"]  # views only
    everywhere = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert everywhere == {"DeliverOwnLogs", "Traces"}
    assert all(a.startswith(("logs:", "xray:")) for sid in everywhere for a in statements[sid]["Action"])
    s3_objects = sorted(json.dumps(s["Resource"]).split('"')[-2] for s in statements.values() if "s3:GetObject" in s["Action"])
    assert s3_objects == ["/history/*", "/results/*", "/snapshots/*"]
    assert statements["ListTheTwoPrefixes"]["Condition"] == {
        "StringLike": {"s3:prefix": ["snapshots/*", "history/*", "snapshots", "history"]}
    }
    glue = statements["ThisDatabasesTables"]["Resource"]
    assert [r["Fn::Join"][1][-1].rsplit(":", 1)[-1] for r in glue] == [
        "catalog",
        "database/connect_user_data",
        "table/connect_user_data/*",
    ]
    assert "workgroup/" in json.dumps(statements["RunQueriesInTheWorkGroup"]["Resource"])


def test_raw_snapshots_expire_history_does_not_and_the_scan_cutoff_is_20_gb(synthesized):
    bucket = the(synthesized.template, "AWS::S3::Bucket", prefix="StorageSnapshots")
    rules = {r["Prefix"]: r for r in properties(synthesized, bucket)["LifecycleConfiguration"]["Rules"]}
    assert rules["snapshots/"]["ExpirationInDays"] == 30
    assert "ExpirationInDays" not in rules["history/"]  # Iceberg removes its own files (DELETE, then VACUUM)
    synthesized.template.has_resource_properties(
        "AWS::Athena::WorkGroup", {"WorkGroupConfiguration": Match.object_like({"BytesScannedCutoffPerQuery": 20 * 1024**3})}
    )


def test_the_compaction_role_may_make_every_request_athena_makes_for_it_as_s3_and_glue_evaluate_them(synthesized):
    """Athena, running a statement as this role, asks S3 where each bucket is (GetBucketLocation: a request
    that carries no s3:prefix), lists the prefixes it reads (ListBucket with s3:prefix), and reads the catalog's
    `default` database besides the stack's own. Walked as AWS evaluates each request, condition keys included."""
    template = synthesized.json
    _, role = machine_and_role(synthesized)
    bucket = the(synthesized.template, "AWS::S3::Bucket", prefix="StorageSnapshots")
    results = the(synthesized.template, "AWS::S3::Bucket", prefix="StorageAthenaResults")
    glue = f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}"
    for action, resource, context in [
        ("s3:GetBucketLocation", bucket, {}),
        ("s3:GetBucketLocation", results, {}),
        ("s3:ListBucket", bucket, {"s3:prefix": "snapshots/instance_id=x/"}),
        ("s3:ListBucket", bucket, {"s3:prefix": "history/data/"}),
        ("glue:GetDatabase", f"{glue}:database/default", {}),
        ("glue:GetDatabase", f"{glue}:database/connect_user_data", {}),
        ("glue:GetTable", f"{glue}:table/connect_user_data/user_data", {}),
    ]:
        assert role_may(template, role, action, resource, context=context), (action, resource, context)
    assert not role_may(template, role, "s3:ListBucket", bucket, context={"s3:prefix": "elsewhere/"})
    assert not role_may(template, role, "glue:GetTable", f"{glue}:table/default/other")
    assert not role_may(template, role, "glue:CreateTable", f"{glue}:table/default/other")


def test_the_view_exists_from_deploy_as_athena_stores_one_and_reads_every_raw_row(synthesized, lake):
    """Before: nothing created `user_data` until the first compaction reached RebuildView, so every named query
    answered TABLE_NOT_FOUND after `cdk deploy` (and for good if that run failed)."""
    view_id = the(synthesized.template, "AWS::Glue::Table", {"TableInput": Match.object_like({"Name": history.VIEW})})
    view = properties(synthesized, view_id)["TableInput"]
    assert (view["TableType"], view["Parameters"]["presto_view"], view["PartitionKeys"]) == ("VIRTUAL_VIEW", "true", [])
    text = view["ViewOriginalText"]
    assert text.startswith("/* Presto View: ") and text.endswith(" */") and view["ViewExpandedText"] == "/* Presto View */"
    definition = json.loads(base64.b64decode(text.removeprefix("/* Presto View: ").removesuffix(" */")))
    assert (definition["catalog"], definition["schema"], definition["runAsInvoker"]) == (
        "awsdatacatalog",
        "connect_user_data",
        True,
    )
    names = history.ROW.split(", ")
    assert [c["name"] for c in definition["columns"]] == names == [c["Name"] for c in view["StorageDescriptor"]["Columns"]]
    types = {c["name"]: c["type"] for c in definition["columns"]}  # as Athena engine v3 reads the raw (Hive JSON) table
    assert (types["snapshot_time"], types["hour"], types["dt"], types["available_slots"]) == (
        "timestamp(3)",
        "integer",
        "varchar",
        "map(varchar, integer)",
    )
    assert types["contacts"].startswith("array(row(contact_id varchar, ") and "state_start_time timestamp(3)" in types["contacts"]
    con = lake.connect()
    (raw,) = run_query(con, f"SELECT count(*) AS n FROM {TABLE_REF}")
    (seen,) = run_query(
        con,
        f"SELECT count(*) AS n, count(DISTINCT (filter_name, snapshot_time, user_id)) AS k "
        f"FROM ({definition['originalSql']}) AS v",
    )
    assert seen["n"] == seen["k"] == raw["n"] > 0
    con.close()


def test_of_two_executions_running_at_once_only_the_oldest_compacts(synthesized, lake):
    """Athena's Iceberg writes are snapshot-isolated: two MERGEs at once may both commit the same rows. The
    hourly run beside a manual start, or a slow backlog beside the next hour: the newer execution ends at once."""
    template = synthesized.json
    machine = statemachine.definition(template)
    con = lake.connect()
    now = dt.datetime(2026, 11, 24, 0, 55, tzinfo=UTC)
    older, newer = (f"arn:aws:states:us-east-1:111122223333:execution:compaction:{n}" for n in ("hourly", "manual"))
    both = lambda: [newer, older]  # noqa: E731 (newest first, as ListExecutions answers)
    _, by_newer = statemachine.run(machine, {}, athena_on(con, now), execution=newer, running=both)
    assert by_newer == []  # not one statement: no second MERGE beside the first
    _, by_older = statemachine.run(machine, {}, athena_on(con, now), execution=older, running=both)
    assert by_older[0].startswith("CREATE TABLE IF NOT EXISTS") and by_older[-1].startswith("CREATE OR REPLACE VIEW")
    # ListExecutions is eventually consistent: an execution that sees no elder (or nothing at all) compacts.
    for seen in ([newer], []):
        _, statements = statemachine.run(machine, {}, athena_on(con, now), execution=newer, running=lambda seen=seen: seen)
        assert statements and statements[-1].startswith("CREATE OR REPLACE VIEW")
    con.close()


def test_the_compaction_role_may_list_its_own_executions_only(synthesized):
    template = synthesized.json
    machine, role = machine_and_role(synthesized)
    own = f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:{resolve(template, properties(synthesized, machine)['StateMachineName'])}"
    assert role_may(template, role, "states:ListExecutions", own)
    assert not role_may(template, role, "states:ListExecutions", f"arn:{PARTITION}:states:{REGION}:{ACCOUNT}:stateMachine:other")
    assert not role_may(template, role, "states:StartExecution", own)


def test_a_history_made_by_an_older_version_gets_the_new_columns_before_the_merge(synthesized, tmp_path):
    """Before: CREATE TABLE IF NOT EXISTS left an older history as it was, and every MERGE named a column it
    lacked: compaction failed every hour and the watermark froze."""
    template = synthesized.json
    machine = statemachine.definition(template)
    con = new_lake(tmp_path).connect()
    con.execute(f"ALTER TABLE {history.ref(history.HISTORY)} DROP COLUMN next_status")  # as an older version made it
    now = dt.datetime(2026, 11, 24, 0, 55, tzinfo=UTC)
    data, statements = statemachine.run(machine, {}, athena_on(con, now))
    (added,) = [s for s in statements if s.startswith("ALTER TABLE")]
    assert (
        added == "ALTER TABLE connect_user_data.history ADD COLUMNS (next_status string)"
        and data["schema"]["missing"] == "next_status string"
    )
    assert any(s.startswith("MERGE") for s in statements)
    (raw,) = run_query(
        con, f"SELECT count(next_status) AS n FROM {TABLE_REF} WHERE snapshot_time < TIMESTAMP '2026-11-24 00:00:00'"
    )
    (kept,) = run_query(con, f"SELECT count(next_status) AS n FROM {history.ref(history.HISTORY)}")
    assert kept["n"] == raw["n"] > 0  # the new column's values arrive with the rows merged after it was added
    # Run again: nothing is missing any more, nothing is altered twice.
    data, statements = statemachine.run(machine, {}, athena_on(con, now))
    assert data["schema"]["missing"] == "none" and not [s for s in statements if s.startswith("ALTER TABLE")]
    con.close()


def test_the_daily_run_sets_properties_reconciles_first_then_trims_retains_optimizes_a_day_and_vacuums(synthesized, lake):
    template = synthesized.json
    machine = statemachine.definition(template)
    con = lake.connect()
    now = dt.datetime(2026, 11, 24, 3, 50, tzinfo=UTC)
    _, hourly = statemachine.run(machine, {}, athena_on(con, now))
    cleared = f"DELETE FROM {history.ref(activity.ACTIVITY)}"  # a period's activity, filled again: no other delete
    maintained = [s for s in hourly if s.startswith(("DELETE", "OPTIMIZE", "VACUUM")) and not s.startswith(cleared)]
    assert not maintained and not [s for s in hourly if "SET TBLPROPERTIES" in s or '"from"' in s]
    data, daily = statemachine.run(machine, {"maintenance": True}, athena_on(con, now))
    con.close()
    table, mark = history.ddl_ref(history.HISTORY), history.ddl_ref(history.WATERMARK)
    intervals, activities = history.ddl_ref(activity.INTERVALS), history.ddl_ref(activity.ACTIVITY)
    properties = [s for s in daily if "SET TBLPROPERTIES" in s]
    assert properties == [history.properties_sql(history.HISTORY), history.properties_sql(history.WATERMARK)]
    assert (
        "'optimize_rewrite_delete_file_threshold'='1'" in properties[0]
        and "'vacuum_max_snapshot_age_seconds'='86400'" in properties[0]
    )
    reconcile = daily.index(history.reconcile_sql(days=2))
    assert (
        daily.index(properties[-1]) < reconcile < min(i for i, s in enumerate(daily) if "bounds AS" in s)
    )  # before the first plan
    tail = daily[daily.index(history.render(history.trim_watermark_sql(), data["plan"])) :]
    assert tail == [
        history.render(history.trim_watermark_sql(), data["plan"]),
        history.expired_sql(retention_days=400, tables=activity.RETAINED),
        f"OPTIMIZE {table} REWRITE DATA USING BIN_PACK WHERE dt = '2026-11-23'",
        f"OPTIMIZE {mark} REWRITE DATA USING BIN_PACK",
        f"OPTIMIZE {intervals} REWRITE DATA USING BIN_PACK WHERE dt = '2026-11-23'",
        f"OPTIMIZE {activities} REWRITE DATA USING BIN_PACK WHERE dt = '2026-11-23'",
        f"VACUUM {table}",
        f"VACUUM {mark}",
        f"VACUUM {intervals}",
        f"VACUUM {activities}",
    ]


def test_the_compaction_role_may_do_what_the_daily_run_asks_and_delete_nothing_raw(synthesized):
    """The daily run sets table properties (Glue UpdateTable on both tables), deletes and rewrites history files
    (DELETE, OPTIMIZE) and VACUUMs them away. Athena's VACUUM guide: without s3:DeleteObject on the table's
    files VACUUM still succeeds, and deletes nothing: retention would silently free no storage. Raw snapshots
    are S3 lifecycle's to expire, never the role's to delete."""
    template = synthesized.json
    _, role = machine_and_role(synthesized)
    bucket = the(synthesized.template, "AWS::S3::Bucket", prefix="StorageSnapshots")
    glue = f"arn:{PARTITION}:glue:{REGION}:{ACCOUNT}"
    data_file = "/history/history/data/instance_id=i/filter_name=f/dt=2026-11-23/00000-0.parquet"
    for action, resource, suffix in [
        ("glue:UpdateTable", f"{glue}:table/connect_user_data/history", ""),
        ("glue:UpdateTable", f"{glue}:table/connect_user_data/history_watermark", ""),
        ("glue:CreateTable", f"{glue}:table/connect_user_data/history", ""),
        ("glue:UpdateTable", f"{glue}:table/connect_user_data/user_data", ""),
        ("glue:DeleteTable", f"{glue}:table/connect_user_data/user_data", ""),
        # Agent activity's two tables (created, rewritten every hour, vacuumed daily under the history prefix), its view.
        *(
            (action, f"{glue}:table/connect_user_data/{table}", "")
            for table in (activity.INTERVALS, activity.ACTIVITY, activity.INTERVALS_NOW)
            for action in ("glue:CreateTable", "glue:UpdateTable")
        ),
        ("glue:DeleteTable", f"{glue}:table/connect_user_data/{activity.INTERVALS_NOW}", ""),  # CREATE OR REPLACE VIEW
        ("s3:DeleteObject", bucket, f"/history/{activity.ACTIVITY}/data/instance_id=i/dt=2026-11-23/00000-0.parquet"),
        ("s3:DeleteObject", bucket, data_file),
        ("s3:DeleteObject", bucket, "/history/history_watermark/metadata/00001.metadata.json"),
        ("s3:PutObject", bucket, data_file),
        (
            "s3:GetObject",
            bucket,
            "/snapshots/instance_id=i/filter_name=f/dt=2026-11-23/hour=00/snapshot-20261123T000000Z.json.gz",
        ),
    ]:
        assert role_may(template, role, action, resource, suffix), (action, suffix)
    assert not role_may(
        template, role, "s3:DeleteObject", bucket, "/snapshots/instance_id=i/filter_name=f/dt=2026-11-23/hour=00/x.json.gz"
    )
    assert not role_may(template, role, "s3:PutObject", bucket, "/snapshots/x.json.gz")
    assert not role_may(template, role, "glue:UpdateTable", f"{glue}:table/connect_user_data/snapshots")  # CloudFormation's
    assert not role_may(template, role, "glue:CreateTable", f"{glue}:table/connect_user_data/other")


def test_the_activity_interval_reaches_the_state_machines_refresh(tmp_path):
    """deployment.activity_interval_minutes is what FillActivity cuts statuses by and writes as interval_minutes."""
    machine = statemachine.definition(synth_example(tmp_path, activity_interval_minutes=30).json)
    fill = json.dumps(machine["States"]["FillActivity"])
    assert "30 AS interval_minutes" in fill and "% 30)" in fill and "% 15)" not in fill
