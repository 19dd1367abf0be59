"""``manage.py bench_integrations`` on a tiny scale: the GitHub webhook load (wrk, which ``make
test-deps`` installs, against the test's live server instead of granian, so that the server
sees the test database; one connection, as the live server shares one database connection
between its threads) and the backfill from the loopback GitHub."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from e360.tests.factories import ServiceFactory
from integrations.management.commands.bench_integrations import SOURCE_NAME
from metrics.models import InboundEvent, PullRequest, Source


@pytest.fixture
def services(team):
    return [ServiceFactory(slug=f"app-{n}", name=f"App {n}", owner=team) for n in range(2)]


def test_the_github_webhook_bench_stores_what_it_acknowledged_and_absorbs_redeliveries(
    transactional_db, live_server, services, monkeypatch
):
    # As under ``make bench``, no worker takes the queued drains (here django-q would run them at once).
    monkeypatch.setattr("metrics.ingest.inbound_drain_task", lambda source_id: None)
    assert shutil.which("wrk"), "the benchmark's load generator is missing: make wrk (make test-deps installs it)"
    out = StringIO()

    call_command(
        "bench_integrations",
        *("--only", "webhook", "--server", live_server.url, "--seconds", "1", "--clients", "1"),
        *("--deliveries", "40", "--process", "5"),
        stdout=out,
    )

    table = out.getvalue()
    assert "GitHub webhook deliveries (signed, stored, queued)" in table
    assert "≥ 1000/s" in table and "(loop " in table
    assert "redeliveries absorbed" in table
    assert "GitHub deliveries processed (one worker)" in table
    source = Source.objects.get(name=SOURCE_NAME)
    # The first five stored deliveries were processed into pull requests of the mapped services.
    processed = InboundEvent.objects.filter(source=source, status=InboundEvent.Status.PROCESSED)
    assert processed.count() == 5
    assert {pr.service.slug for pr in PullRequest.objects.filter(source=source)} <= {"app-0", "app-1"}
    assert PullRequest.objects.filter(source=source).count() == 5


def test_the_backfill_bench_reports_records_a_second_and_an_incremental_sync_of_304s(db, services):
    out = StringIO()

    call_command("bench_integrations", "--only", "backfill", "--repositories", "2", "--pulls", "4", stdout=out)

    table = out.getvalue()
    assert "GitHub backfill from a loopback GitHub" in table
    assert "records/s" in table and "requests per 1,000 records" in table
    assert "of them GraphQL" in table
    assert "GitHub incremental sync, nothing new" in table
    assert "only 304s: ok" in table
    source = Source.objects.get(name=SOURCE_NAME)
    # 4 pull requests, 2 deployments and 4 workflow runs a repository.
    assert PullRequest.objects.filter(source=source).count() == 8
    assert source.repo_service_map == {"bench-gh/app-0": "app-0", "bench-gh/app-1": "app-1"}

    call_command("bench_integrations", "--only", "backfill", "--repositories", "2", "--pulls", "4", stdout=out)
    assert PullRequest.objects.filter(source=source).count() == 8  # each run starts from nothing
