"""Hostile answers: a Connect that pages forever, loses items, sends null lists or repeats agents.

Each mode is a `Faults.rewrite` hook (operation, request, honest answer) -> the answer to send, so the same
world answers honestly except where the mode lies. Tests use them directly; `python -m simulator serve
--hostile MODE` serves one for a person trying the CLI against it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .server import page_token

Rewrite = Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any] | bytes]

# The list key of each operation's answer.
LIST_KEYS = {
    "GetCurrentUserData": "UserDataList",
    "ListUsers": "UserSummaryList",
    "ListRoutingProfiles": "RoutingProfileSummaryList",
    "ListUserHierarchyGroups": "UserHierarchyGroupSummaryList",
    "ListQueues": "QueueSummaryList",
}


def _sent_token(operation: str, params: dict[str, Any]) -> str | None:
    if operation == "GetCurrentUserData":
        return params.get("NextToken")
    return (params.get("nextToken") or [None])[0]


def _first_page_token(operation: str, params: dict[str, Any], salt: int | None = None) -> str:
    """A token the simulator accepts that reads page one again."""
    return page_token(0, params["Filters"] if operation == "GetCurrentUserData" else {"op": operation}, salt)


def repeat_token(operation: str) -> Rewrite:
    """`operation` hands back the NextToken it was sent (page one gets a token that is then repeated for ever)."""

    def rewrite(op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | bytes:
        if op == operation:
            answer["NextToken"] = _sent_token(op, params) or answer.get("NextToken") or _first_page_token(op, params)
        return answer

    return rewrite


def endless_pages(operation: str) -> Rewrite:
    """`operation` answers its first page again and again, each time with a new NextToken."""
    counter = itertools.count()

    def rewrite(op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | bytes:
        if op == operation:
            answer["NextToken"] = _first_page_token(op, params, next(counter))
        return answer

    return rewrite


def null_list(operation: str, value: Any = None) -> Rewrite:
    """`operation` answers its list as `value` (null by default; [] for "none at all")."""

    def rewrite(op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | bytes:
        if op == operation:
            answer[LIST_KEYS[op]] = value
            answer.pop("NextToken", None)
        return answer

    return rewrite


def lost_items(share: float = 0.5) -> Rewrite:
    """GetCurrentUserData keeps its count but drops `share` of each page's agents."""

    def rewrite(op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | bytes:
        if op == "GetCurrentUserData":
            items = answer["UserDataList"]
            answer["UserDataList"] = items[: int(len(items) * (1 - share))]
        return answer

    return rewrite


def repeated_in_page(times: int = 2) -> Rewrite:
    """GetCurrentUserData sends every agent of a page `times` times within that page."""

    def rewrite(op: str, params: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | bytes:
        if op == "GetCurrentUserData":
            answer["UserDataList"] = [item for item in answer["UserDataList"] for _ in range(times)]
        return answer

    return rewrite


MODES: dict[str, Callable[[], Rewrite]] = {
    "repeat-token": lambda: repeat_token("GetCurrentUserData"),
    "repeat-token-users": lambda: repeat_token("ListUsers"),
    "repeat-token-profiles": lambda: repeat_token("ListRoutingProfiles"),
    "endless-pages": lambda: endless_pages("GetCurrentUserData"),
    "null-user-data": lambda: null_list("GetCurrentUserData"),
    "no-routing-profiles": lambda: null_list("ListRoutingProfiles", []),
    "lost-items": lost_items,
    "repeated-in-page": repeated_in_page,
}
