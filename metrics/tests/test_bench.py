"""``manage.py bench`` runs its read and rebuild parts end to end (ingestion needs a server: ``make bench``), and its
freshness part as ``make bench`` runs it: a process of its own, with the web server and django-q2's cluster beside
it."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from e360.tests.factories import ServiceFactory, TeamFactory
from metrics.refresh import rebuild
from metrics.tests.factories import RepositoryFactory, SourceFactory
from metrics.tests.histories import T0, deploy


def test_bench_prints_reads_and_rebuild_against_the_budgets(db, team):
    group = TeamFactory(slug="group", name="Group", kind="group", parent=team)
    leaf = TeamFactory(slug="leaf", name="Leaf", kind="team", parent=group)
    TeamFactory(slug="other", name="Other", kind="team", parent=group)  # where the service moves and back
    service = ServiceFactory(slug="api", name="API", owner=leaf)
    source = SourceFactory(name="ci", team=None, may_write_every_service=True)
    deploy(source, service, "d1", T0)
    web = ServiceFactory(slug="web", name="Web", owner=leaf)
    for n in range(3):
        deploy(source, web, f"w{n}", T0)
    rebuild()
    out = StringIO()

    call_command("bench", "--only", "reads", "--requests", "4", stdout=out)
    call_command("bench", "--only", "rebuild", "--rebuild-sample", "2", stdout=out)

    table = out.getvalue()
    rows = ("API /metrics/dora?team=", "<organisation>", "page of the organisation", "180 days", "Rollup rebuild")
    for row in rows:
        assert row in table
    # Each budget's verdict carries the machine's speed around its row.
    assert re.search(r"p95 ≤ 100 ms: (ok|OVER) \(loop \d+\.\d\d–\d+\.\d\d s\)", table)
    # The rebuild beside the size of what it rebuilt: one deployment and three, fitted to a line.
    assert "2 services timed, 2 records each" in table
    assert re.search(r"Rollup rebuild per 1,000 records +-?\d+ ms, plus -?\d+ ms per service", table)
    assert "least squares over the services timed (1 to 3 records)" in table
    assert "Team rollups sync after a service changes team" in table
    service.refresh_from_db()
    assert service.owner == leaf


def _url_for_other_processes(tmp_path: Path) -> str:
    """A ``DATABASE_URL`` of this test's database (its rows committed) that other processes open: PostgreSQL's test
    database itself; SQLite's, in this process's memory, copied to a file they share."""
    if connection.vendor == "sqlite":
        path = tmp_path / "e360.sqlite3"
        connection.ensure_connection()
        with closing(sqlite3.connect(path)) as copy:
            connection.connection.backup(copy)
        return f"sqlite:///{path}"
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{connection.settings_dict['NAME']}").geturl()


def _processes_using(url: str) -> list[int]:
    """The processes, but this one, whose environment names the database ``url``."""
    entry = f"DATABASE_URL={url}".encode()
    found = []
    for process in Path("/proc").iterdir():
        if process.name.isdigit() and int(process.name) != os.getpid():
            try:
                if entry in (process / "environ").read_bytes().split(b"\0"):
                    found.append(int(process.name))
            except OSError:  # gone meanwhile, or another user's
                pass
    return found


def test_freshness_is_timed_from_both_ways_in_to_both_dashboards_and_no_process_is_left(
    transactional_db, team, tmp_path
):
    service = ServiceFactory(slug="api", name="API", owner=TeamFactory(slug="leaf", name="Leaf", parent=team))
    RepositoryFactory(name="acme/api", service=service)  # what the webhook's deliveries name
    deploy(SourceFactory(name="ci", team=None, may_write_every_service=True), service, "d1", T0)
    rebuild()
    url = _url_for_other_processes(tmp_path)
    # DEBUG: pages render their static files without the manifest collectstatic writes, as in the tests.
    environment = {**os.environ, "DATABASE_URL": url, "DEBUG": "1"}
    command = [sys.executable, "manage.py", "bench", "--only", "freshness", "--freshness-samples", "2"]
    bench = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        out, _ = bench.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        bench.send_signal(signal.SIGINT)  # the command stops its server and worker on the way out
        out, _ = bench.communicate()
        raise AssertionError(f"the freshness bench took over 3 minutes: {out[-3000:]}") from None

    assert bench.returncode == 0, out[-3000:]
    for way in ("webhook", "API"):
        for page in ("team", "organisation"):
            assert f"Freshness: {way} → {page} dashboard" in out
    assert out.count(f"2 deployments, {settings.Q_CLUSTER['workers']} worker processes") == 4
    assert out.count("p95 ≤ 60 s: ok") == 4
    hourly = next(line for line in out.splitlines() if "Freshness: webhook → dashboards, every schedule due" in line)
    assert "as once an hour" in hourly and "≤ 60 s: ok (loop " in hourly
    assert _processes_using(url) == []  # neither the web server nor any of the cluster's processes is left
