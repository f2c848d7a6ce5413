"""Per-filter progress on a terminal: agents received against the API's ApproximateTotalCount, on stderr.

Only on a TTY and never in Lambda, where stdout carries EMF and logs must stay JSON; rich is imported
only then, so the Lambda package never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from ..snapshot import Progress


@contextmanager
def terminal_progress(stream: IO[str]) -> Iterator[Progress | None]:
    """A `run_snapshot` progress callback drawing one bar per filter on `stream`, or None off a terminal."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or not stream.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bars

    bars = Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("agents"),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=False,
    )
    tasks: dict[tuple[str, str], Any] = {}

    def update(instance_id: str, filter_name: str, received: int, total: int) -> None:
        key = (instance_id, filter_name)
        if key not in tasks:
            tasks[key] = bars.add_task(f"{instance_id[:8]} / {filter_name}", total=None)
        bars.update(tasks[key], completed=received, total=max(total, received))

    with bars:
        yield update
