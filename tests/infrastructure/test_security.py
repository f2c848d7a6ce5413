"""deployment.encryption and deployment.tracing, as the synthesized templates say; the scanners themselves
run in `make lint` (cdk-nag also fails every synth here on an unanswered finding)."""

from __future__ import annotations

import json
from importlib import metadata

import aws_cdk.aws_lambda as lambda_
import pytest
from aws_cdk.assertions import Match

from connect_exporter.config import ConfigError
from connect_exporter.tools.deployment import load_settings
from infra.exporter import RUNTIME, powertools_parameter

from . import test_stack as stack_checks
from .policies import ACCOUNT, PARTITION, REGION, Request, allowed, role_may
from .support import EXAMPLE, EXPORTER_FUNCTION, Synthesized, ids, properties, synth_example, the

USER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def kms(tmp_path_factory) -> Synthesized:
    return synth_example(tmp_path_factory.mktemp("kms"), encryption="kms")


@pytest.fixture(scope="module")
def user_key(tmp_path_factory) -> Synthesized:
    return synth_example(tmp_path_factory.mktemp("user-key"), encryption=USER_KEY, tracing=False)


def kms_statements(synthesized: Synthesized, role_prefix: str) -> list[dict]:
    """Every statement naming a kms: action in the policies attached to roles whose logical id starts so."""
    found = []
    for policy in ids(synthesized.template, "AWS::IAM::Policy"):
        props = properties(synthesized, policy)
        if any(r["Ref"].startswith(role_prefix) for r in props["Roles"]):
            for statement in props["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a.startswith("kms:") for a in actions):
                    found.append({**statement, "Action": actions})
    return found


def has_bucket(synthesized: Synthesized, name: str, encryption: dict) -> None:
    bucket = the(synthesized.template, "AWS::S3::Bucket", prefix=f"Storage{name}")
    assert bucket in ids(
        synthesized.template, "AWS::S3::Bucket", {"BucketEncryption": {"ServerSideEncryptionConfiguration": [encryption]}}
    )


def test_with_kms_every_store_but_the_access_logs_uses_the_stacks_one_rotating_key(kms):
    template = kms.template
    key_id = the(template, "AWS::KMS::Key", {"EnableKeyRotation": True})  # one key: the topic shares it
    the_key = {"Fn::GetAtt": [key_id, "Arn"]}
    for name in ("Snapshots", "AthenaResults"):
        has_bucket(
            kms,
            name,
            {"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": the_key}},
        )
    # S3 server access logging cannot deliver into an SSE-KMS bucket.
    has_bucket(kms, "AccessLogs", {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}})
    template.resource_count_is("AWS::Logs::LogGroup", 2)
    assert len(ids(template, "AWS::Logs::LogGroup", {"KmsKeyId": the_key})) == 2
    template.resource_properties_count_is("AWS::SQS::Queue", {"KmsMasterKeyId": the_key}, 1)
    template.resource_properties_count_is("AWS::SNS::Topic", {"KmsMasterKeyId": the_key}, 1)
    template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "WorkGroupConfiguration": Match.object_like(
                {
                    "ResultConfiguration": Match.object_like(
                        {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": the_key}}
                    )
                }
            )
        },
    )


def test_with_kms_each_role_holds_exactly_the_key_actions_it_needs(kms):
    key_id = the(kms.template, "AWS::KMS::Key")
    for role in ("ExporterRole", "ExporterScheduleRole", "HistoryRole", "HistoryScheduleRole"):
        (statement,) = kms_statements(kms, role)
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"], role
        assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}, role
    # No role may encrypt or re-encrypt arbitrary data with it, nor manage it.
    every = [a for s in kms_statements(kms, "") for a in s["Action"]]
    assert set(every) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_with_kms_every_write_and_read_path_is_allowed_by_role_resource_and_key_policy_together(kms):
    kms_template = kms.json
    """Walked as AWS evaluates it after deploy: the role's own policy, the bucket's or queue's policy (TLS
    only) and the key policy (which trusts IAM by its account statement) must all agree."""

    def one(prefix: str, kind: str) -> str:
        return the(kms.template, kind, prefix=prefix)

    key, queue = one("EncryptionKey", "AWS::KMS::Key"), one("ExporterFailedRuns", "AWS::SQS::Queue")
    snapshots, function = one("StorageSnapshots", "AWS::S3::Bucket"), one("ExporterFunction", "AWS::Lambda::Function")
    machine = one("HistoryStateMachine", "AWS::StepFunctions::StateMachine")
    role = {
        name: one(name, "AWS::IAM::Role")
        for name in ("ExporterRole", "ExporterScheduleRole", "HistoryRole", "HistoryScheduleRole")
    }
    paths = [
        ("ExporterRole", "s3:PutObject", snapshots, "/snapshots/x.json.gz"),  # a snapshot, SSE-KMS
        ("ExporterRole", "s3:GetObject", snapshots, "/snapshots/x.json.gz"),  # HeadObject after a 412: is it this run's?
        ("ExporterRole", "sqs:SendMessage", queue, ""),  # a failed run, by the on-failure destination
        ("ExporterScheduleRole", "lambda:InvokeFunction", function, ""),
        ("ExporterScheduleRole", "sqs:SendMessage", queue, ""),  # a run Scheduler could not deliver
        ("HistoryScheduleRole", "states:StartExecution", machine, ""),
        ("HistoryScheduleRole", "sqs:SendMessage", queue, ""),
        ("HistoryRole", "s3:GetObject", snapshots, "/snapshots/x.json.gz"),
        ("HistoryRole", "s3:PutObject", snapshots, "/history/data/x.parquet"),
    ]
    for name, action, resource, suffix in paths:
        assert role_may(kms_template, role[name], action, resource, suffix), (name, action)
        for key_action in ("kms:GenerateDataKey", "kms:Decrypt"):  # what S3 and SQS ask KMS for, as the caller
            assert role_may(kms_template, role[name], key_action, key), (name, key_action)
    assert not role_may(kms_template, role["ExporterRole"], "s3:PutObject", snapshots, "/history/x")
    assert not role_may(kms_template, role["ExporterRole"], "s3:GetObject", snapshots, "/history/x")
    assert not any(role_may(kms_template, r, "kms:Encrypt", key) for r in role.values())
    # A role the key does not serve (CDK's bucket-emptying handler) gets nothing from the account statement alone.
    bystander = next(k for k in ids(kms.template, "AWS::IAM::Role") if k not in role.values())
    assert not role_may(kms_template, bystander, "kms:Decrypt", key)


