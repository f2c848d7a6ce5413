"""Chunking, paging, de-duplication and retries, against a fake Connect client (no network)."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError

from connect_exporter.config import FilterConfig, OperationPace, Operations, PacingConfig
from connect_exporter.connect import ConnectApi, Deadline, DeadlineReached, MalformedResponse, parallel_pages
from connect_exporter.pager import fetch_filter, filter_chunks


def error(code: str, status: int, message: str = "x") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetCurrentUserData"
    )


class FakeConnect:
    """Serves users per filter value in pages of `page`; `script` queues errors before answers."""

    def __init__(self, members: dict[str, list[str]], page: int = 100, script: list[Exception] | None = None) -> None:
        self.members = members
        self.page = page
        self.script = list(script or [])
        self.requests: list[dict] = []

    def get_current_user_data(self, **params):
        self.requests.append(params)
        if self.script:
            raise self.script.pop(0)
        (key, values), *_ = [(k, v) for k, v in params["Filters"].items() if k != "ContactFilter"]
        users = sorted({u for v in values for u in self.members.get(v, [])})
        start = int(params.get("NextToken", "0"))
        page = {
            "UserDataList": [{"User": {"Id": u, "Arn": f"arn/{u}"}} for u in users[start : start + self.page]],
            "ApproximateTotalCount": len(users),
        }
        if start + self.page < len(users):
            page["NextToken"] = str(start + self.page)
        return page


def api(client, **pacing) -> ConnectApi:
    return ConnectApi(
        client, PacingConfig(**{"requests_per_second": 1000, "burst": 1000, **pacing}), sleep=lambda s: None, rng=random.Random(0)
    )


def test_a_150_queue_filter_is_two_calls_of_at_most_100_with_contact_states():
    filt = FilterConfig(name="support", queues=tuple(f"q{i}" for i in range(150)), contact_states=("CONNECTED",))
    chunks = list(filter_chunks(filt))
    assert [len(c["Queues"]) for c in chunks] == [100, 50]
    assert all(c["ContactFilter"] == {"ContactStates": ["CONNECTED"]} for c in chunks)


def test_hierarchy_groups_go_one_per_call():
    chunks = list(filter_chunks(FilterConfig(name="emea", user_hierarchy_groups=("g1", "g2", "g3"))))
    assert chunks == [{"UserHierarchyGroups": ["g1"]}, {"UserHierarchyGroups": ["g2"]}, {"UserHierarchyGroups": ["g3"]}]


def test_all_agents_goes_by_every_routing_profile():
    chunks = list(filter_chunks(FilterConfig(name="all-agents"), [f"rp{i}" for i in range(205)]))
    assert [len(c["RoutingProfiles"]) for c in chunks] == [100, 100, 5]


def test_pages_are_followed_and_agents_in_overlapping_chunks_come_once():
    members = {"q1": [f"u{i:03d}" for i in range(250)], "q2": [f"u{i:03d}" for i in range(200, 300)]}
    client = FakeConnect(members)
    connect = api(client)
    users: list[dict] = []
    result = fetch_filter(connect, "inst", [{"Queues": ["q1"]}, {"Queues": ["q2"]}], users.extend)
    stats = connect.stats
    ids = [u["User"]["Id"] for u in users]
    assert result.agents == 300
    assert sorted(ids) == [f"u{i:03d}" for i in range(300)] and len(ids) == 300
    assert stats.calls["GetCurrentUserData"] == 3 + 1
    assert all(r["MaxResults"] == 100 and r["InstanceId"] == "inst" for r in client.requests)
    assert result.short_of_total == 0


def test_throttles_and_5xx_are_retried_and_counted_with_nothing_missing():
    members = {"rp": [f"u{i}" for i in range(120)]}
    client = FakeConnect(members, script=[error("ThrottlingException", 429), error("InternalServiceException", 500)])
    connect = api(client)
    users: list[dict] = []
    result = fetch_filter(connect, "inst", [{"RoutingProfiles": ["rp"]}], users.extend)
    stats = connect.stats
    assert len(users) == result.agents == 120
    assert (stats.throttles, stats.server_errors, stats.calls["GetCurrentUserData"]) == (1, 1, 4)


def test_retries_give_up_after_max_attempts_and_raise_the_api_error():
    client = FakeConnect({}, script=[error("ThrottlingException", 429)] * 3)
    with pytest.raises(ClientError, match="ThrottlingException"):
        fetch_filter(api(client, max_attempts=3), "inst", [{"Agents": ["a"]}], list().extend)


def test_client_errors_are_not_retried():
    client = FakeConnect({}, script=[error("ResourceNotFoundException", 404)])
    connect = api(client)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        fetch_filter(connect, "inst", [{"Agents": ["a"]}], list().extend)
    assert connect.stats.calls["GetCurrentUserData"] == 1


def test_an_expired_next_token_restarts_the_chunk_not_the_snapshot():
    members = {"rp": [f"u{i:03d}" for i in range(250)]}
    client = FakeConnect(members)
    original = client.get_current_user_data
    failed = []

    def flaky(**params):
        if params.get("NextToken") == "200" and not failed:
            failed.append(True)
            raise error("InvalidParameterException", 400, "The NextToken is invalid or expired")
        return original(**params)

    client.get_current_user_data = flaky
    users: list[dict] = []
    fetch_filter(api(client), "inst", [{"RoutingProfiles": ["rp"]}], users.extend)
    assert sorted(u["User"]["Id"] for u in users) == [f"u{i:03d}" for i in range(250)]
    # The failed call never reached the server; the chunk was then read again from its first page.
    assert [r.get("NextToken") for r in client.requests] == [None, "100", None, "100", "200"]


def shrinking_after_first_page(leaving: int) -> FakeConnect:
    client = FakeConnect({"rp": [f"u{i:03d}" for i in range(200)]})
    original = client.get_current_user_data

    def shrinking(**params):
        page = original(**params)
        client.members["rp"] = client.members["rp"][: 200 - leaving]  # agents log out after the first page
        return page

    client.get_current_user_data = shrinking  # type: ignore[method-assign]  # the fake's own method, swapped
    return client


def test_agents_who_leave_between_pages_are_counted_as_short_of_total():
    users: list[dict] = []
    result = fetch_filter(api(shrinking_after_first_page(8)), "inst", [{"RoutingProfiles": ["rp"]}], users.extend)
    assert len(users) == result.agents == 192 and result.short_of_total == 8


def test_far_fewer_agents_than_the_count_promises_fail_the_filter():
    with pytest.raises(MalformedResponse, match="counted 200 agents .* but answered 150: 50 missing"):
        fetch_filter(api(shrinking_after_first_page(50)), "inst", [{"RoutingProfiles": ["rp"]}], list().extend)


def test_the_deadline_stops_paging_before_a_call_that_would_not_finish():
    budget = [31.5]  # seconds left; each call takes 26 of them, 5 are kept in reserve, a call needs 1 to start
    client = FakeConnect({"rp": [f"u{i}" for i in range(300)]})
    original = client.get_current_user_data

    def slow(**params):
        budget[0] -= 26
        return original(**params)

    client.get_current_user_data = slow
    with pytest.raises(DeadlineReached, match="Lambda deadline"):
        fetch_filter(
            ConnectApi(client, PacingConfig(), Deadline(lambda: budget[0], reserve=5)),
            "i",
            [{"RoutingProfiles": ["rp"]}],
            list().extend,
        )
    assert len(client.requests) == 1


def test_chunks_paged_side_by_side_give_every_agent_once_and_count_every_call():
    members = {f"rp{i}": [f"u{i:02d}{j:03d}" for j in range(130)] for i in range(6)}
    client = FakeConnect(members)
    connect = api(client)
    users: list[dict] = []
    chunks = list(filter_chunks(FilterConfig(name="all-agents"), sorted(members), parallel=4))
    assert [c["RoutingProfiles"] for c in chunks] == [["rp0", "rp1"], ["rp2", "rp3"], ["rp4", "rp5"]]  # ceil(6 / 4) a chunk
    result = fetch_filter(connect, "inst", chunks, users.extend, workers=4)
    ids = [u["User"]["Id"] for u in users]
    assert len(ids) == len(set(ids)) == result.agents == 780
    assert connect.stats.calls["GetCurrentUserData"] == len(client.requests) == 3 * 3  # 260 agents a chunk: three pages


def test_a_failing_chunk_stops_the_others_and_raises():
    members = {f"rp{i}": [f"u{i}{j:03d}" for j in range(500)] for i in range(3)}
    client = FakeConnect(members, script=[error("AccessDeniedException", 403)])
    with pytest.raises(ClientError, match="AccessDeniedException"):
        fetch_filter(api(client), "inst", [{"RoutingProfiles": [rp]} for rp in sorted(members)], list().extend, workers=3)
    assert len(client.requests) < 15  # the other chunks stopped instead of reading all their pages


def test_parallel_pages_grow_with_a_raised_user_data_quota_only():
    raised = [
        PacingConfig(operations=Operations(GetCurrentUserData=OperationPace(requests_per_second=rate, burst=5)))
        for rate in (2, 5, 10, 20, 100)
    ]
    assert [parallel_pages(p) for p in raised] == [1, 1, 2, 4, 8]
    assert parallel_pages(PacingConfig(requests_per_second=500, burst=50)) == 1  # the default pace, however high
