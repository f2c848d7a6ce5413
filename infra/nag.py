"""cdk-nag v3 acknowledgments: each one names its finding and says why it is accepted."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import Construct, IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def logical_id(construct: Construct) -> str:
    """The logical id cdk-nag names a resource by in a finding (`<Id.Arn>`)."""
    return Stack.of(construct).get_logical_id(construct.node.default_child)  # type: ignore[arg-type]
