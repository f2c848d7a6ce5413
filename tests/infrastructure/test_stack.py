"""The synthesized template: every security, schedule, catalog and alarm promise, checked in the JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Match, Template

from app import FEATURE_FLAGS
from connect_exporter.config import OPERATIONS, ConfigError, load_config
from connect_exporter.directory import SOURCES
from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS
from connect_exporter.tools.deployment import alarm_count, load_settings
from infra.exporter import CONNECT_ACTIONS
from infra.stack import ExporterStack, database_name
from lake_sql.named import QUERIES

from .policies import ACCOUNT, Request, allowed, arn_of
from .support import (
    EXAMPLE,
    EXPORTER_FUNCTION,
    REPO,
    Synthesized,
    assert_alarms_can_publish,
    cloudwatch_alarm_requests,
    ids,
    properties,
    publish_policies,
    synth_example,
    the,
)

CONFIG = load_config(EXAMPLE)
INSTANCE = CONFIG.instances[0].instance_id
PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def snapshot_bucket_id(template: Template) -> str:
    return the(template, "AWS::S3::Bucket", prefix="StorageSnapshots")


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(synthesized):
    template = synthesized.template
    template.resource_count_is("AWS::S3::Bucket", 3)
    private = ids(
        template,
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCKED,
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )
    assert len(private) == 3
    tls_only = ids(
        template,
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    assert len(tls_only) == 3


def test_snapshot_bucket_is_retained_logged_and_expires_with_retention(synthesized):
    template = synthesized.template
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "LifecycleConfiguration": {
                        "Rules": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Prefix": "snapshots/",
                                        "ExpirationInDays": 30,
                                        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                                    }
                                )
                            ]
                        )
                    },
                    "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
                }
            ),
        },
    )


def test_lambda_is_arm64_python314_single_flight_with_powertools_layer_from_ssm(synthesized):
    template = synthesized.template
    parameters = template.find_parameters(
        "*", {"Default": Match.string_like_regexp("^/aws/service/powertools/python/arm64/python3.14/")}
    )
    (powertools,) = parameters
    log_group = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **EXPORTER_FUNCTION,
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Timeout": 55,
            "ReservedConcurrentExecutions": 1,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "EXPORTER_CONFIG_PATH": "/opt/exporter/config.json",
                        "EXPORTER_DESTINATION": {
                            "Fn::Join": ["", ["s3://", {"Ref": snapshot_bucket_id(template)}, "/snapshots"]]
                        },
                    }
                )
            },
            "Layers": Match.array_with([{"Ref": powertools}]),
            "LoggingConfig": {"LogGroup": {"Ref": log_group}},
        },
    )
    assert log_group.as_string().startswith("ExporterLogs")
    assert properties(synthesized, log_group.as_string())["RetentionInDays"] == 30
    environment = properties(synthesized, the(template, "AWS::Lambda::Function", EXPORTER_FUNCTION))["Environment"]
    assert len(json.dumps(environment["Variables"])) < 1024


def test_schedule_passes_the_scheduled_time_with_retries_and_a_dead_letter_queue(synthesized):
    template = synthesized.template
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^ExporterFunction"), "Arn"]},
                    "Input": Match.serialized_json({"scheduled_time": "<aws.scheduler.scheduled-time>"}),
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 2},
                    "DeadLetterConfig": {"Arn": Match.any_value()},
                }
            ),
        },
    )
    template.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}}},
    )


def test_exporter_role_has_exactly_the_least_privilege_statements(synthesized):
    template = synthesized.template
    role = the(template, "AWS::IAM::Role", prefix="ExporterRole")
    assert "ManagedPolicyArns" not in properties(synthesized, role)
    instance_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":connect:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":instance/{INSTANCE}",
            ],
        ]
    }
    children = json.loads(json.dumps(instance_arn).replace(f":instance/{INSTANCE}", f":instance/{INSTANCE}/*"))
    log_group = the(template, "AWS::Logs::LogGroup", prefix="ExporterLogs")
    queue = the(template, "AWS::SQS::Queue")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadConfiguredConnectInstances",
                        "Effect": "Allow",
                        "Action": [
                            "connect:GetCurrentUserData",
                            "connect:ListQueues",
                            "connect:ListRoutingProfiles",
                            "connect:ListUserHierarchyGroups",
                            "connect:ListUsers",
                        ],
                        "Resource": [instance_arn, children],
                    },
                    {
                        "Sid": "WriteSnapshots",
                        "Effect": "Allow",
                        "Action": ["s3:PutObject", "s3:GetObject"],
                        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [snapshot_bucket_id(template), "Arn"]}, "/snapshots/*"]]},
                    },
                    {
                        "Sid": "WriteOwnLogs",
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
                    },
                    # Active tracing (deployment.tracing): X-Ray's write actions take no resource.
                    {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
                    # Lambda's on-failure destination: failed runs go to the dead-letter queue; SendMessage is all it needs.
                    {
                        "Sid": "SendFailedRuns",
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": {"Fn::GetAtt": [queue, "Arn"]},
                    },
                ],
            },
        },
    )


def test_glue_columns_are_the_exporters_schema_with_projection_over_configured_partitions(synthesized):
    filters = ",".join(sorted(f.name for f in CONFIG.instances[0].filters))
    location = Capture()
    synthesized.template.has_resource_properties(
        "AWS::Glue::Table",
        {
            "TableInput": Match.object_like(
                {
                    "TableType": "EXTERNAL_TABLE",
                    "StorageDescriptor": Match.object_like(
                        {
                            "Columns": [{"Name": c.name, "Type": c.type} for c in COLUMNS],
                            "SerdeInfo": {
                                "SerializationLibrary": "org.apache.hive.hcatalog.data.JsonSerDe",
                                "Parameters": {"timestamp.formats": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"},
                            },
                        }
                    ),
                    "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in PARTITION_COLUMNS],
                    "Parameters": Match.object_like(
                        {
                            "projection.enabled": "true",
                            "projection.instance_id.values": INSTANCE,
                            "projection.filter_name.values": filters,
                            "projection.dt.type": "date",
                            "projection.dt.format": "yyyy-MM-dd",
                            "projection.dt.range": "NOW-31DAYS,NOW",
                            "projection.hour.type": "integer",
                            "projection.hour.range": "0,23",
                            "projection.hour.digits": "2",
                            "storage.location.template": location,
                        }
                    ),
                }
            )
        },
    )
    assert "/snapshots/instance_id=${instance_id}/filter_name=${filter_name}/dt=${dt}/hour=${hour}/" in json.dumps(
        location.as_object()
    )


def test_athena_workgroup_is_v3_enforced_and_encrypted_with_the_named_queries(synthesized):
    template = synthesized.template
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                    "ResultConfiguration": Match.object_like({"EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}}),
                }
            )
        },
    )
    # Every named query reads the view or agent activity's tables of this stack's database, never the raw table.
    reads_the_view = Match.string_like_regexp(
        r'^(?![\s\S]*"snapshots")[\s\S]*"connect_user_data"\."(user_data|agent_activity|agent_status_intervals|agent_status_intervals_now)"'
    )
    for query in QUERIES:
        template.has_resource_properties(
            "AWS::Athena::NamedQuery", {"Name": query.name, "Database": "connect_user_data", "QueryString": reads_the_view}
        )
    template.resource_count_is("AWS::Athena::NamedQuery", len(QUERIES))


def alarm_ids(template: Template, props: dict[str, Any] | None = None) -> list[str]:
    return ids(template, "AWS::CloudWatch::Alarm", props)


def test_slot_alarms_match_the_emitted_dimensions_exactly(synthesized):
    template = synthesized.template
    assert len(alarm_ids(template, {"MetricName": "AvailableSlots"})) == 2
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "AvailableSlots",
            "Namespace": "ConnectUserData",
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "TreatMissingData": "ignore",
            "Dimensions": Match.array_equals(
                [
                    {"Name": "Channel", "Value": "VOICE"},
                    {"Name": "Filter", "Value": "support"},
                    {"Name": "InstanceId", "Value": INSTANCE},
                ]
            ),
        },
    )
    # Staleness counts FilterFailed: the one metric every filter emits on every run, whatever its families.
    assert len(alarm_ids(template, {"MetricName": "FilterFailed"})) == len(CONFIG.instances[0].filters)
    assert alarm_ids(template, {"MetricName": "FilterFailed"}) == alarm_ids(
        template, {"MetricName": "FilterFailed", "TreatMissingData": "breaching", "Statistic": "SampleCount"}
    )
    assert alarm_ids(template, {"MetricName": "FailedFilters"})
    assert alarm_ids(template, {"MetricName": "Errors", "Namespace": "AWS/Lambda"})
    emf = alarm_ids(
        template,
        {
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": Match.object_like(
                                        {
                                            "MetricName": "EMFValidationErrors",
                                            "Dimensions": [{"Name": "LogGroupName", "Value": Match.any_value()}],
                                        }
                                    )
                                }
                            )
                        }
                    )
                ]
            )
        },
    )
    assert len(emf) == 1
    everything = alarm_ids(template)
    assert alarm_ids(template, {"AlarmActions": Match.any_value(), "OKActions": Match.any_value()}) == everything
    assert alarm_count(load_settings(EXAMPLE)) == len(everything)  # what `connect-exporter plan` prices


def test_alarm_topic_is_kms_encrypted_and_dashboard_and_outputs_exist(synthesized):
    template = synthesized.template
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with([Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})]),
                "Version": "2012-10-17",
            },
        },
    )
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    for output in ("SnapshotBucket", "AthenaTable", "AthenaWorkGroup", "AlarmTopic", "DashboardUrl"):
        template.has_output(output, {})


def test_an_alarm_email_is_subscribed_to_the_topic(tmp_path):
    synthesized = synth_example(tmp_path, alarm_email="ops@example.com")  # cdk-nag passes: its one finding is answered
    topic = the(synthesized.template, "AWS::SNS::Topic")
    synthesized.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": topic}}
    )


def test_cfn_lint_finds_no_errors(synthesized):
    (path,) = list(synthesized.outdir.glob("*.template.json"))
    result = subprocess.run([sys.executable, "-m", "cfnlint", str(path)], capture_output=True, text=True)
    # cfn-lint's exit code is a bit field: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 2 == 0, result.stdout
    assert not re.search(r"^E\d{4}", result.stdout, re.M), result.stdout


def test_bad_config_stops_synth_with_one_clear_line_and_no_template(tmp_path):
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["alarms"][0]["channel"] = "FAX"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    env = {
        "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "PATH": "/usr/bin:/bin",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: {bad}: deployment.alarms[0].channel: must be one of VOICE, CHAT, TASK, EMAIL (got 'FAX')"
    )
    assert not list(tmp_path.glob("out/*.template.json"))


def test_every_alarm_action_can_be_delivered_by_cloudwatch_through_topic_and_key_policy(synthesized):
    assert_alarms_can_publish(synthesized)


def test_the_alarm_topic_admits_only_this_accounts_alarms_and_only_over_tls(synthesized):
    template = synthesized.json
    topic_id = the(synthesized.template, "AWS::SNS::Topic")
    alarm_id = ids(synthesized.template, "AWS::CloudWatch::Alarm")[0]
    topic_policies, key_policies = publish_policies(synthesized, topic_id)
    request = cloudwatch_alarm_requests(template, alarm_id, "sns:Publish", arn_of(template, topic_id))
    elsewhere = [
        Request(request.service, request.action, request.resource, {**request.context, "aws:SourceAccount": "999999999999"}),
        Request(
            request.service,
            request.action,
            request.resource,
            {**request.context, "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:x"},
        ),
        Request(request.service, request.action, request.resource, {**request.context, "aws:SecureTransport": "false"}),
        Request("events.amazonaws.com", request.action, request.resource, request.context),
    ]
    assert allowed(template, topic_policies, request)
    assert not any(allowed(template, topic_policies, r) for r in elsewhere)
    assert not allowed(
        template,
        key_policies,
        Request(request.service, "kms:Decrypt", "*", {**request.context, "aws:SourceAccount": "999999999999"}),
    )
    # The policy CDK writes for enforce_ssl alone (the TLS deny) lets no alarm publish: what the walk above guards.
    tls_only = [{**doc, "Statement": [s for s in doc["Statement"] if s["Effect"] == "Deny"]} for doc in topic_policies]
    assert not allowed(template, tls_only, request)


def test_the_powertools_layer_is_the_exact_version_the_tests_run_on(synthesized):
    installed = metadata.version("aws-lambda-powertools")
    pinned = re.search(r"^aws-lambda-powertools==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)[1]
    assert installed == pinned
    powertools = synthesized.template.find_parameters("*", {"Default": Match.string_like_regexp("^/aws/service/powertools/")})
    assert [p["Default"] for p in powertools.values()] == [f"/aws/service/powertools/python/arm64/python3.14/{pinned}"]


def test_the_function_knows_its_schedule_period(synthesized):
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Function",
        {**EXPORTER_FUNCTION, "Environment": {"Variables": Match.object_like({"EXPORTER_SCHEDULE_SECONDS": "60"})}},
    )


def emptied_buckets(synthesized: Synthesized) -> list[str]:
    """The buckets CDK's custom resource empties before CloudFormation deletes them."""
    return sorted(
        properties(synthesized, k)["BucketName"]["Ref"] for k in ids(synthesized.template, "Custom::S3AutoDeleteObjects")
    )


