"""``manage.py bench`` runs its read and rebuild parts end to end (ingestion needs a server: ``make bench``)."""

from __future__ import annotations

import re
from io import StringIO

from django.core.management import call_command

from e360.tests.factories import ServiceFactory, TeamFactory
from metrics.refresh import rebuild
from metrics.tests.factories import SourceFactory
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
