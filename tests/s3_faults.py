"""An S3 that misbehaves: a proxy on loopback in front of moto's server, breaking PutObject as a network
does. Each fault acts on the request after the upstream S3 (moto) has or has not stored it, so a test sees
what a real client sees: an object stored whose answer never came, a 500 after the store, a 503 storm, an
S3 that answers later than the deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

LOST = "lost"  # forward, let S3 store it, then drop the connection: the answer is lost
ERROR_AFTER_STORE = "error-after-store"  # forward, then answer 500 InternalError although S3 stored it
SLOW_DOWN = "slow-down"  # answer 503 SlowDown without forwarding
SLOW = "slow"  # wait `delay` seconds, then forward


@dataclass
class S3Faults:
    """Which PutObject requests to break: the first `times` of them (None: every one), with `mode`."""

    mode: str | None = None
    times: int | None = 1
    delay: float = 0.0
    broken: int = 0
    puts: list[str] = field(default_factory=list)  # the path of every PutObject seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> str | None:
        with self.lock:
            if self.mode is None or (self.times is not None and self.broken >= self.times):
                return None
            self.broken += 1
            return self.mode


class S3FaultProxy:
    """`serve()` returns the proxy's URL; point AWS_ENDPOINT_URL_S3 at it."""

    def __init__(self, upstream: str, faults: S3Faults) -> None:
        self.upstream = urlparse(upstream)
        self.faults = faults
        self._server: ThreadingHTTPServer | None = None

    def serve(self) -> str:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: S3FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        self._proxy("PUT")

    def do_GET(self) -> None:  # noqa: N802
        self._proxy("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._proxy("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._proxy("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._proxy("DELETE")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _proxy(self, method: str) -> None:
        body = self._body()
        faults = self.owner.faults
        fault = None
        if method == "PUT" and "?" not in self.path:  # PutObject (not a bucket or multipart sub-resource)
            faults.puts.append(self.path)
            fault = faults.take()
        if fault == SLOW_DOWN:
            self._answer(
                503,
                {"Content-Type": "application/xml"},
                b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
            )
            return
        if fault == SLOW:
            time.sleep(faults.delay)
        status, headers, payload = self._forward(method, body)
        if fault == LOST:  # stored upstream; the client never hears
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == ERROR_AFTER_STORE:
            self._answer(
                500,
                {"Content-Type": "application/xml"},
                b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
            )
            return
        self._answer(status, headers, payload, head=method == "HEAD")

    def _forward(self, method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        up = self.owner.upstream
        conn = http.client.HTTPConnection(str(up.hostname), up.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding", "content-length")}
        headers["Content-Length"] = str(len(body))
        conn.request(method, self.path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, dict(response.getheaders()), payload

    def _answer(self, status: int, headers: dict[str, str], payload: bytes, head: bool = False) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", headers.get("Content-Length", str(len(payload))) if head else str(len(payload)))
        self.end_headers()
        if not head:
            self.wfile.write(payload)