def test_default_teardown_keeps_the_data_buckets_and_empties_the_athena_results(synthesized):
    buckets = ids(synthesized.template, "AWS::S3::Bucket")
    kept = sorted(synthesized.template.find_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain"}))
    assert [k.removeprefix("Storage")[:8] for k in kept] == ["AccessLo", "Snapshot"]
    emptied = emptied_buckets(synthesized)
    assert emptied == [k for k in buckets if k not in kept] and len(emptied) == 1


LAYER = "arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"


@pytest.fixture(scope="module")
def disposable(tmp_path_factory) -> Synthesized:
    """A deploy for a small test account: no reserved concurrency, nothing retained, a layer given by ARN."""

    def families(config: dict) -> None:
        filters = config["instances"][0]["filters"]
        filters[3]["metrics"], filters[4]["metrics"] = (
            ["slots"],
            ["status", "health"],
        )  # vip alarms on slots; emea watches statuses

    return synth_example(
        tmp_path_factory.mktemp("disposable"), families, reserved_concurrency=None, retain_data=False, powertools_layer_arn=LAYER
    )


def test_reserved_concurrency_null_reserves_none_and_a_layer_arn_replaces_the_parameter(disposable):
    template = disposable.template
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {**EXPORTER_FUNCTION, "ReservedConcurrentExecutions": Match.absent(), "Layers": Match.array_with([LAYER])},
    )
    assert template.find_parameters("*", {"Default": Match.string_like_regexp("^/aws/service/powertools/")}) == {}


