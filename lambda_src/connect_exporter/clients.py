"""boto3 clients, created the default way so AWS_ENDPOINT_URL_CONNECT / AWS_ENDPOINT_URL_S3 can point them at fakes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.parsers import ResponseParserFactory, RestJSONParser

from .config import OPERATIONS

# The exporter paces and retries Connect calls itself (to count throttles and keep to the quota).
CONNECT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=15)
S3_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=30)


def keep_timestamp(value: Any) -> Any:
    """The timestamp as Connect sent it (epoch seconds): records format it directly (`schema.iso_utc`)."""
    return value


# The operations the exporter calls answer plain JSON in the API's own shape, no member bound to a header.
PLAIN_JSON_SHAPES = frozenset(f"{operation}Response" for operation in OPERATIONS)


class _PlainJsonParser(RestJSONParser):
    """The exporter's operations answer plain JSON already in the API's shape: `json.loads` gives what
    botocore's walk of the model would, at a fraction of the CPU (that walk was over half the exporter's).
    Like botocore, a body that is not JSON parses as empty (the pager then reports it malformed). Errors
    and any other operation take botocore's own path."""

    def _do_parse(self, response: dict[str, Any], shape: Any) -> dict[str, Any]:
        if shape is None or shape.name not in PLAIN_JSON_SHAPES:
            return super()._do_parse(response, shape)
        try:
            parsed = json.loads(response["body"] or b"{}")
        except ValueError:
            parsed = {}
        return parsed if isinstance(parsed, dict) else {}


class _ParserFactory(ResponseParserFactory):
    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "rest-json":
            return _PlainJsonParser(**self._defaults)
        return super().create_parser(protocol_name)


def connect_client() -> Any:
    """A session of its own (S3 is untouched) whose parser keeps timestamps as sent and reads GetCurrentUserData
    as plain JSON: records only turn timestamps back into text, so zone-aware datetimes were wasted work."""
    session = botocore.session.get_session()
    factory = _ParserFactory()
    factory.set_parser_defaults(timestamp_parser=keep_timestamp)
    session.register_component("response_parser_factory", factory)
    return boto3.Session(botocore_session=session).client("connect", config=CONNECT_CONFIG)


def s3_client() -> Any:
    return boto3.client("s3", config=S3_CONFIG)
