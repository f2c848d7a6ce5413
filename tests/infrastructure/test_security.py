"""deployment.encryption and deployment.tracing, as the synthesized templates say; the scanners themselves
run in `make lint` (cdk-nag also fails every synth here on an unanswered finding)."""

from __future__ import annotations

import json
from importlib import metadata

import aws_cdk.aws_lambda as lambda_
import pytest
from connect_exporter.config import ConfigError
from connect_exporter.tools.deployment import load_settings
from infra.exporter import RUNTIME, powertools_parameter

from . import test_stack as stack_checks
from .conftest import EXAMPLE, synth
from .policies import ACCOUNT, PARTITION, REGION, Request, allowed, role_may

USER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def template_for(tmp_path_factory, name: str, **deployment) -> dict:
    config = json.loads(EXAMPLE.read_text())
    config["deployment"].update(deployment)
    folder = tmp_path_factory.mktemp(name)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    stack, assembly = synth(folder, path)  # cdk-nag AwsSolutions and Serverless: raises on any unanswered finding
    return json.loads((folder / "cdk.out" / assembly.get_stack_by_name(stack.stack_name).template_file).read_text())


@pytest.fixture(scope="module")
def kms_template(tmp_path_factory) -> dict:
    return template_for(tmp_path_factory, "kms", encryption="kms")


@pytest.fixture(scope="module")
def user_key_template(tmp_path_factory) -> dict:
    return template_for(tmp_path_factory, "user-key", encryption=USER_KEY, tracing=False)


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def bucket(template: dict, name: str) -> dict:
    (props,) = [v["Properties"] for k, v in of_type(template, "AWS::S3::Bucket").items() if k.startswith(f"Storage{name}")]
    return props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]


def kms_statements(template: dict, role_prefix: str) -> list[dict]:
    """Every statement naming a kms: action in the policies attached to roles whose logical id starts so."""
    found = []
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if any(r["Ref"].startswith(role_prefix) for r in policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a.startswith("kms:") for a in actions):
                    found.append({**statement, "Action": actions})
    return found


def test_with_kms_every_store_but_the_access_logs_uses_the_stacks_one_rotating_key(kms_template):
    ((key_id, key),) = of_type(kms_template, "AWS::KMS::Key").items()  # one key: the topic shares it
    assert key["Properties"]["EnableKeyRotation"] is True
    the_key = {"Fn::GetAtt": [key_id, "Arn"]}
    for name in ("Snapshots", "AthenaResults"):
        assert bucket(kms_template, name) == {
            "BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": the_key}}
    # S3 server access logging cannot deliver into an SSE-KMS bucket.
    assert bucket(kms_template, "AccessLogs") == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    log_groups = of_type(kms_template, "AWS::Logs::LogGroup").values()
    assert len(log_groups) == 2 and all(g["Properties"]["KmsKeyId"] == the_key for g in log_groups)
    ((_, queue),) = of_type(kms_template, "AWS::SQS::Queue").items()
    ((_, topic),) = of_type(kms_template, "AWS::SNS::Topic").items()
    assert queue["Properties"]["KmsMasterKeyId"] == the_key and topic["Properties"]["KmsMasterKeyId"] == the_key
    ((_, workgroup),) = of_type(kms_template, "AWS::Athena::WorkGroup").items()
    results = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["EncryptionConfiguration"]
    assert results == {"EncryptionOption": "SSE_KMS", "KmsKey": the_key}


def test_with_kms_each_role_holds_exactly_the_key_actions_it_needs(kms_template):
    ((key_id, _),) = of_type(kms_template, "AWS::KMS::Key").items()
    for role in ("ExporterRole", "ExporterScheduleRole", "HistoryRole", "HistoryScheduleRole"):
        (statement,) = kms_statements(kms_template, role)
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"], role
        assert statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}, role
    # No role may encrypt or re-encrypt arbitrary data with it, nor manage it.
    every = [a for s in kms_statements(kms_template, "") for a in s["Action"]]
    assert set(every) == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_with_kms_every_write_and_read_path_is_allowed_by_role_resource_and_key_policy_together(kms_template):
    """Walked as AWS evaluates it after deploy: the role's own policy, the bucket's or queue's policy (TLS
    only) and the key policy (which trusts IAM by its account statement) must all agree."""
    def one(prefix: str, kind: str) -> str:
        (found,) = [k for k, v in kms_template["Resources"].items() if k.startswith(prefix) and v["Type"] == kind]
        return found

    key, queue = one("EncryptionKey", "AWS::KMS::Key"), one("ExporterFailedRuns", "AWS::SQS::Queue")
    snapshots, function = one("StorageSnapshots", "AWS::S3::Bucket"), one("ExporterFunction", "AWS::Lambda::Function")
    machine = one("HistoryStateMachine", "AWS::StepFunctions::StateMachine")
    role = {name: one(name, "AWS::IAM::Role") for name in ("ExporterRole", "ExporterScheduleRole", "HistoryRole", "HistoryScheduleRole")}
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
    bystander = next(k for k, v in kms_template["Resources"].items() if v["Type"] == "AWS::IAM::Role" and k not in role.values())
    assert not role_may(kms_template, bystander, "kms:Decrypt", key)


