"""The HTTP harness the tests' loopback servers share (GitHub, GitLab, PagerDuty, Slack, Teams, a webhook
receiver): a real ``ThreadingHTTPServer`` on 127.0.0.1 in a thread, handing each request (method, path with query,
headers, body) to a fake's ``answer`` and writing back its status, headers and body (``bytes``, ``str`` or JSON);
and what the fakes of an API share (``Fake``): a lock over their state, injected faults and a log of calls."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], Any]


@dataclass
class Fault:
    """An answer injected for the next ``times`` requests whose target (path and query) matches ``pattern``."""

    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


class Fake:
    """What a loopback stand-in for an API keeps besides its data: a lock over its state, the faults injected with
    ``fail`` (``error_body``, the service's own error, when none is given) and a log of the requests answered."""

    error_body: Any = ""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.url = ""
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []  # (method, path with query, status)

    def fail(
        self, path: str, status: int, *, headers: dict[str, str] | None = None, body: Any = None, times: int = 1
    ) -> None:
        """The next ``times`` requests whose path (with query) matches ``path`` get this answer."""
        body = self.error_body if body is None else body
        self.faults.append(Fault(re.compile(path), status, headers or {}, body, times))

    def fault(self, target: str) -> Fault | None:
        """The injected answer due for a request to ``target`` (counted), if any."""
        for fault in self.faults:
            if fault.times and fault.pattern.search(target):
                fault.times -= 1
                return fault
        return None

    def calls(self, pattern: str = "") -> list[tuple[str, str, int]]:
        return [call for call in self.log if re.search(pattern, call[1])]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Callable[[Request], Answer], delay: Callable[[], float]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.delay = delay


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, extra, payload = self.server.answer(Request(self.command, self.path, headers, body))
        if (delay := self.server.delay()) > 0:
            time.sleep(delay)  # a server that hangs: the client's timeout
        if isinstance(payload, bytes):
            data, kind = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, kind = payload.encode(), "text/plain; charset=utf-8"
        elif payload is None:
            data, kind = b"", ""
        else:
            data, kind = json.dumps(payload).encode(), "application/json; charset=utf-8"
        try:
            self.send_response(status)
            if kind:
                self.send_header("Content-Type", kind)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(answer: Callable[[Request], Answer], delay: Callable[[], float] = lambda: 0.0) -> Iterator[str]:
    """Serve ``answer`` on a free loopback port; yields the root URL."""
    server = _Server(answer, delay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
