"""Answers to the security scanners, where each resource is defined: cdk-nag v3 acknowledgments and
checkov skips, each naming its finding and saying why it is accepted."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def skip_checkov(construct: IConstruct, check: str, reason: str) -> None:
    """A checkov skip in the resource's template metadata (`checkov.skip[]`), with its reason as the comment."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(resource, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    skips = list((resource.get_metadata("checkov") or {}).get("skip", []))
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check, "comment": reason}]})


def logical_id(construct: IConstruct) -> str:
    """The logical id cdk-nag names a resource by in a finding (`<Id.Arn>`)."""
    return Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
