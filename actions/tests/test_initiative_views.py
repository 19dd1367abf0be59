"""The initiatives' pages: the list and an initiative's report for whoever sees all its teams (404 for anyone else);
a frozen initiative with its estimate in words, comparison teams named, warnings and placebo; a future start shows
the baseline only; too little data says so; the survey side hides a group below k; the CSV; query counts that do
not grow with the length of history; the links to the pages."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from actions import tasks
from actions.initiative_reads import initiative_reads
from actions.initiative_reads import open_at_cutoff as open_prs
from actions.initiative_report import initiative_report
from actions.models import Initiative
from actions.models.initiatives import org_today
from actions.tests.initiative_histories import START_DAYS_AGO, WINDOW_DAYS, initiative_on, planted
from e360.models import Membership
from e360.tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory
from metrics.tests.factories import PullRequestFactory

pytestmark = pytest.mark.django_db

LIST = reverse("actions:initiative-list")


def detail_url(initiative):
    return reverse("actions:initiative-detail", args=[initiative.pk])


def csv_url(initiative):
    return reverse("actions:initiative-csv", args=[initiative.pk])


@pytest.fixture
def org_viewer(db):
    user = UserFactory(username="olga", email="olga@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


@pytest.fixture
def frozen(review_teams, review_source, now):
    planted(review_teams, review_source, now)
    return initiative_on([review_teams[0]], org_today(now) - timedelta(days=START_DAYS_AGO), now=now)


# --- Access ---------------------------------------------------------------------------------------------------------


def test_whoever_sees_all_its_teams_sees_it_and_anyone_else_gets_a_404(
    client, frozen, owner, teammate, outsider, org_viewer, other_team
):
    for user in (owner, teammate, org_viewer):
        client.force_login(user)
        assertContains(client.get(LIST), "Review reminders")
        assert client.get(detail_url(frozen)).status_code == 200
        assert client.get(csv_url(frozen)).status_code == 200
    client.force_login(outsider)
    assertNotContains(client.get(LIST), "Review reminders")
    assert client.get(detail_url(frozen)).status_code == 404
    assert client.get(csv_url(frozen)).status_code == 404
    assert client.get(reverse("actions:initiative-detail", args=[frozen.pk + 100])).status_code == 404
    # One of its teams out of sight is enough: the owner does not see Search.
    frozen.targets.create(team=other_team)
    client.force_login(owner)
    assert client.get(detail_url(frozen)).status_code == 404
    assertNotContains(client.get(LIST), "Review reminders")


def test_the_pages_ask_to_sign_in(client, frozen):
    response = client.get(detail_url(frozen))
    assert response.status_code == 302 and "login" in response["Location"]


# --- The report -----------------------------------------------------------------------------------------------------


def test_a_frozen_initiative_shows_its_estimate_against_named_comparison_teams(client, frozen, owner):
    client.force_login(owner)
    response = client.get(detail_url(frozen))
    report = response.context["report"]
    pickup = report.metrics[0]
    assert pickup.did is not None and pickup.estimate is not None
    # The planted fall is 6 h, against flat comparison teams: the interval covers it and not 0.
    assert pickup.estimate.low < -6 < pickup.estimate.high < 0
    assert {team.name for team in pickup.comparison} == {"Search", "Billing", "Ledger"}
    assertContains(response, "Pickup time fell by")
    assertContains(response, "more than in comparable teams")
    assertContains(response, "Compared with ")
    assertContains(response, "Billing")
    assertContains(response, "A placebo start in the middle of the before window")
    assertContains(response, "cannot change any more")
    assertContains(response, "Guardrail: Change failure rate")
    assertContains(response, 'id="chart-timeline-pickup_time"')
    assertContains(response, 'id="chart-trend-pickup_time"')
    assertContains(response, 'media="print"')
    chart = response.context["charts"][0]
    assert len(chart["labels"]) == 8 and chart["starts"] == [chart["labels"][4]]
    assert chart["treated"][0] > 9 and chart["treated"][-1] < 6
    assert len(chart["trend"]["labels"]) == 4


def test_the_list_shows_status_and_headline(client, frozen, owner):
    client.force_login(owner)
    response = client.get(LIST)
    assertContains(response, "Review reminders")
    assertContains(response, "Ended: its after window is over")
    assertContains(response, "Pickup time fell by")
    assertContains(response, "Code review")
    assertContains(response, "Payments")


def test_without_comparison_teams_a_change_is_only_associated(client, team, service, review_source, now, owner):
    """One team, 12 weeks on each side (a week's value is one observation: 10 are needed on each side)."""
    planted([team], review_source, now, days=range(1, 12 * 7 * 2 + 8), falls={"payments": 12 * 7 + 7})
    initiative = initiative_on([team], org_today(now) - timedelta(days=12 * 7 + 7), now=now, window_days=12 * 7)
    client.force_login(owner)
    response = client.get(detail_url(initiative))
    assertContains(response, "The start was associated with a fall of")
    assertContains(response, "No comparable team")
    assertContains(response, "without comparable teams the change is only associated")


def test_a_future_start_shows_the_baseline_only(client, review_teams, review_source, now, owner):
    planted(review_teams, review_source, now)
    initiative = initiative_on([review_teams[0]], org_today(now) + timedelta(days=7), now=now)
    client.force_login(owner)
    response = client.get(detail_url(initiative))
    assertContains(response, "Baseline only: this initiative starts on")
    assertNotContains(response, "more than in comparable teams")
    assertContains(response, "Not frozen yet")
    assertContains(response, 'id="chart-timeline-pickup_time"')  # the weeks so far
    assertContains(response, "Drawn once it has started")
    assert response.context["report"].metrics[0].before_after is None
    assertContains(client.get(LIST), "Baseline only: it has not started")


def test_too_little_data_says_so_instead_of_a_number(client, review_teams, review_source, now, owner):
    planted(review_teams, review_source, now, days=range(1, 9))  # a week after the start, nothing before it
    initiative = initiative_on([review_teams[0]], org_today(now) - timedelta(days=14), now=now)
    client.force_login(owner)
    response = client.get(detail_url(initiative))
    assertContains(response, "Pickup time: too little data to tell")
    assertContains(response, "Too little data to tell: 0 before")
    assertContains(client.get(LIST), "too little data to tell")


def test_staggered_starts_are_estimated_per_cohort(client, review_teams, review_source, now, owner, other_team):
    """Payments starts 7 weeks ago, Search two weeks later; each falls from its own start. Search is no comparison
    for Payments (it starts within Payments' after window): Billing and Ledger are, for both."""
    start = org_today(now) - timedelta(days=49)
    planted(review_teams, review_source, now, days=range(1, 78), falls={"payments": 49, "search": 35})
    initiative = initiative_on([review_teams[0], (other_team, start + timedelta(days=14))], start, now=now)
    MembershipFactory(person=owner.person, team=other_team, role=Membership.Role.MEMBER)
    client.force_login(owner)
    response = client.get(detail_url(initiative))
    pickup = response.context["report"].metrics[0]
    cohorts = pickup.cohorts
    assert [cohort.start for cohort in cohorts] == [start, start + timedelta(days=14)]
    for cohort in cohorts:
        names = {change.team for change in cohort.did.comparison}
        assert names == {review_teams[2].pk, review_teams[3].pk}
        # One team against two: a wide interval (1 degree of freedom), around the planted fall.
        assert cohort.did.estimate is not None and cohort.did.estimate.low < -6 < cohort.did.estimate.high
        assert -9 < cohort.did.estimate.value < -3
    assert pickup.estimate is not None and pickup.estimate.low < -6 < pickup.estimate.high
    assert set(pickup.did.weights.values()) == {0.5}
    assertContains(response, "Staggered starts: one estimate per cohort")
    later = start + timedelta(days=14)
    assert response.context["charts"][0]["starts"] == [f"{start.day} {start:%b}", f"{later.day} {later:%b}"]


def test_a_team_in_another_running_initiative_is_no_comparison(client, frozen, review_teams, now, owner):
    ledger = review_teams[3]
    initiative_on([ledger], frozen.starts_on + timedelta(days=10), now=now, name="Ledger's reminders")
    client.force_login(owner)
    response = client.get(detail_url(frozen))
    pickup = response.context["report"].metrics[0]
    assert {team.name for team in pickup.comparison} == {"Search", "Billing"}
    assert (ledger, "it starts before the end of the after window") in pickup.left_out
    assertContains(response, "Ledger: it starts before the end of the after window")


def test_an_initiative_without_teams_shows_for_org_viewers(client, org_viewer, now):
    initiative = initiative_on([], org_today(now) - timedelta(days=3), now=now)
    client.force_login(org_viewer)
    response = client.get(detail_url(initiative))
    assert response.status_code == 200
    assertContains(response, "Pickup time: too little data to tell")
    assert client.get(csv_url(initiative)).status_code == 200
    assert client.get(LIST).status_code == 200


def open_at_cutoff(initiative):
    """The planted history's own pull requests open at the cut-off: those opened late on the after window's last
    day, by the hour the test runs at."""
    return open_prs(initiative, initiative_reads(initiative, now=timezone.now())).get("pickup_time", 0)


def test_pull_requests_open_at_the_cut_off_are_warned_of(client, frozen, review_teams, owner, now):
    planted_open = open_at_cutoff(frozen)
    after_end = org_today(now) - timedelta(days=START_DAYS_AGO - WINDOW_DAYS)
    service = review_teams[0].services.get()
    for days_before_end in (3, 10):  # opened in the after window, never reviewed
        opened = datetime.combine(after_end - timedelta(days=days_before_end), time(12), tzinfo=now.tzinfo)
        PullRequestFactory(service=service, opened_at=opened)
    PullRequestFactory(service=service, opened_at=now - timedelta(days=2))  # after the cut-off: not counted
    client.force_login(owner)
    response = client.get(detail_url(frozen))
    assertContains(response, f"{planted_open + 2} pull requests still open at the cut-off are not in the after window")


def test_a_started_initiatives_report_is_published_for_the_hour(client, frozen, review_teams, owner, now):
    """Its page and its CSV read the report published by the hourly task (or by the first visit), with the
    initiative as it is now; data that arrived since shows once the task publishes again."""
    cache.clear()
    client.force_login(owner)

    def visit():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(detail_url(frozen))
        return response, len(queries)

    first, computed = visit()
    Initiative.objects.filter(pk=frozen.pk).update(name="Renamed since")
    again, read = visit()
    assert read <= computed - 10, (read, computed)
    assert again.context["report"].initiative.name == "Renamed since"
    assert again.context["report"].metrics[0].words == first.context["report"].metrics[0].words
    assertContains(again, "figures as of")

    planted_open = open_at_cutoff(frozen)
    after_end = org_today(now) - timedelta(days=START_DAYS_AGO - WINDOW_DAYS)
    for days_before_end in (3, 10):  # opened in the after window, never reviewed
        opened = datetime.combine(after_end - timedelta(days=days_before_end), time(12), tzinfo=now.tzinfo)
        PullRequestFactory(service=review_teams[0].services.get(), opened_at=opened)
    warning = f"{planted_open + 2} pull requests still open at the cut-off"
    assertNotContains(client.get(detail_url(frozen)), warning)
    assertNotContains(client.get(csv_url(frozen)), warning)
    tasks.initiatives_publish()
    assertContains(client.get(detail_url(frozen)), warning)
    assertContains(client.get(csv_url(frozen)), warning)


def test_the_csv_holds_the_estimates_and_the_weekly_series(client, frozen, owner):
    client.force_login(owner)
    response = client.get(csv_url(frozen))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="initiative-{frozen.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    did = next(row for row in rows if row["record"] == "did" and row["metric"] == "pickup_time")
    assert float(did["low"]) < float(did["value"]) < float(did["high"]) < 0
    assert did["note"].startswith("Pickup time fell by") and "Billing" in did["team"]
    weeks = [row for row in rows if row["record"] == "week" and row["team"] == "Payments"]
    assert len(weeks) == 8 * 2  # pickup time and the guardrail, 8 weeks each
    assert {row["record"] for row in rows} >= {"baseline", "median before", "median change", "placebo", "survey before"}


def test_the_queries_grow_neither_with_history_nor_with_the_teams(
    client, frozen, review_teams, review_source, now, owner
):
    client.force_login(owner)

    def counted(url):
        cache.clear()  # the list's rows computed on the visit, not read as published
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    detail, listed = counted(detail_url(frozen)), counted(LIST)
    # A year more of history before the weeks read, and six more candidate teams at the level, with data.
    planted(review_teams, review_source, now, days=range(100, 460, 3))
    more = [TeamFactory(name=f"More {n}", slug=f"more-{n}") for n in range(6)]
    for team in more:
        ServiceFactory(name=f"{team.name} app", slug=f"{team.slug}-app", owner=team)
    planted(more, review_source, now)
    assert counted(detail_url(frozen)) == detail, detail
    assert counted(LIST) == listed
    assert detail <= 30 and listed <= 40, (detail, listed)


def test_the_candidates_baselines_are_frozen_at_the_start(frozen, review_teams, review_source, now):
    """The comparison is chosen on the values of the start: a candidate's late data, or a team added at the level
    since, moves neither its baseline nor the selection."""
    candidates = frozen.frozen["candidates"]
    assert set(candidates) == {str(team.pk) for team in review_teams[1:]}
    assert all(8 <= values["pickup_time"] <= 12 for values in candidates.values()), candidates
    first = initiative_report(frozen, now=now).metrics[0]
    assert {team.slug for team in first.comparison} <= {team.slug for team in review_teams[1:]}

    late = TeamFactory(name="Late", slug="late")
    ServiceFactory(name="Late app", slug="late-app", owner=late)
    planted([late], review_source, now)
    billing = review_teams[2]
    planted([billing], review_source, now, days=range(START_DAYS_AGO + 1, START_DAYS_AGO + WINDOW_DAYS, 2), falls={})
    again = initiative_report(frozen, now=now)
    assert [s.baseline for s in again.reads.candidates] == [
        {key: candidates[str(s.team.pk)][key] for key in frozen.metric_keys} for s in again.reads.candidates
    ]
    assert "late" not in {s.team.slug for s in again.reads.candidates}
    assert again.metrics[0].comparison == first.comparison


def test_a_planned_initiatives_page_reads_its_candidates_at_once(client, review_teams, review_source, now, owner):
    """Before the start the candidates' baselines are read all at once: more teams, the same queries."""
    planted(review_teams, review_source, now)
    planned = initiative_on([review_teams[0]], org_today(now) + timedelta(days=14), now=now)
    client.force_login(owner)

    def counted():
        cache.clear()  # read on the visit, not published
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail_url(planned)).status_code == 200
        return len(queries)

    before = counted()
    more = [TeamFactory(name=f"More {n}", slug=f"more-{n}") for n in range(6)]
    for team in more:
        ServiceFactory(name=f"{team.name} app", slug=f"{team.slug}-app", owner=team)
    planted(more, review_source, now)
    assert counted() == before


