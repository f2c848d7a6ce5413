"""Policies from a synthesized template, evaluated the way AWS evaluates them for one request.

Enough of IAM's logic to answer "may this service principal do this action here" (resource policies)
and "may this role of the stack" (its identity policies with the resource's policy: same account, so
either may allow, except a KMS key, whose policy must allow too, if only by delegating to the account's
IAM): CloudFormation intrinsics resolved against a fixed account and Region, an explicit Deny wins over
any Allow, and no Allow means denied. A condition operator it does not know fails loudly instead of guessing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

ACCOUNT, REGION, PARTITION, STACK = "111122223333", "us-east-1", "aws", "ConnectUserDataExporter"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK,
    "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/6f1c2e60-cf1a-11f0-9b4e-0a1b2c3d4e5f",
}


def arn_of(template: dict, logical_id: str) -> str:
    """A stand-in ARN for a resource: what its Ref or Fn::GetAtt Arn resolves to."""
    kind = template["Resources"][logical_id]["Type"]
    service = kind.split("::")[1].lower()
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{logical_id}"


def resolve(template: dict, value: Any) -> Any:
    """Resolve Ref, Fn::GetAtt (Arn) and Fn::Join in a policy value."""
    if isinstance(value, list):
        return [resolve(template, v) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return PSEUDO.get(value["Ref"]) or arn_of(template, value["Ref"])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute != "Arn":
            raise ValueError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        return arn_of(template, logical_id)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(str(resolve(template, p)) for p in parts)
    return {k: resolve(template, v) for k, v in value.items()}


@dataclass(frozen=True)
class Request:
    """One call as the policy sees it: who, what, on what, and the request context."""

    service: str  # the calling service principal, e.g. cloudwatch.amazonaws.com ("" for a role)
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)
    principal: str = ""  # the calling IAM principal's ARN (a role of the stack), when not a service


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))):
        return True
    if not isinstance(principal, dict):
        return False
    if request.principal:  # the account's root stands for every IAM principal of the account
        account_root = f"arn:{PARTITION}:iam::{request.principal.split(':')[4]}:root"
        return any(p in (request.principal, account_root) for p in _as_list(principal.get("AWS", [])))
    return request.service in _as_list(principal.get("Service", []))


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


OPERATORS = {
    "StringEquals": lambda want, got: got == want,
    "StringLike": _like,
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": _like,
    "Bool": lambda want, got: str(got).lower() == str(want).lower(),
}


# The S3 condition keys a request of each S3 action carries (Service Authorization Reference, "Actions defined
# by Amazon S3"): s3:prefix, s3:delimiter and s3:max-keys come with ListBucket only, so a statement that puts
# GetBucketLocation under an s3:prefix condition never matches it. An S3 action not named here carries no s3:
# key; global keys (aws:*) and other services' keys are left as the request has them.
ACTION_KEYS: dict[str, frozenset[str]] = {
    "s3:listbucket": frozenset({"s3:prefix", "s3:delimiter", "s3:max-keys"}),
    "s3:listbucketversions": frozenset({"s3:prefix", "s3:delimiter", "s3:max-keys"}),
}


def carried(action: str, context: dict[str, str]) -> dict[str, str]:
    """The request context as AWS builds it for `action`: s3: keys an S3 action does not carry are absent."""
    if not action.lower().startswith("s3:"):
        return context
    keys = ACTION_KEYS.get(action.lower(), frozenset())
    return {k: v for k, v in context.items() if not k.startswith("s3:") or k in keys}


def _conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here: extend OPERATORS")
        for key, wanted in tests.items():
            got = context.get(key)
            if got is None or not any(OPERATORS[operator](w, got) for w in _as_list(wanted)):
                return False
    return True


def _applies(statement: dict, request: Request, identity: bool = False) -> bool:
    """Whether `statement` speaks of `request`; an identity policy's statements name no principal."""
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    return (
        (identity or _principal_matches(statement.get("Principal"), request))
        and any(_like(a.lower(), request.action.lower()) for a in actions)
        and any(_like(r, request.resource) for r in resources)
        and _conditions_hold(statement.get("Condition", {}), carried(request.action, request.context))
    )


def allowed(template: dict, documents: list[dict], request: Request) -> bool:
    """True when some statement allows the request and none denies it."""
    statements = [s for doc in documents for s in resolve(template, doc)["Statement"]]
    if any(s["Effect"] == "Deny" and _applies(s, request) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, request) for s in statements)


def identity_allows(template: dict, documents: list[dict], action: str, resource: str) -> bool:
    """Whether identity policies (statements with no principal, e.g. a managed policy or a guardrail) allow `action`
    on `resource` over TLS."""
    request = Request("", action, resource, {"aws:SecureTransport": "true"})
    statements = [s for doc in documents for s in resolve(template, doc)["Statement"]]
    if any(s["Effect"] == "Deny" and _applies(s, request, identity=True) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, request, identity=True) for s in statements)


def resource_policies(template: dict, logical_id: str) -> list[dict]:
    """The policy documents a resource carries: a key's key policy, or the bucket, queue or topic policies naming it."""
    resource = template["Resources"][logical_id]
    if resource["Type"] == "AWS::KMS::Key":
        return [resource["Properties"]["KeyPolicy"]]
    kinds = {
        "AWS::S3::Bucket": ("AWS::S3::BucketPolicy", "Bucket"),
        "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues"),
        "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics"),
    }
    if resource["Type"] not in kinds:
        return []
    kind, key = kinds[resource["Type"]]
    return [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == kind and {"Ref": logical_id} in _as_list(r["Properties"][key])
    ]


def role_may(
    template: dict, role_id: str, action: str, resource_id: str, suffix: str = "", context: dict[str, str] | None = None
) -> bool:
    """Whether the stack's role `role_id` may do `action` on resource `resource_id` (plus `suffix`, e.g. an
    object key; or a whole ARN for `resource_id` that is not the template's) over TLS, after deploy: its
    identity policies, and the resource's own policy. `context` adds request keys (e.g. s3:prefix); only
    those the action carries are seen."""
    resource = (arn_of(template, resource_id) if resource_id in template["Resources"] else resource_id) + suffix
    request = Request(
        "", action, resource, {"aws:SecureTransport": "true", **(context or {})}, principal=arn_of(template, role_id)
    )
    documents = [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    documents += [p["PolicyDocument"] for p in template["Resources"][role_id]["Properties"].get("Policies", [])]
    identity = [s for doc in documents for s in resolve(template, doc)["Statement"]]
    mine = resource_id in template["Resources"]
    on_resource = (
        [s for doc in resource_policies(template, resource_id) for s in resolve(template, doc)["Statement"]] if mine else []
    )
    if any(s["Effect"] == "Deny" and _applies(s, request, identity=True) for s in identity) or any(
        s["Effect"] == "Deny" and _applies(s, request) for s in on_resource
    ):
        return False
    by_identity = any(s["Effect"] == "Allow" and _applies(s, request, identity=True) for s in identity)
    by_resource = any(s["Effect"] == "Allow" and _applies(s, request) for s in on_resource)
    if mine and template["Resources"][resource_id]["Type"] == "AWS::KMS::Key":
        return by_identity and by_resource  # a key trusts IAM only where its policy says so
    return by_identity or by_resource
