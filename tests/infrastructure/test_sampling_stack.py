"""A deployment that samples every 15 s and posts alarms to Slack and Teams: what synth builds for it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from lake_sql.named import QUERIES

from .policies import ACCOUNT, PARTITION, REGION, identity_allows
from .support import (
    EXPORTER_FUNCTION,
    Synthesized,
    assert_alarms_can_publish,
    example,
    ids,
    properties,
    synth,
    synth_example,
    the,
    write_config,
)

CHAT = {
    "slack": {"workspace_id": "T0123ABCDE", "channel_id": "C0123ABCDE"},
    "teams": {
        "team_id": "01234567-89ab-cdef-0123-456789abcdef",
        "channel_id": "19%3a0123456789abcdef%40thread.tacv2",
        "tenant_id": "fedcba98-7654-3210-fedc-ba9876543210",
    },
}
CHATBOT = ("AWS::Chatbot::SlackChannelConfiguration", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration")


@pytest.fixture(scope="module")
def sampling(tmp_path_factory) -> Synthesized:
    return synth_example(tmp_path_factory.mktemp("sampling"), sample_seconds=15, chat=CHAT)


def test_the_function_samples_every_15_s_with_a_timeout_that_leaves_the_last_sample_its_slot(sampling):
    function = the(sampling.template, "AWS::Lambda::Function", EXPORTER_FUNCTION)
    props = properties(sampling, function)
    assert props["Timeout"] == 59  # the last sample's slot (45-60 s) ends where the next run begins
    env = props["Environment"]["Variables"]
    assert env["EXPORTER_SAMPLE_SECONDS"] == "15"
    assert env["EXPORTER_DEADLINE_RESERVE_SECONDS"] == "3"


def test_slot_alarms_evaluate_30_s_periods_and_the_rest_stay_at_a_minute(sampling):
    slot_alarms = ids(sampling.template, "AWS::CloudWatch::Alarm", {"MetricName": "AvailableSlots"})
    assert len(slot_alarms) == 2
    for alarm in slot_alarms:
        props = properties(sampling, alarm)
        assert (props["Period"], props["Statistic"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (
            30,
            "Minimum",
            5,
            3,
        )
    for alarm in ids(sampling.template, "AWS::CloudWatch::Alarm", {"MetricName": "FilterFailed"}):
        assert properties(sampling, alarm)["Period"] == 60  # standard-resolution health: a 30 s period would read gaps


@pytest.mark.parametrize(("sample_seconds", "period"), [(10, 10), (20, 30), (30, 30), (60, 60)])
def test_each_sampling_rate_gets_the_shortest_high_resolution_period_that_holds_a_sample(tmp_path, sample_seconds, period):
    synthesized = synth_example(tmp_path, sample_seconds=sample_seconds)
    for alarm in ids(synthesized.template, "AWS::CloudWatch::Alarm", {"MetricName": "AvailableSlots"}):
        assert properties(synthesized, alarm)["Period"] == period
    env = properties(synthesized, the(synthesized.template, "AWS::Lambda::Function", EXPORTER_FUNCTION))["Environment"]
    assert env["Variables"]["EXPORTER_SAMPLE_SECONDS"] == str(sample_seconds)


def test_history_and_named_queries_weigh_a_snapshot_without_a_period_by_the_deployed_rate(sampling):
    """Each row's own `period_seconds` first; the deployed 15 s for a row without one (the CLI, older versions)."""
    machine = json.dumps(properties(sampling, the(sampling.template, "AWS::StepFunctions::StateMachine")))
    assert "* coalesce(period_seconds, 15) * 1e0) AS voice_active_slot_seconds" in machine  # activity's slot-seconds
    assert "coalesce(period_seconds, 60)" not in machine
    minutes = [q.name for q in QUERIES if "{sample_seconds}" in q.sql]
    assert minutes, "no named query weighs snapshots"
    for name in minutes:
        query = properties(sampling, the(sampling.template, "AWS::Athena::NamedQuery", {"Name": name}))["QueryString"]
        assert "period_seconds, 15)" in query and "period_seconds, 60)" not in query, name


def test_slack_and_teams_channels_get_the_alarm_topic_a_read_only_role_and_guardrail(sampling):
    template, topic = sampling.template, the(sampling.template, "AWS::SNS::Topic")
    role, guardrail = the(template, "AWS::IAM::Role", prefix="Chat"), the(template, "AWS::IAM::ManagedPolicy", prefix="Chat")
    for kind in CHATBOT:
        config = properties(sampling, the(template, kind))
        assert config["SnsTopicArns"] == [{"Ref": topic}]
        assert config["IamRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        # Unset, the guardrail is AdministratorAccess: here it is the stack's read-only policy, and only that.
        assert config["GuardrailPolicies"] == [{"Ref": guardrail}]
        assert config["UserRoleRequired"] is False
    slack = properties(sampling, the(template, CHATBOT[0]))
    assert (slack["SlackWorkspaceId"], slack["SlackChannelId"]) == ("T0123ABCDE", "C0123ABCDE")
    teams = properties(sampling, the(template, CHATBOT[1]))
    assert (teams["TeamId"], teams["TeamsTenantId"]) == (CHAT["teams"]["team_id"], CHAT["teams"]["tenant_id"])
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "chatbot.amazonaws.com"}})]}
            )
        },
    )


def _allows(synthesized: Synthesized, document: dict[str, Any], action: str) -> bool:
    alarm = f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:x"
    return identity_allows(synthesized.json, [document], action, alarm)


def test_nothing_in_a_channel_can_do_more_than_read_cloudwatch(sampling):
    template = sampling.template
    guardrail = properties(sampling, the(template, "AWS::IAM::ManagedPolicy", prefix="Chat"))["PolicyDocument"]
    role = the(template, "AWS::IAM::Role", prefix="Chat")
    (inline,) = (
        properties(sampling, p)["PolicyDocument"]
        for p in ids(template, "AWS::IAM::Policy")
        if properties(sampling, p)["Roles"] == [{"Ref": role}]
    )
    for document in (guardrail, inline):
        assert _allows(sampling, document, "cloudwatch:DescribeAlarms")
        assert _allows(sampling, document, "cloudwatch:GetMetricData")
        for action in (
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "sns:Publish",
            "lambda:InvokeFunction",
            "iam:PassRole",
        ):
            assert not _allows(sampling, document, action), action


def test_alarms_still_publish_through_topic_and_key_policy_with_chat_and_high_resolution(sampling):
    assert_alarms_can_publish(sampling)


def test_no_chat_configured_builds_no_chat(synthesized):
    for kind in CHATBOT:
        synthesized.template.resource_count_is(kind, 0)
    assert not ids(synthesized.template, "AWS::IAM::Role", prefix="Chat")


def test_a_sampling_rate_that_cannot_fit_fails_synth_in_one_line(tmp_path):
    def many_filters(config: dict) -> None:
        config["instances"][0]["filters"] += [{"name": f"q{i}", "queues": [f"queue-{i}"]} for i in range(20)]

    path = write_config(tmp_path, example(many_filters, sample_seconds=10))
    with pytest.raises(Exception, match=r"deployment\.sample_seconds: 10 s sampling does not fit: each sample needs at least 25"):
        synth(tmp_path, path)
