"""boto3 clients, created the default way so AWS_ENDPOINT_URL_CONNECT / AWS_ENDPOINT_URL_S3 can point them at fakes."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# The exporter paces and retries Connect calls itself (to count throttles and keep to the quota).
CONNECT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=15)
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=30)


def connect_client() -> Any:
    return boto3.client("connect", config=CONNECT_CONFIG)


def s3_client() -> Any:
    return boto3.client("s3", config=S3_CONFIG)
