"""Paging of one filter's GetCurrentUserData: chunks, NextToken, de-duplication, and answers checked.

botocore has no paginator for GetCurrentUserData, and its filters take at most 100 queues, routing profiles
or agents (one hierarchy group) per call: a filter is split into chunks, each chunk paged on NextToken, and
agents kept once by user id, within a page as across pages and chunks. An answer that cannot be right (a
token handed back, more pages than the count allows, far fewer agents than the count promises) fails the
filter: write-once would make a wrong minute permanent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .config import ALL_AGENTS, FILTER_KINDS, FilterConfig
from .connect import ConnectApi, MalformedResponse, PageGuard, PagingError, require
from .observability import logger

PAGE_SIZE = 100
# MaxResults is a maximum: Connect may answer shorter pages, so the only bound the answers give is one new
# agent a page. More pages than count * PAGE_MARGIN + PAGE_SLACK (the count is approximate, and agents log in
# while a filter pages), or more than IDLE_PAGES pages that bring no agent not already sent, are a loop.
PAGE_MARGIN, PAGE_SLACK, IDLE_PAGES = 1.1, 3, 3
# Agents who log out between pages leave a gap against the count. More than this share (and at least
# SHORT_MIN agents) missing is an answer that lost its items, not agents leaving.
SHORT_SHARE, SHORT_MIN = 0.05, 5


@dataclass
class FilterResult:
    """What paging one filter found, beyond the agents handed on page by page."""

    agents: int  # unique by user id
    # Sum over chunks of ApproximateTotalCount minus the unique agents received (agents who logged out
    # between pages, or a count the API over-estimated): visible, not silently lost.
    short_of_total: int
    malformed_items: int = 0  # items with no readable user id: they cannot be keyed, so they are dropped and counted


Agents = list[dict[str, Any]]


def filter_chunks(filt: FilterConfig, routing_profile_ids: Sequence[str] = (), parallel: int = 1) -> Iterator[dict[str, Any]]:
    """The API `Filters` of each call a filter needs. An all-agents filter goes by routing profile:
    every agent has exactly one, so each comes back once. With `parallel` > 1, routing profiles are split
    into at least that many chunks (their agents are disjoint: no page is read twice) to page side by side."""
    if filt.kind == ALL_AGENTS:
        key, size, values = "RoutingProfiles", 100, tuple(routing_profile_ids)
    else:
        key, _, size = FILTER_KINDS[filt.kind]
        values = filt.values
    if key == "RoutingProfiles" and parallel > 1:
        size = min(size, max(1, -(-len(values) // parallel)))
    for start in range(0, len(values), size):
        chunk: dict[str, Any] = {key: list(values[start : start + size])}
        if filt.contact_states:
            chunk["ContactFilter"] = {"ContactStates": list(filt.contact_states)}
        yield chunk


def fetch_filter(
    api: ConnectApi,
    instance_id: str,
    chunks: Sequence[dict[str, Any]],
    on_agents: Callable[[Agents], None],
    on_page: Callable[[int, int], None] = lambda received, total: None,
    workers: int = 1,
) -> FilterResult:
    """Page every chunk and hand each page's agents not seen before to `on_agents` as the page arrives:
    only their ids are kept, so memory does not grow with the filter. With `workers` > 1, chunks are paged
    side by side (pages of one chunk follow its NextToken, so they cannot), still at the bucket's pace;
    `on_agents` is called by one thread at a time. `on_page(agents received, ApproximateTotalCount of the
    chunks answered)` runs after each page (the instance answers: worth reading its names; a terminal shows
    progress). The first failure stops the rest."""
    seen: set[str] = set()
    totals: dict[int, int] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def take(index: int, items: Agents, approximate: int) -> None:
        with lock:
            new = []
            for item in items:  # one at a time: an agent repeated within a page is kept once too
                uid = item["User"]["Id"]
                if uid not in seen:
                    seen.add(uid)
                    new.append(item)
            totals[index] = approximate
            if new:
                on_agents(new)
            on_page(len(seen), sum(totals.values()))

    def page(index: int, chunk: dict[str, Any]) -> tuple[int, int]:
        try:
            approximate, received, malformed = _page_chunk(api, instance_id, chunk, lambda items, n: take(index, items, n), stop)
            return max(0, approximate - received), malformed
        except BaseException:
            stop.set()
            raise

    if workers <= 1 or len(chunks) <= 1:
        results = [page(index, chunk) for index, chunk in enumerate(chunks)]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(chunks)), thread_name_prefix="pages") as pool:
            results = [future.result() for future in [pool.submit(page, index, chunk) for index, chunk in enumerate(chunks)]]
    short = sum(s for s, _ in results)
    promised = sum(totals.values())
    if short > max(SHORT_MIN, math.ceil(SHORT_SHARE * promised)):
        raise MalformedResponse(
            f"GetCurrentUserData counted {promised} agents (ApproximateTotalCount) but answered {promised - short}: "
            f"{short} missing is more than agents logging out while paging explain; not written"
        )
    return FilterResult(len(seen), short, sum(m for _, m in results))


def _page_chunk(
    api: ConnectApi,
    instance_id: str,
    chunk: dict[str, Any],
    take: Callable[[Agents, int], None],
    stop: threading.Event,
) -> tuple[int, int, int]:
    """(largest ApproximateTotalCount, unique agents received, malformed items) of one chunk."""
    token: str | None = None
    restarted = False
    seen_in_chunk: set[str] = set()
    approximate = malformed = idle = 0
    guard = PageGuard("GetCurrentUserData")
    while not stop.is_set():
        params: dict[str, Any] = {"InstanceId": instance_id, "Filters": chunk, "MaxResults": PAGE_SIZE}
        if token:
            params["NextToken"] = token
        try:
            page = api.call("GetCurrentUserData", **params)
        except ClientError as exc:
            # An expired or invalid NextToken costs this chunk a restart, not the snapshot.
            if token and not restarted and _is_bad_token(exc):
                restarted, token = True, None
                guard = PageGuard("GetCurrentUserData")  # page one again hands out the same tokens
                continue
            raise
        items = []
        for item in require(page, "UserDataList", "GetCurrentUserData"):
            user = item.get("User") if isinstance(item, dict) else None
            if isinstance(user, dict) and isinstance(user.get("Id"), str) and user["Id"]:
                items.append(item)
            else:
                malformed += 1
        approximate = max(approximate, _count(page.get("ApproximateTotalCount")))
        before = len(seen_in_chunk)
        seen_in_chunk.update(item["User"]["Id"] for item in items)
        take(items, approximate)
        token = page.get("NextToken")
        if not token:
            break
        idle += len(seen_in_chunk) == before
        if idle > IDLE_PAGES:
            raise PagingError(
                f"GetCurrentUserData answered {idle} pages with no agent it had not already sent, "
                f"and a NextToken each time: paging stopped after {guard.pages + 1} pages"
            )
        guard.follow(
            str(token),
            math.ceil(approximate * PAGE_MARGIN) + PAGE_SLACK,
            f"ApproximateTotalCount {approximate}, at least one new agent a page",
        )
    if malformed:
        logger.warning(
            "GetCurrentUserData items without a user id were dropped", extra={"instance_id": instance_id, "items": malformed}
        )
    return approximate, len(seen_in_chunk), malformed


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _is_bad_token(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in {"InvalidParameterException", "InvalidRequestException"} and (
        "token" in str(error.get("Message", "")).lower()
    )
