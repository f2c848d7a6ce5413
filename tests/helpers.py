"""Whole-list conveniences over the exporter's streaming pieces, for tests that have all records at hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connect_exporter.metrics import FilterSummary, Summarizer
from connect_exporter.sinks import GzipLines


def summarize(records: Iterable[Mapping[str, Any]]) -> FilterSummary:
    summarizer = Summarizer()
    for record in records:
        summarizer.add(record)
    return summarizer.result()


def encode_records(records: Iterable[Mapping[str, Any]]) -> bytes:
    lines = GzipLines()
    for record in records:
        lines.write(record)
    return lines.finish().read()
