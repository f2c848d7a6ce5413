"""The HTTP side of the simulator: Connect's rest-json protocol, paging, quotas and injected faults."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .world import Agent, Instance

FILTER_KEYS = ("Queues", "RoutingProfiles", "Agents", "UserHierarchyGroups")
# Loopback jitter of a few milliseconds must not turn a correctly paced call into a 429.
BUCKET_TOLERANCE = 0.02


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Faults:
    """What to break, changeable while the server runs."""

    error_rate: float = 0.0  # share of calls answered 500 InternalServiceException
    latency: float = 0.0  # seconds added to every call
    spike_rate: float = 0.0  # share of admitted calls delayed by spike_seconds more (a latency spike)
    spike_seconds: float = 0.0
    deny: set[str] = field(default_factory=set)  # operations answered 403 AccessDeniedException
    seed: int = 0
    # Test hooks: `intercept(operation, params)` may raise ApiError before a call is answered;
    # `rewrite(operation, params, response)` returns the body to send (a dict, or raw bytes).
    intercept: Callable[[str, dict[str, Any]], None] | None = None
    rewrite: Callable[[str, dict[str, Any], dict[str, Any]], dict[str, Any] | bytes] | None = None


class Bucket:
    """The account's token bucket for one operation, as Connect enforces it."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1 - BUCKET_TOLERANCE:
                self.tokens = max(0.0, self.tokens - 1)
                return True
            return False


