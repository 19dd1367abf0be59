"""The automations' run log (``/actions/``) and an automation's page: who sees which runs (the owner team's
lead and members; org-wide automations for org viewers; outsiders 404), the filters, the pages, the queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from actions.models import Automation, AutomationRun
from actions.models.automations import Trigger
from actions.tests.factories import ChannelFactory
from e360.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = AutomationRun.Status
AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def automation(team, name: str) -> Automation:
    return Automation.objects.create(
        name=name, team=team, trigger=Trigger.INCIDENT_OPENED, channel=ChannelFactory(team=team)
    )


def runs(auto: Automation, n: int, status: str = Status.SENT) -> list[AutomationRun]:
    return AutomationRun.objects.bulk_create(
        AutomationRun(
            automation=auto,
            trigger=auto.trigger,
            dedupe_key=f"incident:{auto.pk}-{status}-{i}",
            inputs={"title": f"{auto.name} incident {i}", "url": "https://pager.example.com/1"},
            status=status,
            response="ok" if status == Status.SENT else "404 channel_not_found",
            attempts=1,
            created_at=AT + timedelta(minutes=i),
        )
        for i in range(n)
    )


@pytest.fixture
def org_viewer(db):
    user = UserFactory(username="olga")
    user.user_permissions.add(Permission.objects.get(codename="view_org"))
    return user


@pytest.fixture
def logs(team, other_team):
    payments = automation(team, "Page Payments")
    search = automation(other_team, "Page Search")
    org_wide = Automation.objects.create(
        name="Org digest", trigger=Trigger.SCHEDULE, every_hours=24, channel=ChannelFactory()
    )
    runs(payments, 3)
    runs(payments, 1, Status.FAILED)
    runs(search, 2)
    runs(org_wide, 1)
    return payments, search, org_wide


def test_the_log_shows_the_runs_of_the_teams_one_sees_newest_first(client, owner, teammate, logs):
    for user in (owner, teammate):
        client.force_login(user)
        html = client.get(reverse("actions:automation-runs")).content.decode()
        assert html.count("Page Payments incident") == 4
        assert "Page Search" not in html and "Org digest" not in html
        assert html.index("Page Payments incident 2") < html.index("Page Payments incident 1")
        assert "404 channel_not_found" in html


def test_org_viewers_see_every_run_the_org_wide_ones_too(client, org_viewer, logs):
    client.force_login(org_viewer)
    html = client.get(reverse("actions:automation-runs")).content.decode()
    assert "Page Search incident" in html and "Org digest incident" in html and "Page Payments incident" in html


def test_the_filters(client, owner, logs):
    payments = logs[0]
    client.force_login(owner)
    failed = client.get(reverse("actions:automation-runs"), {"status": "failed"}).content.decode()
    assert failed.count("Page Payments incident") == 1
    chosen = client.get(reverse("actions:automation-runs"), {"automation": payments.pk}).content.decode()
    assert chosen.count("Page Payments incident") == 4
    # Another team's automation, chosen by id: nothing of it shows.
    other = client.get(reverse("actions:automation-runs"), {"automation": logs[1].pk}).content.decode()
    assert "Page Search" not in other and "No run yet." in other
    bad = client.get(reverse("actions:automation-runs"), {"automation": "x'", "status": "nope", "page": "-1"})
    assert bad.status_code == 200


def test_an_automations_page_404s_for_outsiders(client, owner, teammate, outsider, org_viewer, logs):
    payments, _, org_wide = logs
    url = reverse("actions:automation-detail", args=[payments.pk])
    for user, status in ((owner, 200), (teammate, 200), (outsider, 404), (org_viewer, 200)):
        client.force_login(user)
        assert client.get(url).status_code == status
    client.force_login(owner)
    assert client.get(reverse("actions:automation-detail", args=[org_wide.pk])).status_code == 404
    client.force_login(org_viewer)
    page = client.get(reverse("actions:automation-detail", args=[org_wide.pk])).content.decode()
    assert "Org digest incident 0" in page and "every 24 hours" in page


def test_the_log_is_paged(client, owner, team):
    auto = automation(team, "Busy")
    runs(auto, 60)
    client.force_login(owner)
    first = client.get(reverse("actions:automation-runs")).content.decode()
    assert first.count("Busy incident") == 50 and 'rel="next"' in first
    second = client.get(reverse("actions:automation-runs"), {"page": 2}).content.decode()
    assert second.count("Busy incident") == 10 and 'rel="prev"' in second


def test_the_pages_queries_do_not_grow_with_the_runs(client, owner, team, logs, django_assert_num_queries):
    client.force_login(owner)
    url = reverse("actions:automation-runs")
    client.get(url)  # the session, warmed
    # The session, the user, their permissions (2), memberships, the team tree, the automations, the count, the runs.
    with django_assert_num_queries(9):
        client.get(url)
    runs(automation(team, "More"), 30)
    with django_assert_num_queries(9):
        client.get(url)
    with django_assert_num_queries(9):  # the automation instead of the list of them
        client.get(reverse("actions:automation-detail", args=[logs[0].pk]))
