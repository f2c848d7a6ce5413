"""What a deployment costs a month, from one snapshot's measured figures: one model for `connect-exporter
plan` and the benchmark (`docs/benchmarks.md`), so what a user is told matches what was measured.

Prices are us-east-1 list prices; `load_prices` takes a user's own (another Region, a discount).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError

HOURS_PER_MONTH = 730  # AWS's billing month
DAYS_PER_MONTH = HOURS_PER_MONTH / 24

# USD, us-east-1 list prices (AWS pricing pages for Lambda, S3, CloudWatch, Athena, KMS; 2026).
PRICES: dict[str, float] = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_requests_per_million": 0.20,
    "s3_put_per_1000": 0.005,
    "s3_storage_gb_month": 0.023,
    "custom_metric_month": 0.30,  # first 10,000 metrics
    "alarm_month": 0.10,  # standard resolution
    "alarm_high_resolution_month": 0.30,  # a 10- or 30-second period
    "dashboard_month": 3.00,
    "kms_key_month": 1.00,
    "logs_ingestion_gb": 0.50,
    "athena_tb_scanned": 5.00,
}
PRICE_NOTES: dict[str, str] = {
    "lambda_gb_second_arm64": "Lambda duration, arm64, per GB-second",
    "lambda_requests_per_million": "Lambda requests, per million",
    "s3_put_per_1000": "S3 Standard PUT, per 1,000 requests",
    "s3_storage_gb_month": "S3 Standard storage, per GB-month",
    "custom_metric_month": "CloudWatch custom metric, per metric-month (first 10,000)",
    "alarm_month": "CloudWatch alarm (standard resolution), per month",
    "alarm_high_resolution_month": "CloudWatch alarm (high resolution: 10 or 30 s period), per month",
    "dashboard_month": "CloudWatch dashboard, per month",
    "kms_key_month": "KMS customer-managed key, per month",
    "logs_ingestion_gb": "CloudWatch Logs ingestion (standard), per GB",
    "athena_tb_scanned": "Athena, per TB scanned (10 MB minimum per query)",
}
# Lambda's own log lines per run (START, END, REPORT) and one JSON "filter written" line per filter.
PLATFORM_LOG_BYTES, FILTER_LOG_BYTES = 400, 450
# Parquet (ZSTD) history against the gzip JSON it compacts, measured by `make bench-history` (87 MB / 426 MB).
HISTORY_TO_RAW = 0.20
# Each hourly compaction reads its hour plus a two-hour look-back of raw snapshots, and runs
# two small queries (plan, watermark) billed at Athena's 10 MB minimum.
COMPACTION_RAW_HOURS, COMPACTION_SMALL_QUERIES, ATHENA_MIN_BYTES = 3, 2, 10 * 1024**2
# The daily run reads `history_reconcile_days` of raw whole (reconciliation: rows per hour, raw against history)
# and runs about a dozen small statements (properties, retention, OPTIMIZE of a day, VACUUM).
DAILY_SMALL_QUERIES = 12
# Agent activity's refresh in each hourly run (three statements: the intervals MERGE, the activity DELETE and
# INSERT) reads history's columns over the period and two hours before it: 1.89x the raw bytes of the period's
# hours, measured on Trino by `make bench-history` (docs/benchmarks-trino.md: 40,385 KB against 21,406 KB).
ACTIVITY_READ_PER_RAW, ACTIVITY_STATEMENTS = 1.89, 3
GB, TB = 1024**3, 1024**4


@dataclass(frozen=True)
class Usage:
    """One snapshot, measured, and the deployment around it."""

    seconds: float  # billed Lambda duration of one run (a sampling run is billed while it waits for its samples)
    objects: int  # S3 objects written by one run (every sample's)
    bytes: int  # gzip bytes written by one run
    custom_metrics: int
    emf_bytes: int  # EMF written to the log by one run
    filters: int
    memory_mb: int = 512
    schedule_minutes: int = 1
    snapshot_retention_days: int = 30
    history_retention_days: int = 400
    history_reconcile_days: int = 2
    history: bool = True  # the stack's compaction into the history table
    alarms: int = 0  # standard resolution
    high_resolution_alarms: int = 0  # the slot alarms when sampling below a minute
    fixed: bool = True  # the dashboard and the alarm topic's KMS key


def monthly_cost(usage: Usage, prices: Mapping[str, float] = PRICES) -> dict[str, float]:
    """USD a month by item, and `total`. Storage is the steady state: raw snapshots for their retention,
    history for its own (both grow to that over their first months)."""
    p = prices
    runs = HOURS_PER_MONTH * 60 / usage.schedule_minutes
    raw_month_gb = runs * usage.bytes / GB
    cost = {
        "lambda": runs
        * (usage.seconds * usage.memory_mb / 1024 * p["lambda_gb_second_arm64"] + p["lambda_requests_per_million"] / 1e6),
        "s3_puts": runs * usage.objects * p["s3_put_per_1000"] / 1000,
        "s3_storage": raw_month_gb * min(1.0, usage.snapshot_retention_days / DAYS_PER_MONTH) * p["s3_storage_gb_month"]
        + (
            raw_month_gb * HISTORY_TO_RAW * usage.history_retention_days / DAYS_PER_MONTH * p["s3_storage_gb_month"]
            if usage.history
            else 0.0
        ),
        "custom_metrics": usage.custom_metrics * p["custom_metric_month"],
        "alarms": usage.alarms * p["alarm_month"] + usage.high_resolution_alarms * p["alarm_high_resolution_month"],
        "log_ingestion": runs
        * (usage.emf_bytes + PLATFORM_LOG_BYTES + FILTER_LOG_BYTES * usage.filters)
        / GB
        * p["logs_ingestion_gb"],
        "athena_history": (
            HOURS_PER_MONTH
            * (
                max(ATHENA_MIN_BYTES, COMPACTION_RAW_HOURS * raw_month_gb * GB / HOURS_PER_MONTH)
                + COMPACTION_SMALL_QUERIES * ATHENA_MIN_BYTES
            )
            + DAYS_PER_MONTH
            * (
                max(ATHENA_MIN_BYTES, raw_month_gb * GB * usage.history_reconcile_days / DAYS_PER_MONTH)
                + DAILY_SMALL_QUERIES * ATHENA_MIN_BYTES
            )
        )
        / TB
        * p["athena_tb_scanned"]
        if usage.history
        else 0.0,
        "athena_activity": HOURS_PER_MONTH
        * max(
            ACTIVITY_STATEMENTS * ATHENA_MIN_BYTES,
            ACTIVITY_READ_PER_RAW * COMPACTION_RAW_HOURS * raw_month_gb * GB / HOURS_PER_MONTH,
        )
        / TB
        * p["athena_tb_scanned"]
        if usage.history
        else 0.0,
        "fixed": p["dashboard_month"] + p["kms_key_month"] if usage.fixed else 0.0,
    }
    cost["total"] = sum(cost.values())
    return cost


def load_prices(path: str | Path) -> dict[str, float]:
    """The default prices with those of a JSON file (`{"custom_metric_month": 0.09, ...}`) in their place."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read prices: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a JSON object of price name to USD")
    prices = dict(PRICES)
    for name, value in raw.items():
        if name not in PRICES:
            raise ConfigError(f"{path}: {name}: unknown price; known: {', '.join(PRICES)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{path}: {name}: must be a number of USD, 0 or more (got {value!r})")
        prices[name] = float(value)
    return prices
