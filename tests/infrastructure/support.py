"""What the infrastructure tests share: the app synthesized from a config, and its template read through
`aws_cdk.assertions` (the policy and state-machine evaluators read `Synthesized.json`, the same template)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from app import build_app

from .policies import ACCOUNT, PARTITION, REGION, Request, allowed, arn_of

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "example.json"
# The exporter function (the stack's other functions are CDK's bucket-emptying custom resource).
EXPORTER_FUNCTION = {"Handler": "connect_exporter.handler.lambda_handler"}


@dataclass(frozen=True)
class Synthesized:
    template: Template  # what the assertions read
    json: dict[str, Any]  # the same template, for the evaluators (policies.py, statemachine.py)
    outdir: Path  # the cloud assembly: assets, template file


def synth(folder: Path, config: Path = EXAMPLE) -> Synthesized:
    """The app as `cdk synth` builds it, cdk-nag included (it raises on any unanswered finding)."""
    # Asset metadata (the CLI turns it on) lets a test find the Lambda code and config layer folders.
    app = cdk.App(outdir=str(folder / "cdk.out"), context={"config": str(config), "aws:cdk:enable-asset-metadata": True})
    stack = build_app(app)
    assembly = app.synth()
    document = json.loads(Path(assembly.directory, assembly.get_stack_by_name(stack.stack_name).template_file).read_text())
    return Synthesized(Template.from_json(document), document, Path(assembly.directory))


def example(change: Callable[[dict[str, Any]], None] | None = None, **deployment: Any) -> dict[str, Any]:
    """The example config, its `deployment` updated and then `change` applied."""
    config = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    config["deployment"].update(deployment)
    if change:
        change(config)
    return config


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


def synth_example(folder: Path, change: Callable[[dict[str, Any]], None] | None = None, **deployment: Any) -> Synthesized:
    return synth(folder, write_config(folder, example(change, **deployment)))


def ids(template: Template, kind: str, props: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Logical ids of the resources of `kind` whose properties match `props` (objectLike), id starting so."""
    found = template.find_resources(kind, {"Properties": Match.object_like(props)} if props else None)
    return sorted(k for k in found if k.startswith(prefix))


def the(template: Template, kind: str, props: dict[str, Any] | None = None, prefix: str = "") -> str:
    """The logical id of the one resource `ids` finds."""
    (found,) = ids(template, kind, props, prefix)
    return found


def properties(synthesized: Synthesized, logical_id: str) -> dict[str, Any]:
    return synthesized.json["Resources"][logical_id].get("Properties", {})


def event_matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching of an event pattern as the stack uses it: every field the pattern names must be in
    the event; a list matches when the event's value (or one of its values) equals one of its items; an object
    matches field by field. Content filters (objects inside a list) are refused, not guessed."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(k in event and event_matches(v, event[k]) for k, v in pattern.items())
    assert isinstance(pattern, list) and not any(isinstance(p, dict) for p in pattern), f"unsupported pattern {pattern}"
    values = event if isinstance(event, list) else [event]
    return any(v in pattern for v in values)


def cloudwatch_alarm_requests(template: dict, alarm_id: str, action: str, resource: str) -> Request:
    """What CloudWatch sends when alarm `alarm_id` acts: its service principal, on behalf of the alarm."""
    return Request(
        service="cloudwatch.amazonaws.com",
        action=action,
        resource=resource,
        context={
            "aws:SourceAccount": ACCOUNT,
            "aws:SecureTransport": "true",
            "aws:SourceArn": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_id}",
        },
    )


def publish_policies(synthesized: Synthesized, topic_id: str) -> tuple[list[dict], list[dict]]:
    """The topic's resource policies and, if it is encrypted, its key's policy."""
    policies = ids(synthesized.template, "AWS::SNS::TopicPolicy", {"Topics": Match.array_with([{"Ref": topic_id}])})
    topic_policies = [properties(synthesized, p)["PolicyDocument"] for p in policies]
    key = properties(synthesized, topic_id).get("KmsMasterKeyId")
    key_policies = [properties(synthesized, key["Fn::GetAtt"][0])["KeyPolicy"]] if key else []
    return topic_policies, key_policies


def assert_alarms_can_publish(synthesized: Synthesized) -> None:
    """Every alarm action, evaluated as SNS and KMS would: CloudWatch may publish to its topic and use its key."""
    template = synthesized.json
    checked = 0
    alarms = ids(synthesized.template, "AWS::CloudWatch::Alarm")
    for alarm_id in alarms:
        alarm = properties(synthesized, alarm_id)
        targets = alarm["AlarmActions"] + alarm["OKActions"]
        assert targets, alarm_id
        for target in targets:
            topic_id = target["Ref"]
            assert topic_id in ids(synthesized.template, "AWS::SNS::Topic")
            topic_policies, key_policies = publish_policies(synthesized, topic_id)
            # A topic policy replaces SNS's default one: without it nothing but same-account IAM could publish.
            assert topic_policies, f"{topic_id} has no topic policy"
            publish = cloudwatch_alarm_requests(template, alarm_id, "SNS:Publish", arn_of(template, topic_id))
            assert allowed(template, topic_policies, publish), f"{alarm_id} cannot publish to {topic_id}"
            for action in ("kms:GenerateDataKey", "kms:Decrypt"):
                use_key = cloudwatch_alarm_requests(template, alarm_id, action, "*")
                assert allowed(template, key_policies, use_key), f"{alarm_id}: {action} on the key of {topic_id}"
            checked += 1
    assert checked >= 2 * len(alarms) > 0