def test_a_planned_initiatives_report_is_published_for_its_definition(client, review_teams, review_source, owner):
    """Before the start the report (its candidates' baselines read from hundreds of teams' history at a large level)
    is published too: a visit within the hour reads it back; the hourly task reads it again, so data that arrived
    since shows; a changed definition is read anew."""
    now = timezone.now()
    cache.clear()
    planted(review_teams[:1], review_source, now)  # the candidates have no history yet
    planned = initiative_on([review_teams[0]], org_today(now) + timedelta(days=14), now=now)
    client.force_login(owner)

    def visit():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(detail_url(planned))
        baselines = {s.team.slug: s.baseline["pickup_time"] for s in response.context["report"].reads.candidates}
        return len(queries), baselines

    computed, first = visit()
    read, again = visit()
    assert read <= computed - 5 and set(first.values()) == set(again.values()) == {None}, (read, computed)

    planted(review_teams[1:], review_source, now)
    assert set(visit()[1].values()) == {None}  # as published, within the hour
    assert tasks.initiatives_publish() == "0 started and 1 planned initiatives' reports published"
    published = visit()[1]
    assert all(8 <= value <= 12 for value in published.values()), published

    planned.window_days = WINDOW_DAYS // 2
    planned.save()
    assert visit()[1] != published  # another definition: its own report


def test_a_group_below_k_shows_its_metrics_only(client, org, closed):
    """Payments answered the closed wave (shown), Search with 2 responses (fewer than k): no number for it."""
    now = timezone.now()
    initiative = initiative_on(
        [org.pay, org.search],
        org_today(now) + timedelta(days=1),
        now=now,
        dimension="ci_cd",
        primary_metrics=["pipeline_failure_rate"],
        guardrail_metric="",
    )
    client.force_login(org.users["lena"])
    response = client.get(detail_url(initiative))
    sides = {side.team.name: side for side in response.context["report"].survey}
    assert sides["Payments"].before is not None
    assert sides["Search"].before is None
    assertContains(response, "below the anonymity threshold")
    assertContains(response, "% favourable in")


# --- Links ----------------------------------------------------------------------------------------------------------


def test_the_run_log_and_the_admin_link_the_pages(client, frozen, owner, staff):
    client.force_login(owner)
    assertContains(client.get(reverse("actions:automation-runs")), f'href="{LIST}"')
    client.force_login(staff)
    response = client.get(reverse("admin:actions_initiative_change", args=[frozen.pk]))
    assertContains(response, f'<a href="{detail_url(frozen)}">View page</a>')
