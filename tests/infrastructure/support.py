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