def test_the_dashboard_and_alarms_follow_each_filters_metric_families(disposable):
    template = disposable.template
    body = json.dumps(properties(disposable, the(template, "AWS::CloudWatch::Dashboard"))["DashboardBody"])
    titles = set(re.findall(r'title\\+":\\+"([^"\\]+)', body))
    assert "vip: available slots by channel" in titles and "vip: agents by status" not in titles
    assert "emea: agents by status" in titles and "emea: available slots by channel" not in titles
    assert {"support: available slots by channel", "support: agents by status"} <= titles
    for name in ("all-agents", "support", "busy-voice", "vip", "emea"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"MetricName": "FilterFailed", "Dimensions": Match.array_with([{"Name": "Filter", "Value": name}])},
        )
    assert len(ids(template, "AWS::CloudWatch::Alarm", {"MetricName": "FilterFailed"})) == 5


def test_an_alarm_on_a_filter_without_slot_metrics_is_one_line_naming_the_filter(tmp_path):
    config = json.loads(EXAMPLE.read_text())
    config["instances"][0]["filters"][1]["metrics"] = ["agents", "status"]  # support, which the alarms watch
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value) == (
        f"{path}: deployment.alarms[0].filter: filter support of instance {CONFIG.instances[0].instance_id} does not emit "
        "slot metrics (its metrics: agents, status); add \"slots\" to them (got 'support')"
    )


