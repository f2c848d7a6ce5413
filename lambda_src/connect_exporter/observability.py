"""The one place that sets up logging and prints EMF metric documents."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE = "connect-user-data-exporter"

# Logs go to stderr so that stdout carries only EMF documents (Lambda sends both to CloudWatch Logs).
logger = Logger(service=SERVICE, stream=sys.stderr)

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class HumanFormatter(LambdaPowertoolsFormatter):
    """`LEVEL message key=value ...` for people at a terminal (the CLI); Lambda keeps Powertools' JSON. A
    Powertools formatter underneath: the Logger calls its formatter's `append_keys` (`inject_lambda_context`
    does, on every invocation), which a plain `logging.Formatter` lacks."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD_ATTRS and value is not None
        )
        return f"{record.levelname:<7} {record.getMessage()}" + (f"  {extras}" if extras else "")


def use_human_logs() -> None:
    handler = logger.registered_handler
    handler.setFormatter(HumanFormatter())


def emit_emf(documents: Iterable[dict[str, Any]], stream: IO[str] | None = None) -> int:
    """Print each EMF document as one line, as CloudWatch Logs expects; returns bytes written."""
    out = stream or sys.stdout
    written = 0
    for document in documents:
        line = json.dumps(document, separators=(",", ":")) + "\n"
        out.write(line)
        written += len(line)
    out.flush()
    return written