class ConnectSimulator:
    """Instances plus quotas and faults; `serve()` puts it on a loopback port. Every operation has its own
    bucket of `rate` and `burst`, unless `quotas` names it (a quota raised in Service Quotas)."""

    def __init__(
        self,
        instances: list[Instance],
        rate: float = 2.0,
        burst: int = 5,
        faults: Faults | None = None,
        quotas: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        self.instances = {i.id: i for i in instances}
        self.rate, self.burst = rate, burst
        self.quotas = quotas or {}
        self.faults = faults or Faults()
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._buckets: dict[str, Bucket] = {}
        self._sorted: dict[str, list[Agent]] = {}
        self._profiles: dict[str, dict[str, list[Agent]]] = {}
        self._lists: dict[tuple, tuple[str, list[dict[str, Any]]]] = {}
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a daemon thread; returns the endpoint URL."""
        simulator = self

        class Handler(_Handler):
            sim = simulator

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://{host}:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # --- request dispatch ------------------------------------------------------------------
    def handle(self, operation: str, instance_id: str, params: dict[str, Any]) -> dict[str, Any] | bytes:
        response = self._answer(operation, instance_id, params)
        return self.faults.rewrite(operation, params, response) if self.faults.rewrite else response

    def _answer(self, operation: str, instance_id: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls[operation] += 1
            if operation not in self._buckets:
                self._buckets[operation] = Bucket(*self.quotas.get(operation, (self.rate, self.burst)))
            bucket = self._buckets[operation]
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if not bucket.take():
            self.throttled[operation] += 1
            raise ApiError(429, "ThrottlingException", "Rate exceeded")
        with self._lock:  # drawn only for admitted calls, so a seed gives the same faults whatever the timing
            fail = self._rng.random() < self.faults.error_rate
            spike = self._rng.random() < self.faults.spike_rate
        if spike:
            time.sleep(self.faults.spike_seconds)
        if self.faults.intercept:
            self.faults.intercept(operation, params)
        if operation in self.faults.deny:
            raise ApiError(403, "AccessDeniedException", f"not authorized to perform connect:{operation}")
        if fail:
            self.errors[operation] += 1
            raise ApiError(500, "InternalServiceException", "Request processing failed due to an internal error")
        instance = self.instances.get(instance_id)
        if instance is None:
            raise ApiError(404, "ResourceNotFoundException", f"Instance not found: {instance_id}")
        if operation == "GetCurrentUserData":
            return self.current_user_data(instance, params)
        return self.list_resources(operation, instance, params)

    # --- GetCurrentUserData ----------------------------------------------------------------
    def current_user_data(self, instance: Instance, body: dict[str, Any]) -> dict[str, Any]:
        filters = body.get("Filters") or {}
        used = [k for k in FILTER_KEYS if filters.get(k)]
        if len(used) != 1:
            raise ApiError(
                400, "InvalidRequestException", "Exactly one of Queues, RoutingProfiles, Agents, UserHierarchyGroups is required"
            )
        key = used[0]
        values = [v.rsplit("/", 1)[-1] for v in filters[key]]
        limit = 1 if key == "UserHierarchyGroups" else 100
        if len(values) > limit:
            raise ApiError(400, "InvalidParameterException", f"{key} takes at most {limit} value(s)")
        resources: dict[str, dict[str, Any]] = {
            "Queues": instance.queues,
            "RoutingProfiles": instance.routing_profiles,
            "Agents": instance.agents,
            "UserHierarchyGroups": instance.groups,
        }
        known = resources[key]
        for value in values:
            if value not in known:
                raise ApiError(400, "InvalidParameterException", f"{key} value not found in instance: {value}")
        max_results = int(body.get("MaxResults") or 100)
        if not 1 <= max_results <= 100:
            raise ApiError(400, "InvalidParameterException", "MaxResults must be between 1 and 100")
        states = set((filters.get("ContactFilter") or {}).get("ContactStates") or [])
        wanted = set(values)
        candidates: Iterable[Agent] = self._by_id(instance)
        if key == "RoutingProfiles":  # most calls: only those profiles' agents, still in id order
            by_profile = self._by_profile(instance)
            candidates = heapq.merge(*(by_profile.get(v, []) for v in wanted), key=lambda a: a.id)
        matched = [
            a
            for a in candidates
            if a.logged_in and _matches(instance, a, key, wanted) and (not states or any(c.state in states for c in a.contacts))
        ]
        offset = _read_token(body.get("NextToken"), filters)
        page = matched[offset : offset + max_results]
        result: dict[str, Any] = {"UserDataList": [_user_data(instance, a) for a in page], "ApproximateTotalCount": len(matched)}
        if offset + max_results < len(matched):
            result["NextToken"] = page_token(offset + max_results, filters)
        return result

    # --- List APIs -------------------------------------------------------------------------
    def _by_id(self, instance: Instance) -> list[Agent]:
        """The instance's agents in id order, sorted once: who exists never changes, only their state."""
        with self._lock:
            cached = self._sorted.get(instance.id)
            if cached is None or len(cached) != len(instance.agents):
                cached = self._sorted[instance.id] = sorted(instance.agents.values(), key=lambda a: a.id)
            return cached

    def _by_profile(self, instance: Instance) -> dict[str, list[Agent]]:
        with self._lock:
            cached = self._profiles.get(instance.id)
            if cached is None or sum(map(len, cached.values())) != len(instance.agents):
                cached = {}
                for agent in sorted(instance.agents.values(), key=lambda a: a.id):
                    cached.setdefault(agent.routing_profile_id, []).append(agent)
                self._profiles[instance.id] = cached
            return cached

    def list_resources(self, operation: str, instance: Instance, query: dict[str, Any]) -> dict[str, Any]:
        types = tuple(sorted(query.get("queueTypes") or []))
        version = (instance.id, operation, types, len(instance.agents), len(instance.queues), len(instance.routing_profiles))
        with self._lock:
            cached = self._lists.get(version)
        if cached is None:
            cached = self._list_items(operation, instance, set(types))
            with self._lock:
                self._lists[version] = cached
        key, items = cached
        max_results = int((query.get("maxResults") or ["100"])[0])
        if not 1 <= max_results <= 1000:
            raise ApiError(400, "InvalidParameterException", "maxResults must be between 1 and 1000")
        token = (query.get("nextToken") or [None])[0]
        offset = _read_token(token, {"op": operation})
        result: dict[str, Any] = {key: items[offset : offset + max_results]}
        if offset + max_results < len(items):
            result["NextToken"] = page_token(offset + max_results, {"op": operation})
        return result

    def _list_items(self, operation: str, instance: Instance, types: set[str]) -> tuple[str, list[dict[str, Any]]]:
        """A List operation's items in id order (users, profiles, groups and queues do not change over time)."""
        if operation == "ListUsers":
            items = [{"Id": a.id, "Arn": a.arn, "Username": a.username} for a in instance.agents.values()]
            key = "UserSummaryList"
        elif operation == "ListRoutingProfiles":
            items = [{"Id": p.id, "Arn": p.arn, "Name": p.name} for p in instance.routing_profiles.values()]
            key = "RoutingProfileSummaryList"
        elif operation == "ListUserHierarchyGroups":
            items = [{"Id": g.id, "Arn": g.arn, "Name": g.name} for g in instance.groups.values()]
            key = "UserHierarchyGroupSummaryList"
        else:
            items = [
                {"Id": q.id, "Arn": q.arn, **({"Name": q.name} if q.name else {}), "QueueType": q.kind}
                for q in instance.queues.values()
                if not types or q.kind in types
            ]  # agent queues: no name
            key = "QueueSummaryList"
        items.sort(key=lambda item: item["Id"])
        return key, items


def _matches(instance: Instance, agent: Agent, key: str, wanted: set[str]) -> bool:
    if key == "Agents":
        return agent.id in wanted
    if key == "RoutingProfiles":
        return agent.routing_profile_id in wanted
    if key == "Queues":
        return not wanted.isdisjoint(instance.routing_profiles[agent.routing_profile_id].queue_ids)
    return not wanted.isdisjoint(agent.hierarchy)


def _fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]