def test_retain_data_false_deletes_and_empties_every_bucket(disposable):
    buckets = ids(disposable.template, "AWS::S3::Bucket")
    assert (
        len(buckets) == 3
        and sorted(disposable.template.find_resources("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})) == buckets
    )
    assert emptied_buckets(disposable) == buckets


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, "deployment.reserved_concurrency: must be a whole number from 1 to 1000 (got 0)"),
        ("1", "deployment.reserved_concurrency: must be a whole number from 1 to 1000 (got '1')"),
        ("arn:aws:lambda:us-east-1:1:layer:x", "deployment.powertools_layer_arn: must be a Lambda layer version ARN"),
    ],
)
def test_bad_deployment_values_are_one_line(tmp_path, value, expected):
    config = json.loads(EXAMPLE.read_text())
    key = "powertools_layer_arn" if str(value).startswith("arn:") else "reserved_concurrency"
    config["deployment"][key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value).startswith(f"{path}: {expected}")


def test_synth_leaves_nothing_in_the_temp_dir(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {
        "CDK_CONTEXT_JSON": json.dumps({"config": str(EXAMPLE)}),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "PATH": "/usr/bin:/bin",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "TMPDIR": str(temp),
    }
    result = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("out/*.template.json"))
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize(
    "stack_name, database",
    [
        ("ConnectUserDataExporter", "connect_user_data"),
        ("ConnectUserDataStaging", "connect_user_data_staging"),
        ("Prod-EU", "connect_user_data_prod_eu"),
    ],
)
def test_the_database_name_follows_the_stack(stack_name, database):
    assert database_name(stack_name, load_settings(EXAMPLE)) == database


