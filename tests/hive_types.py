"""Does a JSON value read as a Hive (Glue) column type? Shared by the Athena-answer and property tests."""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # schema.TIMESTAMP_FORMAT_JAVA


def hive_type(text: str) -> exp.DataType:
    return exp.DataType.build(text, dialect="hive")


def conforms(value: Any, kind: exp.DataType) -> bool:
    """A JSON value the Hive JSON SerDe reads as this column type (null is every type)."""
    t = exp.DataType.Type
    if value is None:
        return True
    if kind.this in (t.VARCHAR, t.TEXT):
        return isinstance(value, str)
    if kind.this == t.TIMESTAMP:
        return isinstance(value, str) and bool(TIMESTAMP.match(value))
    if kind.this == t.INT:
        return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31
    if kind.this == t.DOUBLE:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind.this == t.MAP:
        key, val = kind.expressions
        return isinstance(value, dict) and all(conforms(k, key) and conforms(v, val) for k, v in value.items())
    if kind.this == t.ARRAY:
        return isinstance(value, list) and all(conforms(v, kind.expressions[0]) for v in value)
    if kind.this == t.STRUCT:
        fields = {f.name: f.args["kind"] for f in kind.expressions}
        return isinstance(value, dict) and list(value) == list(fields) and all(conforms(value[k], fields[k]) for k in fields)
    raise AssertionError(f"no check for column type {kind.sql('hive')}")