def page_token(offset: int, filters: dict[str, Any], salt: int | None = None) -> str:
    """The NextToken the simulator hands out for `offset` into a filter's (or List operation's) items; a
    `salt` makes a token that reads the same but is spelled anew (hostile modes)."""
    data: dict[str, Any] = {"o": offset, "f": _fingerprint(filters)}
    if salt is not None:
        data["n"] = salt
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _read_token(token: str | None, filters: dict[str, Any]) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["f"] != _fingerprint(filters):
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "InvalidParameterException", "The NextToken is invalid or expired") from None


def _epoch(value) -> float | None:
    return None if value is None else value.timestamp()


def _ref(item_id: str, arn: str) -> dict[str, str]:
    return {"Id": item_id, "Arn": arn}


def _user_data(instance: Instance, agent: Agent) -> dict[str, Any]:
    profile = instance.routing_profiles[agent.routing_profile_id]
    levels = ("LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive")
    available, maximum, active = instance.slots(agent)
    status = instance.statuses[agent.status]
    data: dict[str, Any] = {
        "User": _ref(agent.id, agent.arn),
        "RoutingProfile": _ref(profile.id, profile.arn),
        "HierarchyPath": {levels[i]: _ref(g, instance.groups[g].arn) for i, g in enumerate(agent.hierarchy)},
        "Status": {"StatusStartTimestamp": _epoch(agent.status_start), "StatusArn": status.arn, "StatusName": status.name},
        "AvailableSlotsByChannel": available,
        "MaxSlotsByChannel": maximum,
        "ActiveSlotsByChannel": active,
        "Contacts": [
            {
                "ContactId": c.contact_id,
                "Channel": c.channel,
                "InitiationMethod": c.initiation_method,
                "AgentContactState": c.state,
                "StateStartTimestamp": _epoch(c.state_start),
                **({"ConnectedToAgentTimestamp": _epoch(c.connected_at)} if c.connected_at else {}),
                "Queue": _ref(c.queue_id, instance.queues[c.queue_id].arn),
            }
            for c in agent.contacts
        ],
    }
    if not agent.hierarchy:
        del data["HierarchyPath"]
    if agent.next_status:
        data["NextStatus"] = agent.next_status
    return data


_ROUTES = [
    ("POST", re.compile(r"^/metrics/userdata/(?P<instance>[^/]+)$"), "GetCurrentUserData"),
    ("GET", re.compile(r"^/users-summary/(?P<instance>[^/]+)$"), "ListUsers"),
    ("GET", re.compile(r"^/routing-profiles-summary/(?P<instance>[^/]+)$"), "ListRoutingProfiles"),
    ("GET", re.compile(r"^/user-hierarchy-groups-summary/(?P<instance>[^/]+)$"), "ListUserHierarchyGroups"),
    ("GET", re.compile(r"^/queues-summary/(?P<instance>[^/]+)$"), "ListQueues"),
]


class _Handler(BaseHTTPRequestHandler):
    sim: ConnectSimulator
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        for route_method, pattern, operation in _ROUTES:
            match = pattern.match(url.path)
            if match and route_method == method:
                try:
                    params = json.loads(raw or b"{}") if method == "POST" else parse_qs(url.query)
                    self._send(200, self.sim.handle(operation, match["instance"], params))
                except ApiError as exc:
                    self._send(exc.status, {"message": exc.message}, exc.code)
                return
        self._send(404, {"message": f"no route for {method} {url.path}"}, "UnknownOperationException")

    def _send(self, status: int, body: dict[str, Any] | bytes, error_code: str | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", "sim-" + hashlib.md5(payload).hexdigest()[:12])
        if error_code:
            self.send_header("x-amzn-ErrorType", error_code)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out first: nothing to answer
            self.wfile.write(payload)