def test_the_key_policy_admits_log_encryption_and_alarms_of_this_account_only(kms_template):
    ((_, key),) = of_type(kms_template, "AWS::KMS::Key").items()
    policy = [key["Properties"]["KeyPolicy"]]
    logs = f"logs.{REGION}.amazonaws.com"
    ours = {"kms:EncryptionContext:aws:logs:arn": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/x"}
    theirs = {"kms:EncryptionContext:aws:logs:arn": f"arn:{PARTITION}:logs:{REGION}:999999999999:log-group:x"}
    assert allowed(kms_template, policy, Request(logs, "kms:GenerateDataKey", "*", ours))
    assert not allowed(kms_template, policy, Request(logs, "kms:GenerateDataKey", "*", theirs))
    assert not allowed(kms_template, policy, Request("s3.amazonaws.com", "kms:Decrypt", "*", ours))
    # Every alarm still reaches the topic, now through the stack's key.
    stack_checks.test_every_alarm_action_can_be_delivered_by_cloudwatch_through_topic_and_key_policy((kms_template, None))


def test_a_users_key_encrypts_everything_and_the_stack_creates_none(user_key_template):
    assert not of_type(user_key_template, "AWS::KMS::Key")
    assert bucket(user_key_template, "Snapshots")["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": USER_KEY}
    ((_, topic),) = of_type(user_key_template, "AWS::SNS::Topic").items()
    assert topic["Properties"]["KmsMasterKeyId"] == USER_KEY
    (statement,) = kms_statements(user_key_template, "ExporterRole")
    assert (sorted(statement["Action"]), statement["Resource"]) == (["kms:Decrypt", "kms:GenerateDataKey"], USER_KEY)


def test_the_default_keeps_aws_owned_keys_and_a_topic_key_of_its_own(synthesized):
    template, _ = synthesized
    assert bucket(template, "Snapshots") == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert not kms_statements(template, "Exporter")
    (key,) = of_type(template, "AWS::KMS::Key").values()  # SNS needs a customer key for CloudWatch to publish
    assert "alarm topic" in key["Properties"]["Description"]


def test_tracing_is_active_by_default_and_off_when_asked(synthesized, user_key_template):
    template, _ = synthesized
    functions = {
        name: next(f["Properties"] for f in of_type(t, "AWS::Lambda::Function").values()
                   if f["Properties"].get("Handler") == "connect_exporter.handler.lambda_handler")
        for name, t in (("default", template), ("off", user_key_template))
    }
    assert functions["default"]["TracingConfig"] == {"Mode": "Active"}
    assert "POWERTOOLS_TRACE_DISABLED" not in functions["default"]["Environment"]["Variables"]
    assert functions["default"]["Environment"]["Variables"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert "TracingConfig" not in functions["off"]  # and no X-Ray permission on the role
    assert functions["off"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"
    xray = [a for p in of_type(user_key_template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) if a.startswith("xray:")
            and any(r["Ref"].startswith("ExporterRole") for r in p["Properties"]["Roles"])]
    assert xray == []


def test_the_runtime_is_the_newest_python_with_a_powertools_layer():
    cdk_pythons = [getattr(lambda_.Runtime, n).name for n in dir(lambda_.Runtime) if n.startswith("PYTHON_3_")]
    supported = {c.rsplit(":: ", 1)[1] for c in metadata.metadata("aws-lambda-powertools").get_all("Classifier")
                 if c.startswith("Programming Language :: Python :: 3.")}
    newest = max((r for r in cdk_pythons if r.removeprefix("python") in supported), key=lambda r: tuple(map(int, r[6:].split("."))))
    assert RUNTIME.name == newest
    assert powertools_parameter("3.37.0") == f"/aws/service/powertools/python/arm64/{newest}/3.37.0"


@pytest.mark.parametrize("value, problem", [
    ("aes", 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
    ("arn:aws:kms:us-east-1:123:key/x", 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
    (None, 'deployment.encryption: must be "s3-managed", "kms" or a KMS key ARN'),
])
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
