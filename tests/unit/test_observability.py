"""The one logger, as the CLI leaves it: human lines at a terminal, and Powertools' own calls still working."""

from __future__ import annotations

import logging

from connect_exporter.observability import HumanFormatter, logger, use_human_logs


def test_after_the_cli_turns_logs_human_the_handler_s_logger_still_takes_its_keys():
    """The CLI and the handler share one Logger; `inject_lambda_context` calls `append_keys` on its formatter at
    every invocation. With a plain logging.Formatter that raised AttributeError, and every handler run in a
    process that had run the CLI failed (CI ran the CLI's tests and the handler's in one worker)."""
    use_human_logs()
    logger.append_keys(function_name="exporter", cold_start=False)
    logger.remove_keys(["function_name", "cold_start"])
    formatter = logger.registered_handler.formatter
    assert isinstance(formatter, HumanFormatter)
    record = logging.makeLogRecord({"levelname": "WARNING", "msg": "late run skipped", "snapshot_time": "2026-11-24T03:45:00Z"})
    assert formatter.format(record) == "WARNING late run skipped  snapshot_time=2026-11-24T03:45:00Z"
