"""Source health: the selectors, the /sources/ pages, the backfill card's polling, who may see them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from e360.htmx import HTMX_HEADERS
from e360.tests.factories import ServiceFactory, UserFactory
from integrations import health
from integrations.models import Backfill
from integrations.tests.factories import ConnectionFactory
from metrics.models import InboundEvent, Push, Source
from metrics.tests.factories import (
    DeploymentFactory,
    PipelineRunFactory,
    PullRequestFactory,
    RepositoryFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db
Status = InboundEvent.Status


@pytest.fixture
def org_viewer(db):
    user = UserFactory(username="olga", email="olga@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def github(team, service, now):
    """A GitHub source of ``team`` listing two repositories; Checkout (acme/checkout) sent a deployment and a
    pull request lately, a pipeline run 40 days ago, no push; acme/ledger sent nothing."""
    connection = ConnectionFactory(
        source__name="GitHub acme",
        source__team=team,
        repositories=["acme/checkout", "acme/ledger"],
        rate_limit=5000,
        rate_remaining=4100,
        rate_reset_at=now + timedelta(minutes=20),
    )
    source = connection.source
    repo = RepositoryFactory(name="acme/checkout", service=service)
    DeploymentFactory(source=source, service=service, repository=repo, finished_at=now - timedelta(days=2))
    PullRequestFactory(source=source, service=service, repository=repo, opened_at=now - timedelta(days=3))
    PipelineRunFactory(source=source, service=service, repository=repo, finished_at=now - timedelta(days=40))
    return connection


def _event(source, n, status, kind="github.pull_request", error="", received_at=None):
    return InboundEvent.objects.create(
        source=source,
        delivery_id=f"d-{n}",
        kind=kind,
        payload={},
        status=status,
        error=error,
        received_at=received_at or timezone.now(),
    )


@pytest.fixture
def events(github, now):
    source = github.source
    _event(source, 1, Status.PROCESSED)
    _event(source, 2, Status.PROCESSED, received_at=now - timedelta(days=3))
    failed = _event(
        source, 3, Status.FAILED, error='repository "acme/ledger" belongs to no known service; name a service'
    )
    _event(source, 4, Status.IGNORED, kind="github.star")
    _event(source, 5, Status.IGNORED, kind="github.star")
    _event(source, 6, Status.IGNORED, kind="github.fork")
    _event(source, 7, Status.IGNORED, kind="github.watch", received_at=now - timedelta(days=45))
    return failed


def test_the_health_of_a_source(github, events, now):
    found = health.source_health(github.source, now)
    assert found.events_today >= 1  # midnight may be less than three days ago, never less than now
    assert found.failed == 1 and found.failures == [events]
    assert found.ignored == [("github.star", 2), ("github.fork", 1)]  # 30 days: the old watch is left out
    assert found.last_event_at is not None
    assert found.repositories == 2
    assert [(item.repository, item.kinds) for item in found.missing] == [
        ("acme/checkout", ("pipeline runs", "pushes")),
        ("acme/ledger", ("deployments", "pull requests", "pipeline runs", "pushes")),
    ]


def test_the_repositories_a_source_maps(github, team, now):
    source = github.source
    source.repo_service_map = {"acme/mapped": "checkout"}
    # A service the source wrote to lists a repository the connection does not.
    other = ServiceFactory(slug="ledger", owner=team, repositories=["acme/ledger-ui"])
    repo = RepositoryFactory(name="acme/ledger-api", service=other)
    Push.objects.create(source=source, external_id="p1", service=other, repository=repo, before="a", after="b")
    assert health.mapped_repositories(source, github) == [
        "acme/checkout",
        "acme/ledger",
        "acme/ledger-api",
        "acme/ledger-ui",
        "acme/mapped",
    ]


def test_a_source_of_no_repositories_has_nothing_missing(team):
    pagerduty = ConnectionFactory(source__kind=Source.Kind.PAGERDUTY, source__team=team)
    found = health.source_health(pagerduty.source)
    assert found.expected == () and found.missing == []


def test_backfill_progress_and_its_eta(github, now):
    assert health.backfill_progress(github) is None
    Backfill.objects.create(
        connection=github,
        status=Backfill.Status.RUNNING,
        started_at=now - timedelta(minutes=10),
        repositories_total=6,
        repositories_done=2,
        records=1200,
        requests=40,
    )
    progress = health.backfill_progress(github, now)
    assert progress.active and progress.percent == 33
    assert progress.eta == now + timedelta(minutes=20)  # 4 left at 5 minutes each
    assert (progress.rate_remaining, progress.rate_limit) == (4100, 5000)


def test_a_finished_backfill_has_no_eta(github, now):
    Backfill.objects.create(
        connection=github, status=Backfill.Status.DONE, repositories_total=2, repositories_done=2, started_at=now
    )
    progress = health.backfill_progress(github, now)
    assert not progress.active and progress.percent == 100 and progress.eta is None


# --- Pages


def _detail(github):
    return reverse("integrations:source-detail", args=[github.pk])


def test_the_health_page(client, owner, github, events, now):
    Backfill.objects.create(
        connection=github,
        status=Backfill.Status.RUNNING,
        started_at=now - timedelta(minutes=10),
        repositories_total=6,
        repositories_done=2,
        records=1200,
        requests=40,
    )
    client.force_login(owner)
    response = client.get(_detail(github))
    assert response.status_code == 200
    text = response.text
    assert "No pipeline runs, no pushes seen from <code>acme/checkout</code> in 30 days." in text
    assert "No deployments, no pull requests, no pipeline runs, no pushes seen from <code>acme/ledger</code>" in text
    assert "belongs to no known service" in text
    assert re.search(r"<code>github.star</code></th><td class=\"num\">2</td>", text)
    assert "Repositories done: 2 of 6" in text and 'value="33"' in text
    assert "4100 of 5000 requests left" in text and "1200" in text
    assert 'hx-trigger="every 3s"' in text
    assert "admin" not in re.sub(r"(?s)<header class=\"topbar\">.*?</header>", "", text)  # not staff: no admin links


def test_staff_see_the_failures_admin_links(client, staff, github, events):
    client.force_login(staff)
    text = client.get(_detail(github)).text
    assert reverse("admin:metrics_inboundevent_change", args=[events.pk]) in text
    assert f"?source__id__exact={github.pk}&amp;status__exact=failed" in text
    retry = f"{reverse('admin:metrics_inboundevent_changelist')}?id__exact={events.pk}"
    assert retry in text
    listed = client.get(retry)  # the event alone, with the retry action
    assert listed.status_code == 200 and "1 inbound event" in listed.text and 'value="retry"' in listed.text


def test_the_backfill_card_polls_while_running_and_stops_when_done(client, owner, github):
    backfill = Backfill.objects.create(connection=github, status=Backfill.Status.RUNNING, repositories_total=4)
    client.force_login(owner)
    poll = {"HX-Request": "true", "HX-Target": "backfill"}
    running = client.get(_detail(github), headers=poll)
    assert running.status_code == 200
    assert running.text.lstrip().startswith('<section id="backfill"')
    assert 'hx-trigger="every 3s"' in running.text and "<h1" not in running.text
    assert all(header in running["Vary"] for header in HTMX_HEADERS)

    backfill.repositories_done, backfill.status = 4, Backfill.Status.DONE
    backfill.save()
    done = client.get(_detail(github), headers=poll)
    assert "hx-trigger" not in done.text and "Repositories done: 4 of 4" in done.text and 'value="100"' in done.text


def test_the_list(client, owner, github, events):
    Backfill.objects.create(connection=github, status=Backfill.Status.WAITING)
    SourceFactory(name="someone else's", team=None)
    client.force_login(owner)
    response = client.get(reverse("integrations:source-list"))
    assert response.status_code == 200
    assert _detail(github) in response.text and ">waiting<" in response.text
    assert "someone else" not in response.text


# --- Who may see


@pytest.mark.parametrize("who", ["owner", "teammate", "org_viewer"])
def test_the_team_and_org_viewers_see_the_page(client, github, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(_detail(github)).status_code == 200
    assert "GitHub acme" in client.get(reverse("integrations:source-list")).text


def test_a_lead_above_the_team_sees_its_sources(client, owner, subteam):
    connection = ConnectionFactory(source__name="sub", source__team=subteam)
    client.force_login(owner)
    assert client.get(_detail(connection)).status_code == 200


def test_an_outsider_gets_404(client, outsider, github):
    client.force_login(outsider)
    assert client.get(_detail(github)).status_code == 404
    assert client.get(_detail(github), headers={"HX-Request": "true", "HX-Target": "backfill"}).status_code == 404
    assert "GitHub acme" not in client.get(reverse("integrations:source-list")).text


def test_a_source_without_a_team_is_for_org_viewers_only(client, teammate, org_viewer):
    source = SourceFactory(name="orphan", team=None)
    url = reverse("integrations:source-detail", args=[source.pk])
    client.force_login(teammate)
    assert client.get(url).status_code == 404
    client.force_login(org_viewer)
    assert client.get(url).status_code == 200


def test_an_unknown_source_is_404(client, org_viewer):
    client.force_login(org_viewer)
    assert client.get(reverse("integrations:source-detail", args=[999])).status_code == 404


def test_anonymous_visitors_sign_in_first(client, github):
    response = client.get(_detail(github))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Queries


def _grow(team, n, now):
    """``n`` sources of ``team`` with events, failures and a backfill; the last one with ``n`` repositories."""
    for i in range(n):
        connection = ConnectionFactory(source__name=f"gh-{i}", source__team=team)
        for j in range(3):
            _event(
                connection.source, f"{i}-{j}", Status.FAILED if j else Status.IGNORED, kind=f"github.k{j}", error="x"
            )
        Backfill.objects.create(connection=connection, status=Backfill.Status.RUNNING)
    connection.repositories = [f"acme/r{j}" for j in range(n)]
    connection.save()
    service = ServiceFactory(owner=team, repositories=[f"acme/s{j}" for j in range(n)])
    for j in range(n):
        repo = RepositoryFactory(name=f"acme/r{j}", service=service)
        DeploymentFactory(source=connection.source, service=service, repository=repo, finished_at=now)
        PullRequestFactory(source=connection.source, service=service, repository=repo, opened_at=now)
    return connection


@pytest.mark.parametrize("n", [2, 8])
def test_the_list_queries_do_not_grow_with_sources(client, org_viewer, team, now, n, django_assert_max_num_queries):
    _grow(team, n, now)
    client.force_login(org_viewer)
    with django_assert_max_num_queries(5):
        response = client.get(reverse("integrations:source-list"))
    assert response.text.count("badge--accent") == n


@pytest.mark.parametrize("n", [2, 8])
def test_the_page_queries_do_not_grow_with_events_or_repositories(
    client, org_viewer, team, now, n, django_assert_max_num_queries
):
    connection = _grow(team, n, now)
    client.force_login(org_viewer)
    with django_assert_max_num_queries(15):
        response = client.get(_detail(connection))
    assert response.text.count("no pipeline runs, no pushes seen from") == n
    with django_assert_max_num_queries(6):
        client.get(_detail(connection), headers={"HX-Request": "true", "HX-Target": "backfill"})


def test_the_main_navigation_leads_to_the_sources(client, owner, github):
    client.force_login(owner)
    sources = reverse("integrations:source-list")
    assertContains(client.get("/teams/"), f'<a href="{sources}">Sources</a>', html=True)
    assertContains(client.get(sources), f'<a href="{sources}" aria-current="page">Sources</a>', html=True)
    assertContains(client.get(_detail(github)), f'<a href="{sources}" aria-current="page">Sources</a>', html=True)