def test_the_key_policy_admits_log_encryption_and_alarms_of_this_account_only(kms):
    kms_template = kms.json
    policy = [properties(kms, the(kms.template, "AWS::KMS::Key"))["KeyPolicy"]]
    logs = f"logs.{REGION}.amazonaws.com"
    ours = {"kms:EncryptionContext:aws:logs:arn": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x"}
    theirs = {"kms:EncryptionContext:aws:logs:arn": f"arn:{PARTITION}:logs:{REGION}:999999999999:log-group:x"}
    assert allowed(kms_template, policy, Request(logs, "kms:GenerateDataKey", "*", ours))
    assert not allowed(kms_template, policy, Request(logs, "kms:GenerateDataKey", "*", theirs))
    assert not allowed(kms_template, policy, Request("s3.amazonaws.com", "kms:Decrypt", "*", ours))
    # Every alarm still reaches the topic, now through the stack's key.
    stack_checks.test_every_alarm_action_can_be_delivered_by_cloudwatch_through_topic_and_key_policy(kms)


def test_a_users_key_encrypts_everything_and_the_stack_creates_none(user_key):
    user_key.template.resource_count_is("AWS::KMS::Key", 0)
    has_bucket(
        user_key,
        "Snapshots",
        Match.object_like({"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": USER_KEY}}),
    )
    user_key.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": USER_KEY})
    (statement,) = kms_statements(user_key, "ExporterRole")
    assert (sorted(statement["Action"]), statement["Resource"]) == (["kms:Decrypt", "kms:GenerateDataKey"], USER_KEY)


def test_the_default_keeps_aws_owned_keys_and_a_topic_key_of_its_own(synthesized):
    has_bucket(synthesized, "Snapshots", {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}})
    assert not kms_statements(synthesized, "Exporter")
    synthesized.template.resource_count_is("AWS::KMS::Key", 1)  # SNS needs a customer key for CloudWatch to publish
    synthesized.template.has_resource_properties("AWS::KMS::Key", {"Description": Match.string_like_regexp("alarm topic")})


def test_tracing_is_active_by_default_and_off_when_asked(synthesized, user_key):
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **EXPORTER_FUNCTION,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": Match.object_like(
                    {"POWERTOOLS_TRACE_DISABLED": Match.absent(), "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false"}
                )
            },
        },
    )
    user_key.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            **EXPORTER_FUNCTION,
            "TracingConfig": Match.absent(),
            "Environment": {"Variables": Match.object_like({"POWERTOOLS_TRACE_DISABLED": "true"})},
        },
    )
    role = the(user_key.template, "AWS::IAM::Role", prefix="ExporterRole")  # and no X-Ray permission on its role
    xray = Match.object_like({"Action": Match.array_with(["xray:PutTraceSegments"])})
    assert (
        ids(
            user_key.template,
            "AWS::IAM::Policy",
            {"Roles": [{"Ref": role}], "PolicyDocument": {"Statement": Match.array_with([xray])}},
        )
        == []
    )
    assert ids(synthesized.template, "AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([xray])}})


def test_the_runtime_is_the_newest_python_with_a_powertools_layer():
    cdk_pythons = [getattr(lambda_.Runtime, n).name for n in dir(lambda_.Runtime) if n.startswith("PYTHON_3_")]
    supported = {
        c.rsplit(":: ", 1)[1]
        for c in metadata.metadata("aws-lambda-powertools").get_all("Classifier")
        if c.startswith("Programming Language :: Python :: 3.")
    }
    newest = max(
        (r for r in cdk_pythons if r.removeprefix("python") in supported), key=lambda r: tuple(map(int, r[6:].split(".")))
    )
    assert RUNTIME.name == newest
    assert powertools_parameter("3.37.0") == f"/aws/service/powertools/python/arm64/{newest}/3.37.0"


@pytest.mark.parametrize(
    "value, problem",
    [
        ("aes", 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
        ("arn:aws:kms:us-east-1:123:key/x", 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
        (None, 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
    ],
)
def test_a_bad_encryption_setting_is_one_line(tmp_path, value, problem):
    config = json.loads(EXAMPLE.read_text())
    config["deployment"]["encryption"] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert str(error.value).startswith(f"{path}: {problem}")
    config["deployment"]["encryption"], config["deployment"]["tracing"] = "kms", "yes"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"deployment.tracing: must be true or false \(got 'yes'\)"):
        load_settings(path)
