"""Resource policies from a synthesized template, evaluated the way AWS evaluates them for one request.

Enough of IAM's logic to answer "may this service principal do this action here": CloudFormation
intrinsics resolved against a fixed account and Region, an explicit Deny wins over any Allow, and no
Allow means denied. A condition operator it does not know fails loudly instead of guessing.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

ACCOUNT, REGION, PARTITION = "111122223333", "us-east-1", "aws"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com"}


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

    service: str  # the calling service principal, e.g. cloudwatch.amazonaws.com
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))):
        return True
    return isinstance(principal, dict) and request.service in _as_list(principal.get("Service", []))


def _like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


OPERATORS = {
    "StringEquals": lambda want, got: got == want,
    "StringLike": _like,
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": _like,
    "Bool": lambda want, got: str(got).lower() == str(want).lower(),
}


def _conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator not in OPERATORS:
            raise ValueError(f"condition operator {operator} is not evaluated here: extend OPERATORS")
        for key, wanted in tests.items():
            got = context.get(key)
            if got is None or not any(OPERATORS[operator](w, got) for w in _as_list(wanted)):
                return False
    return True


def _applies(statement: dict, request: Request) -> bool:
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    return (
        _principal_matches(statement.get("Principal"), request)
        and any(_like(a.lower(), request.action.lower()) for a in actions)
        and any(_like(r, request.resource) for r in resources)
        and _conditions_hold(statement.get("Condition", {}), request.context)
    )


def allowed(template: dict, documents: list[dict], request: Request) -> bool:
    """True when some statement allows the request and none denies it."""
    statements = [s for doc in documents for s in resolve(template, doc)["Statement"]]
    if any(s["Effect"] == "Deny" and _applies(s, request) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _applies(s, request) for s in statements)
