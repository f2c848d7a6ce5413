#!/usr/bin/env python3
"""`cdk synth -c config=path/to/config.json`: the exporter's deployment from its own config file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# jsii warns on every start under Node 20 (end of life); the README says so once, use Node 22/24 where you can.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "lambda_src"), str(ROOT)]

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks  # noqa: E402

from connect_exporter.config import ConfigError  # noqa: E402
from connect_exporter.tools.deployment import load_settings  # noqa: E402
from infra.stack import DEFAULT_STACK_NAME, ExporterStack  # noqa: E402

DEFAULT_CONFIG = "config/example.json"


FEATURE_FLAGS = {
    # Access logs delivered under a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(app: cdk.App) -> ExporterStack:
    """Validate the config named by context `config` and add the stack, checked by cdk-nag."""
    for flag, value in FEATURE_FLAGS.items():
        app.node.set_context(flag, value)
    config = app.node.try_get_context("config") or DEFAULT_CONFIG
    # The CDK CLI sets these from the profile (an env-agnostic synth has neither): the config's ARNs must be there.
    settings = load_settings(config, region=os.environ.get("CDK_DEFAULT_REGION"), account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    name = app.node.try_get_context("stack_name") or DEFAULT_STACK_NAME
    stack = ExporterStack(app, name, settings=settings)
    # Every finding fails synth unless acknowledged, with its reason, where the resource is defined.
    packs = [AwsSolutionsChecks(app), ServerlessChecks(app)]
    if str(app.node.try_get_context("nist")).lower() == "true":  # -c nist=true: NIST 800-53 rev 5, opt-in
        packs.append(NIST80053R5Checks(app))
    cdk.Validations.of(app).add_plugins(*packs)
    return stack


def main() -> int:
    app = cdk.App()
    try:
        build_app(app)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
