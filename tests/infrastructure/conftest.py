"""One synthesized app per test module: jsii start-up is paid once."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest

from app import build_app

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "example.json"


def synth(tmp_dir: Path, config: Path = EXAMPLE):
    # Asset metadata (the CLI turns it on) lets a test find the Lambda code and config layer folders.
    app = cdk.App(outdir=str(tmp_dir / "cdk.out"), context={"config": str(config), "aws:cdk:enable-asset-metadata": True})
    stack = build_app(app)
    assembly = app.synth()  # runs cdk-nag: raises on any unacknowledged finding
    return stack, assembly


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    stack, assembly = synth(out)
    artifact = assembly.get_stack_by_name(stack.stack_name)
    template = json.loads(Path(assembly.directory, artifact.template_file).read_text())
    return template, Path(assembly.directory)
