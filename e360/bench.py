"""What every app's benchmark command shares: the budgets, the web server on loopback, latency figures
(percentiles from ``e360.stats``), timed in-process reads, the machine's speed, and the printed table.

``make bench`` runs ``manage.py bench`` (delivery metrics), ``manage.py bench_surveys``,
``manage.py bench_insights``, ``manage.py bench_integrations``, ``manage.py bench_reminders`` and
``manage.py bench_actions``; each prints rows of (what, figure, how measured, budget verdict). ``wrk_post`` loads a
path of the server with wrk (``bench_wrk.lua``), for the ingestion figures.

A budget met only on a quiet machine is not met, and these machines vary by 1.5x within one run: every row with a
budget verdict says how fast the machine ran Python just before and just after it (``loop_around``).
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, OutputWrapper
from django.db import connection
from django.test import Client

from e360.stats import median, percentile

Row = tuple[str, str, str, str]

# docs/product.md#budgets: issue 19's targets, with margin over what the product promises.
BUDGET_READ_P95_MS = 100  # every page and API read of the benchmarks
BUDGET_YEAR_DASHBOARD_P95_MS = 50  # the organisation dashboard over 365 days
BUDGET_INGEST_PER_S = 1000  # webhook deliveries stored and queued, on 2 cores
BUDGET_BULK_RECORDS_PER_S = 500  # the JSON bulk API's records (it runs at 6,000+)
BUDGET_SUBMIT_P95_MS = 100  # a survey answer sent, 50 people at once
FRESHNESS_P95_S = 60  # a deployment accepted to its team's and the organisation's dashboards showing it

LOOP_STEPS = 10_000_000  # the machine figure: a loop of this many steps
LOOP_SAMPLE_STEPS = 2_000_000  # the figure beside each budget row: a fifth of it, scaled up (0.1 s, not 0.5 s)

WRK_THREADS = 2  # wrk's threads (fewer when fewer connections)
SERVER_WORKERS = 2  # the web server's processes and threads per process, as the Procfile's defaults
SERVER_THREADS = 4
WRK_SCRIPT = Path(__file__).with_name("bench_wrk.lua")


def http_request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextmanager
def server(workers: int) -> Iterator[int]:
    """The Procfile's web server (granian, ``e360.wsgi``) with ``workers`` processes of ``SERVER_THREADS`` threads,
    on a free loopback port, with this process's settings."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        *(sys.executable, "-m", "granian", "--interface", "wsgi", "--no-ws", "--log-level", "warning"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--blocking-threads", str(SERVER_THREADS), "e360.wsgi:application"),
    ]
    process = subprocess.Popen(  # noqa: S603 - a fixed argument list, no shell
        command, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_request(port, "POST", "/healthz")  # any answer will do (it is a GET-only view)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    assert process.stderr is not None  # stderr=PIPE
                    raise CommandError(f"The web server did not start: {process.stderr.read()[-2000:]!r}") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_size(workers: int) -> str:
    """How large ``server`` is, for the table."""
    return f"granian, {workers} processes × {SERVER_THREADS} threads"


@contextmanager
def _target(workers: int, url: str) -> Iterator[str]:
    """``url`` (a server already running), else a ``server`` of this project."""
    if url:
        yield url.rstrip("/")
        return
    with server(workers) as port:
        yield f"http://127.0.0.1:{port}"


def wrk_post(
    path: str,
    environment: dict[str, str],
    *,
    seconds: int,
    clients: int,
    workers: int,
    expect: int,
    url: str = "",
) -> dict[str, Any]:
    """POST to the web server on loopback for ``seconds`` with wrk; the counts of what it answered.

    The server is the Procfile's (``server``) with ``workers``, so the figure is what
    a deployment accepts, network stack included (or the server at ``url``, already running).
    wrk (C) keeps ``clients`` connections busy and takes far less of the machine's cores than a
    Python client would. ``environment`` tells ``bench_wrk.lua`` what to send (its header lists
    the variables); every tenth request sends an earlier one again, as a client retrying would.
    Any answer but ``expect`` (or the ``ABSORBED`` status of a retry) fails the benchmark.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise CommandError("The ingestion benchmark drives its load with wrk: install it (apt-get install wrk).")
    threads = min(WRK_THREADS, clients)
    environment = {**os.environ, "EXPECT": str(expect), "RETRY": str(clients), "THREADS": str(threads), **environment}
    command = [wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "-s", str(WRK_SCRIPT)]
    with _target(workers, url) as base:
        result = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [*command, f"{base}{path}"], capture_output=True, text=True, env=environment, check=False
        )
    summary = next((line for line in result.stdout.splitlines() if line.startswith("{")), None)
    if result.returncode or summary is None:
        raise CommandError(f"wrk failed: {result.stdout[-1000:]} {result.stderr[-1000:]}")
    counts: dict[str, Any] = json.loads(summary)
    if counts["other"]:
        raise CommandError(f"POST {path}: {counts['other']} answers were not {expect}; first: {counts['first']}")
    return counts


def latency_figures(times_ms: list[float], budget_ms: float) -> tuple[str, str]:
    """The figure ("p50 12 ms, p95 30 ms") and the budget verdict ("p95 ≤ 100 ms: ok") of some latencies."""
    p50, p95 = percentile(times_ms, 0.5), percentile(times_ms, 0.95)
    if p50 is None or p95 is None:
        raise CommandError("nothing was timed")
    return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms", f"p95 ≤ {budget_ms:.0f} ms: {'ok' if p95 <= budget_ms else 'OVER'}"


def rate_verdict(rate: float, budget: float) -> str:
    """The verdict of a throughput ("≥ 1000/s: ok", or UNDER)."""
    return f"≥ {budget:.0f}/s: {'ok' if rate >= budget else 'UNDER'}"


def timed_reads(label: str, client: Client, urls: list[str], budget_ms: float) -> Row:
    """GET each URL in this process (Django's whole stack, no network): p50/p95 time and queries, and the
    machine's speed around them.

    Queries are counted by an execute wrapper: the debug cursor's log (``CaptureQueriesContext``) keeps the last
    9,000 only (``queries_limit``), too few for a page that reads every team (or for the requests of a row, which
    add up in it), and its logging would be timed with the page."""
    client.get(urls[0])  # warm caches and connections once
    # As a server process does once the application is loaded (e360.wsgi): what lives on moved out of the collector's
    # sight, so that a collection during a request walks only what requests made, not the modules and caches too.
    gc.collect()
    gc.freeze()
    times, queries = [], []
    executed = 0

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        nonlocal executed
        executed += 1
        return execute(sql, params, many, context)

    with loop_around() as loop, connection.execute_wrapper(count):
        for url in urls:
            before = executed
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}: {response.content[:300]!r}")
            queries.append(executed - before)
    figure, verdict = latency_figures(times, budget_ms)
    return label, figure, f"{max(queries)} queries max ({median(queries):.0f} median)", loop.beside(verdict)


def loop_seconds(steps: int = LOOP_STEPS) -> float:
    """Seconds this process takes to count through ``steps`` in a Python loop, scaled to ``LOOP_STEPS``."""
    started = time.perf_counter()
    total = 0
    for step in range(steps):
        total += step
    return (time.perf_counter() - started) * LOOP_STEPS / steps


@dataclass
class Loop:
    """The machine figure (``loop_seconds``) just before and just after a measurement."""

    before: float
    after: float = 0.0

    def beside(self, verdict: str) -> str:
        """The verdict with the figures: "p95 ≤ 100 ms: ok (loop 0.48–0.55 s)"."""
        low, high = sorted((self.before, self.after))
        return f"{verdict} (loop {low:.2f}–{high:.2f} s)"


@contextmanager
def loop_around() -> Iterator[Loop]:
    """Time the machine figure before and after the block, on a ``LOOP_SAMPLE_STEPS`` sample of the loop each time:
    beside a budget verdict, it shows whether the machine was slow while that row was measured."""
    loop = Loop(loop_seconds(LOOP_SAMPLE_STEPS))
    yield loop
    loop.after = loop_seconds(LOOP_SAMPLE_STEPS)


def machine_row() -> Row:
    """How fast this machine runs Python: figures from different machines compare through it."""
    return (
        f"Machine: a {LOOP_STEPS // 1_000_000}-million-step Python loop",
        f"{loop_seconds():.2f} s",
        f"{os.cpu_count()} CPUs",
        f"beside each budget: the loop before–after the row ({LOOP_SAMPLE_STEPS // 1_000_000} million steps ×"
        f" {LOOP_STEPS // LOOP_SAMPLE_STEPS})",
    )


def print_table(stdout: OutputWrapper, title: str, rows: list[Row]) -> None:
    database = connection.settings_dict["NAME"]
    stdout.write(f"\n{title} on {connection.vendor} database {database!r}\n")
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
