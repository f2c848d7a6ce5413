"""The synthesized template: every security, schedule, catalog and alarm promise, checked in the JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import aws_cdk as cdk
import pytest
from app import FEATURE_FLAGS
from connect_exporter.config import ConfigError, load_config
from connect_exporter.schema import COLUMNS, PARTITION_COLUMNS

from lake_sql.queries import QUERIES
from connect_exporter.tools.deployment import alarm_count, load_settings
from infra.stack import ExporterStack, database_name

from .conftest import EXAMPLE, REPO, synth
from .policies import ACCOUNT, PARTITION, REGION, Request, allowed, arn_of

CONFIG = load_config(EXAMPLE)
INSTANCE = CONFIG.instances[0].instance_id


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: dict, kind: str, predicate=lambda r: True) -> dict:
    (found,) = [r for r in resources(template, kind).values() if predicate(r)]
    return found


def snapshot_bucket_id(template: dict) -> str:
    (key,) = [k for k in resources(template, "AWS::S3::Bucket") if k.startswith("StorageSnapshots")]
    return key


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(synthesized):
    template, _ = synthesized
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    policies = resources(template, "AWS::S3::BucketPolicy")
    tls_only = [p for p in policies.values() if any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(tls_only) == 3


def test_snapshot_bucket_is_retained_logged_and_expires_with_retention(synthesized):
    template, _ = synthesized
    key = snapshot_bucket_id(template)
    bucket = template["Resources"][key]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    rule = next(r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"] if r["Prefix"] == "snapshots/")
    assert rule["ExpirationInDays"] == 30
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert "DestinationBucketName" in bucket["Properties"]["LoggingConfiguration"]


def test_lambda_is_arm64_python314_single_flight_with_powertools_layer_from_ssm(synthesized):
    template, _ = synthesized
    fn = one(template, "AWS::Lambda::Function", lambda r: r["Properties"].get("Handler") == "connect_exporter.handler.lambda_handler")
    props = fn["Properties"]
    assert props["Runtime"] == "python3.14" and props["Architectures"] == ["arm64"]
    assert props["Timeout"] == 55 and props["ReservedConcurrentExecutions"] == 1
    env = props["Environment"]["Variables"]
    assert env["EXPORTER_CONFIG_PATH"] == "/opt/exporter/config.json"
    assert env["EXPORTER_DESTINATION"] == {"Fn::Join": ["", ["s3://", {"Ref": snapshot_bucket_id(template)}, "/snapshots"]]}
    assert len(json.dumps(env)) < 1024
    powertools_param = [k for k, v in template["Parameters"].items() if v.get("Default", "").startswith("/aws/service/powertools/python/arm64/python3.14/")]
    assert len(powertools_param) == 1 and {"Ref": powertools_param[0]} in props["Layers"]
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert log_group_id.startswith("ExporterLogs")
    assert template["Resources"][log_group_id]["Properties"]["RetentionInDays"] == 30


def test_schedule_passes_the_scheduled_time_with_retries_and_a_dead_letter_queue(synthesized):
    template, _ = synthesized
    schedule = one(template, "AWS::Scheduler::Schedule", lambda r: "Exporter" in json.dumps(r["Properties"]["Target"]["Arn"]))["Properties"]
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert json.loads(target["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 2}
    assert "Arn" in json.dumps(target["DeadLetterConfig"])
    queue = one(template, "AWS::SQS::Queue")["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    invoke_config = one(template, "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert invoke_config["MaximumRetryAttempts"] == 1 and "OnFailure" in invoke_config["DestinationConfig"]


def test_exporter_role_has_exactly_the_least_privilege_statements(synthesized):
    template, _ = synthesized
    role_key = next(k for k in resources(template, "AWS::IAM::Role") if k.startswith("ExporterRole"))
    assert "ManagedPolicyArns" not in template["Resources"][role_key]["Properties"]
    policy = one(template, "AWS::IAM::Policy", lambda r: r["Properties"]["Roles"] == [{"Ref": role_key}])
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    instance_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":connect:", {"Ref": "AWS::Region"}, ":",
                                      {"Ref": "AWS::AccountId"}, f":instance/{INSTANCE}"]]}
    children = json.loads(json.dumps(instance_arn).replace(f":instance/{INSTANCE}", f":instance/{INSTANCE}/*"))
    log_group_key = next(k for k in resources(template, "AWS::Logs::LogGroup") if k.startswith("ExporterLogs"))
    queue_key = next(iter(resources(template, "AWS::SQS::Queue")))
    assert statements == [
        {"Sid": "ReadConfiguredConnectInstances", "Effect": "Allow",
         "Action": ["connect:GetCurrentUserData", "connect:ListQueues", "connect:ListRoutingProfiles",
                    "connect:ListUserHierarchyGroups", "connect:ListUsers"],
         "Resource": [instance_arn, children]},
        {"Sid": "WriteSnapshots", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [snapshot_bucket_id(template), "Arn"]}, "/snapshots/*"]]}},
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": {"Fn::GetAtt": [log_group_key, "Arn"]}},
        # Active tracing (deployment.tracing): X-Ray's write actions take no resource.
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        # Lambda's on-failure destination: failed runs go to the dead-letter queue; SendMessage is all it needs.
        {"Sid": "SendFailedRuns", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [queue_key, "Arn"]}},
    ]


def test_glue_columns_are_the_exporters_schema_with_projection_over_configured_partitions(synthesized):
    template, _ = synthesized
    table = one(template, "AWS::Glue::Table", lambda r: r["Properties"]["TableInput"]["TableType"] == "EXTERNAL_TABLE")["Properties"]["TableInput"]
    sd = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [(c.name, c.type) for c in COLUMNS]
    assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == [(c.name, c.type) for c in PARTITION_COLUMNS]
    assert sd["SerdeInfo"] == {"SerializationLibrary": "org.apache.hive.hcatalog.data.JsonSerDe",
                               "Parameters": {"timestamp.formats": "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"}}
    p = table["Parameters"]
    assert p["projection.enabled"] == "true"
    assert p["projection.instance_id.values"] == INSTANCE
    assert p["projection.filter_name.values"].split(",") == sorted(f.name for f in CONFIG.instances[0].filters)
    assert (p["projection.dt.type"], p["projection.dt.format"], p["projection.dt.range"]) == ("date", "yyyy-MM-dd", "NOW-31DAYS,NOW")
    assert (p["projection.hour.type"], p["projection.hour.range"], p["projection.hour.digits"]) == ("integer", "0,23", "2")
    template_parts = json.dumps(p["storage.location.template"])
    assert "/snapshots/instance_id=${instance_id}/filter_name=${filter_name}/dt=${dt}/hour=${hour}/" in template_parts


def test_athena_workgroup_is_v3_enforced_and_encrypted_with_the_named_queries(synthesized):
    template, _ = synthesized
    wg = one(template, "AWS::Athena::WorkGroup")["Properties"]["WorkGroupConfiguration"]
    assert wg["EnforceWorkGroupConfiguration"] is True
    assert wg["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
    assert wg["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    queries = {q["Properties"]["Name"]: q["Properties"] for q in resources(template, "AWS::Athena::NamedQuery").values()}
    assert sorted(queries) == sorted(q.name for q in QUERIES)
    for q in queries.values():
        assert q["Database"] == "connect_user_data" and '"connect_user_data"."user_data"' in q["QueryString"]
        assert '"snapshots"' not in q["QueryString"]  # every named query reads the view, not the raw table


def test_slot_alarms_match_the_emitted_dimensions_exactly(synthesized):
    template, _ = synthesized
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    slot = [a for a in alarms if a.get("MetricName") == "AvailableSlots"]
    assert len(slot) == 2
    voice = next(a for a in slot if {"Name": "Channel", "Value": "VOICE"} in a["Dimensions"])
    assert sorted(d["Name"] for d in voice["Dimensions"]) == ["Channel", "Filter", "InstanceId"]
    assert {"Name": "Filter", "Value": "support"} in voice["Dimensions"]
    assert (voice["Namespace"], voice["Threshold"], voice["ComparisonOperator"]) == ("ConnectUserData", 1, "LessThanThreshold")
    assert (voice["EvaluationPeriods"], voice["DatapointsToAlarm"], voice["TreatMissingData"]) == (5, 3, "ignore")
    # Staleness counts FilterFailed: the one metric every filter emits on every run, whatever its families.
    stale = [a for a in alarms if a.get("MetricName") == "FilterFailed"]
    assert len(stale) == len(CONFIG.instances[0].filters)
    assert all(a["TreatMissingData"] == "breaching" and a["Statistic"] == "SampleCount" for a in stale)
    assert any(a.get("MetricName") == "FailedFilters" for a in alarms)
    assert any(a.get("MetricName") == "Errors" and a.get("Namespace") == "AWS/Lambda" for a in alarms)
    emf = [a for a in alarms if "EMFValidationErrors" in json.dumps(a.get("Metrics", []))]
    assert len(emf) == 1 and "LogGroupName" in json.dumps(emf[0]["Metrics"])
    assert all(a["AlarmActions"] and a["OKActions"] for a in alarms)
    assert alarm_count(load_settings(EXAMPLE)) == len(alarms)  # what `connect-exporter plan` prices


def test_alarm_topic_is_kms_encrypted_and_dashboard_and_outputs_exist(synthesized):
    template, _ = synthesized
    topic = one(template, "AWS::SNS::Topic")["Properties"]
    assert "KmsMasterKeyId" in topic
    key = one(template, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True
    assert "cloudwatch.amazonaws.com" in json.dumps(key["KeyPolicy"])
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1
    assert set(template["Outputs"]) >= {"SnapshotBucket", "AthenaTable", "AthenaWorkGroup", "AlarmTopic", "DashboardUrl"}


def test_cfn_lint_finds_no_errors(synthesized):
    _, outdir = synthesized
    (path,) = list(outdir.glob("*.template.json"))
    result = subprocess.run([sys.executable, "-m", "cfnlint", str(path)], capture_output=True, text=True)
    # cfn-lint's exit code is a bit field: 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 2 == 0, result.stdout
    assert not re.search(r"^E\d{4}", result.stdout, re.M), result.stdout


def test_bad_config_stops_synth_with_one_clear_line_and_no_template(tmp_path):
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["alarms"][0]["channel"] = "FAX"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    env = {"CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}), "CDK_OUTDIR": str(tmp_path / "out"),
           "PATH": "/usr/bin:/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {bad}: deployment.alarms[0].channel: must be one of VOICE, CHAT, TASK, EMAIL (got 'FAX')"
    assert not list(tmp_path.glob("out/*.template.json"))


def cloudwatch_alarm_requests(template: dict, alarm_id: str, action: str, resource: str) -> Request:
    """What CloudWatch sends when alarm `alarm_id` acts: its service principal, on behalf of the alarm."""
    return Request(
        service="cloudwatch.amazonaws.com", action=action, resource=resource,
        context={"aws:SourceAccount": ACCOUNT, "aws:SecureTransport": "true",
                 "aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_id}"},
    )


def publish_policies(template: dict, topic_id: str) -> tuple[list[dict], list[dict]]:
    """The topic's resource policies and, if it is encrypted, its key's policy."""
    topic_policies = [p["Properties"]["PolicyDocument"] for p in resources(template, "AWS::SNS::TopicPolicy").values()
                      if {"Ref": topic_id} in p["Properties"]["Topics"]]
    key = template["Resources"][topic_id]["Properties"].get("KmsMasterKeyId")
    key_policies = [template["Resources"][key["Fn::GetAtt"][0]]["Properties"]["KeyPolicy"]] if key else []
    return topic_policies, key_policies


def test_every_alarm_action_can_be_delivered_by_cloudwatch_through_topic_and_key_policy(synthesized):
    template, _ = synthesized
    checked = 0
    for alarm_id, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        targets = alarm["Properties"]["AlarmActions"] + alarm["Properties"]["OKActions"]
        assert targets, alarm_id
        for target in targets:
            topic_id = target["Ref"]
            assert template["Resources"][topic_id]["Type"] == "AWS::SNS::Topic"
            topic_policies, key_policies = publish_policies(template, topic_id)
            # A topic policy replaces SNS's default one: without it nothing but same-account IAM could publish.
            assert topic_policies, f"{topic_id} has no topic policy"
            publish = cloudwatch_alarm_requests(template, alarm_id, "SNS:Publish", arn_of(template, topic_id))
            assert allowed(template, topic_policies, publish), f"{alarm_id} cannot publish to {topic_id}"
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                use_key = cloudwatch_alarm_requests(template, alarm_id, action, "*")
                assert allowed(template, key_policies, use_key), f"{alarm_id}: {action} on the key of {topic_id}"
            checked += 1
    assert checked >= 2 * len(resources(template, "AWS::CloudWatch::Alarm")) > 0


def test_the_alarm_topic_admits_only_this_accounts_alarms_and_only_over_tls(synthesized):
    template, _ = synthesized
    ((topic_id, _),) = resources(template, "AWS::SNS::Topic").items()
    alarm_id = next(iter(resources(template, "AWS::CloudWatch::Alarm")))
    topic_policies, key_policies = publish_policies(template, topic_id)
    request = cloudwatch_alarm_requests(template, alarm_id, "sns:Publish", arn_of(template, topic_id))
    elsewhere = [
        Request(request.service, request.action, request.resource, {**request.context, "aws:SourceAccount": "999999999999"}),
        Request(request.service, request.action, request.resource,
                {**request.context, "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:x"}),
        Request(request.service, request.action, request.resource, {**request.context, "aws:SecureTransport": "false"}),
        Request("events.amazonaws.com", request.action, request.resource, request.context),
    ]
    assert allowed(template, topic_policies, request)
    assert not any(allowed(template, topic_policies, r) for r in elsewhere)
    assert not allowed(template, key_policies, Request(request.service, "kms:Decrypt", "*",
                                                        {**request.context, "aws:SourceAccount": "999999999999"}))
    # The policy CDK writes for enforce_ssl alone (the TLS deny) lets no alarm publish: what the walk above guards.
    tls_only = [{**doc, "Statement": [s for s in doc["Statement"] if s["Effect"] == "Deny"]} for doc in topic_policies]
    assert not allowed(template, tls_only, request)


def test_the_powertools_layer_is_the_exact_version_the_tests_run_on(synthesized):
    template, _ = synthesized
    installed = metadata.version("aws-lambda-powertools")
    pinned = re.search(r"^aws-lambda-powertools==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)[1]
    assert installed == pinned
    (name,) = [v["Default"] for v in template["Parameters"].values() if v["Default"].startswith("/aws/service/powertools/")]
    assert name == f"/aws/service/powertools/python/arm64/python3.14/{pinned}"


def test_the_function_knows_its_schedule_period(synthesized):
    template, _ = synthesized
    fn = one(template, "AWS::Lambda::Function", lambda r: r["Properties"].get("Handler") == "connect_exporter.handler.lambda_handler")
    assert fn["Properties"]["Environment"]["Variables"]["EXPORTER_SCHEDULE_SECONDS"] == "60"


def test_default_teardown_keeps_the_data_buckets_and_empties_the_athena_results(synthesized):
    template, _ = synthesized
    buckets = resources(template, "AWS::S3::Bucket")
    kept = sorted(k for k, v in buckets.items() if v.get("DeletionPolicy") == "Retain")
    assert [k.removeprefix("Storage")[:8] for k in kept] == ["AccessLo", "Snapshot"]
    emptied = [v["Properties"]["BucketName"]["Ref"] for v in resources(template, "Custom::S3AutoDeleteObjects").values()]
    assert emptied == [k for k in buckets if k not in kept] and len(emptied) == 1


@pytest.fixture(scope="module")
def disposable(tmp_path_factory):
    """A deploy for a small test account: no reserved concurrency, nothing retained, a layer given by ARN."""
    config = json.loads(EXAMPLE.read_text())
    layer = "arn:aws:lambda:eu-central-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:7"
    config["deployment"].update(reserved_concurrency=None, retain_data=False, powertools_layer_arn=layer)
    filters = config["instances"][0]["filters"]
    filters[3]["metrics"], filters[4]["metrics"] = ["slots"], ["status", "health"]  # vip alarms on slots; emea watches statuses
    folder = tmp_path_factory.mktemp("disposable")
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    stack, assembly = synth(folder, path)
    return json.loads(Path(assembly.directory, assembly.get_stack_by_name(stack.stack_name).template_file).read_text()), layer


def test_reserved_concurrency_null_reserves_none_and_a_layer_arn_replaces_the_parameter(disposable):
    template, layer = disposable
    fn = one(template, "AWS::Lambda::Function", lambda r: r["Properties"].get("Handler") == "connect_exporter.handler.lambda_handler")
    assert "ReservedConcurrentExecutions" not in fn["Properties"]
    assert layer in fn["Properties"]["Layers"]
    assert not [v for v in template.get("Parameters", {}).values() if v["Default"].startswith("/aws/service/powertools/")]


def test_the_dashboard_and_alarms_follow_each_filters_metric_families(disposable):
    template, _ = disposable
    body = json.dumps(one(template, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    titles = set(re.findall(r'title\\+":\\+"([^"\\]+)', body))
    assert "vip: available slots by channel" in titles and "vip: agents by status" not in titles
    assert "emea: agents by status" in titles and "emea: available slots by channel" not in titles
    assert {"support: available slots by channel", "support: agents by status"} <= titles
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    stale = {d["Value"] for a in alarms if a.get("MetricName") == "FilterFailed" for d in a["Dimensions"] if d["Name"] == "Filter"}
    assert stale == {"all-agents", "support", "busy-voice", "vip", "emea"}


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
    template, _ = disposable
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) == 3 and all(b["DeletionPolicy"] == "Delete" for b in buckets.values())
    emptied = sorted(v["Properties"]["BucketName"]["Ref"] for v in resources(template, "Custom::S3AutoDeleteObjects").values())
    assert emptied == sorted(buckets)


@pytest.mark.parametrize("value, expected", [
    (0, "deployment.reserved_concurrency: must be a whole number from 1 to 1000 (got 0)"),
    ("1", "deployment.reserved_concurrency: must be a whole number from 1 to 1000 (got '1')"),
    ("arn:aws:lambda:us-east-1:1:layer:x", "deployment.powertools_layer_arn: must be a Lambda layer version ARN"),
])
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
    env = {"CDK_CONTEXT_JSON": json.dumps({"config": str(EXAMPLE)}), "CDK_OUTDIR": str(tmp_path / "out"),
           "PATH": "/usr/bin:/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "TMPDIR": str(temp)}
    result = subprocess.run([sys.executable, str(REPO / "app.py")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("out/*.template.json"))
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("stack_name, database", [
    ("ConnectUserDataExporter", "connect_user_data"),
    ("ConnectUserDataStaging", "connect_user_data_staging"),
    ("Prod-EU", "connect_user_data_prod_eu"),
])
def test_the_database_name_follows_the_stack(stack_name, database):
    assert database_name(stack_name, load_settings(EXAMPLE)) == database


def test_two_stacks_deploy_side_by_side_in_one_account(tmp_path):
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=dict(FEATURE_FLAGS))
    settings = load_settings(EXAMPLE)
    stacks = [ExporterStack(app, name, settings=settings) for name in ("ConnectUserDataStaging", "ConnectUserDataProduction")]
    assembly = app.synth()
    databases = []
    for stack in stacks:
        template = json.loads(Path(assembly.directory, assembly.get_stack_by_name(stack.stack_name).template_file).read_text())
        (db,) = [d["Properties"]["DatabaseInput"]["Name"] for d in resources(template, "AWS::Glue::Database").values()]
        databases.append(db)
        text = json.dumps(template)
        other = {"connect_user_data_staging": "connect_user_data_production"}.get(db, "connect_user_data_staging")
        assert other not in text and '"connect_user_data".' not in text  # every use is this stack's own database
        assert all(q["Properties"]["Database"] == db and f'"{db}"."user_data"' in q["Properties"]["QueryString"]
                   for q in resources(template, "AWS::Athena::NamedQuery").values())
        assert f":table/{db}/*" in text and f"{db}.history" in text  # the compaction role and its statements
        assert template["Outputs"]["AthenaView"]["Value"] == f"{db}.user_data"
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
        {"name": "arns", "agents": [f"arn:aws:connect:eu-west-1:123456789012:instance/{instance}/agent/a1"]})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    base = {"CDK_CONTEXT_JSON": json.dumps({"config": str(path)}), "CDK_OUTDIR": str(tmp_path / "out"),
            "PATH": "/usr/bin:/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    there = subprocess.run([sys.executable, str(REPO / "app.py")], capture_output=True, text=True, timeout=120,
                           env={**base, "CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-east-1"})
    assert there.returncode == 1 and not list(tmp_path.glob("out/*.template.json"))
    assert there.stderr.strip() == (f"error: {path}: instances[0].filters[5].agents[0]: is in region eu-west-1 "
                                    f"(the deployment's is us-east-1) (got 'arn:aws:connect:eu-west-1:123456789012:instance/{instance}/agent/a1')")
    anywhere = subprocess.run([sys.executable, str(REPO / "app.py")], env=base, capture_output=True, text=True, timeout=120)
    assert anywhere.returncode == 0, anywhere.stderr  # an environment-agnostic synth cannot know, and does not guess