def test_two_stacks_deploy_side_by_side_in_one_account(tmp_path):
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=dict(FEATURE_FLAGS))
    settings = load_settings(EXAMPLE)
    stacks = [ExporterStack(app, name, settings=settings) for name in ("ConnectUserDataStaging", "ConnectUserDataProduction")]
    assembly = app.synth()
    databases = []
    for stack in stacks:
        document = json.loads(Path(assembly.directory, assembly.get_stack_by_name(stack.stack_name).template_file).read_text())
        template = Template.from_json(document)
        (database,) = template.find_resources("AWS::Glue::Database").values()
        db = database["Properties"]["DatabaseInput"]["Name"]
        databases.append(db)
        text = json.dumps(document)
        other = {"connect_user_data_staging": "connect_user_data_production"}.get(db, "connect_user_data_staging")
        assert other not in text and '"connect_user_data".' not in text  # every use is this stack's own database
        queries = ids(template, "AWS::Athena::NamedQuery")
        assert (
            ids(
                template,
                "AWS::Athena::NamedQuery",
                {
                    "Database": db,
                    "QueryString": Match.string_like_regexp(f'"{db}"\\."(user_data|agent_activity|agent_status_intervals_now)"'),
                },
            )
            == queries
        )
        assert f":table/{db}/*" in text and f"{db}.history" in text  # the compaction role and its statements
        template.has_output("AthenaView", {"Value": f"{db}.user_data"})
    assert databases == ["connect_user_data_staging", "connect_user_data_production"]


def test_a_bad_database_name_is_one_line(tmp_path):
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["database"] = "Connect-Data"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"deployment.database: must be a Glue database name.*\(got 'Connect-Data'\)"):
        load_settings(path)


def test_synth_refuses_arns_outside_the_account_and_region_the_cdk_cli_deploys_to(tmp_path):
    """`cdk synth`/`deploy` set CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION from the profile: an ARN elsewhere
    names agents the function can never read, so synth stops with one line, before any template."""
    config = json.loads(EXAMPLE.read_text())
    instance = config["instances"][0]["instance_id"]
    config["instances"][0]["filters"].append(
        {"name": "arns", "agents": [f"arn:aws:connect:eu-west-1:123456789012:instance/{instance}/agent/a1"]}
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    base = {
        "CDK_CONTEXT_JSON": json.dumps({"config": str(path)}),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "PATH": "/usr/bin:/bin",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    there = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-east-1"},
    )
    assert there.returncode == 1 and not list(tmp_path.glob("out/*.template.json"))
    assert there.stderr.strip() == (
        f"error: {path}: instances[0].filters[5].agents[0]: is in region eu-west-1 "
        f"(the deployment's is us-east-1) (got 'arn:aws:connect:eu-west-1:123456789012:instance/{instance}/agent/a1')"
    )
    anywhere = subprocess.run([sys.executable, str(REPO / "app.py")], env=base, capture_output=True, text=True, timeout=120)
    assert anywhere.returncode == 0, anywhere.stderr  # an environment-agnostic synth cannot know, and does not guess


def test_the_operations_are_exactly_those_the_exporter_calls_and_its_role_allows():
    assert sorted(OPERATIONS) == sorted({"GetCurrentUserData", *(op for op, *_ in SOURCES.values())})
    assert [f"connect:{op}" for op in sorted(OPERATIONS)] == CONNECT_ACTIONS
