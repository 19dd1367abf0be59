"""``manage.py bench`` runs its read and rebuild parts end to end (ingestion needs a server: ``make bench``)."""

from __future__ import annotations

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
    deploy(SourceFactory(name="ci", team=None, may_write_every_service=True), service, "d1", T0)
    rebuild()
    out = StringIO()

    call_command("bench", "--only", "reads", "--requests", "4", stdout=out)
    call_command("bench", "--only", "rebuild", "--rebuild-sample", "1", stdout=out)

    table = out.getvalue()
    rows = ("API /metrics/dora?team=", "<organisation>", "page of the organisation", "180 days", "Rollup rebuild")
    for row in rows:
        assert row in table
    assert "p95 ≤ 150 ms" in table
    assert "Team rollups sync after a service changes team" in table
    service.refresh_from_db()
    assert service.owner == leaf
