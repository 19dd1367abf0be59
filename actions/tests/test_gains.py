"""The velocity gains page (actions/gains.py, actions/views/gains.py): only the initiatives whose teams the user may
all see, the quarter picker (default, explicit, refused), delivered / did not / too early on initiatives built with
planted review histories, hours saved as the estimate × the pull requests counted, the survey side, the holdout
pooled over the visible policies, the CSV, the empty state and a bounded number of queries."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from actions import gains, tasks
from actions.models.initiatives import org_today
from actions.tests.holdout_data import remind
from actions.tests.initiative_histories import START_DAYS_AGO, WINDOW_DAYS, initiative_on, planted
from e360.tests.factories import ServiceFactory, TeamFactory, UserFactory
from e360.tree import TeamTree
from metrics import definitions as d
from metrics.models import PullRequest
from metrics.scope import reading_profile
from surveys.models import Campaign

pytestmark = pytest.mark.django_db

GAINS = reverse("actions:gains")
CSV = reverse("actions:gains-csv")


@pytest.fixture
def org_viewer(db):
    user = UserFactory(username="olga", email="olga@example.com")
    user.user_permissions.add(Permission.objects.get(codename="view_org", content_type__app_label="e360"))
    return user


@pytest.fixture
def three(review_teams, review_source, now):
    """Payments' reminders worked (pickup falls 6 h, comparison teams flat); Wallet's pairing changed nothing;
    Ledger's starts next week. Search, Billing and Ledger (not started by the end of their after windows) are
    both started ones' comparison teams."""
    wallet = TeamFactory(name="Wallet", slug="wallet")
    ServiceFactory(name="Wallet app", slug="wallet-app", owner=wallet)
    planted([*review_teams, wallet], review_source, now)
    start = org_today(now) - timedelta(days=START_DAYS_AGO)
    payments, _, _, ledger = review_teams
    return {
        "worked": initiative_on([payments], start, now=now),
        "flat": initiative_on([wallet], start, now=now, name="Wallet pairing"),
        "early": initiative_on([ledger], org_today(now) + timedelta(days=7), now=now, name="Ledger rota"),
    }


def quarter_of(day):
    return gains.Quarter.of(day).key


# --- Access ---------------------------------------------------------------------------------------------------------


def test_only_initiatives_whose_teams_one_sees(client, three, owner, outsider, org_viewer):
    client.force_login(owner)  # Payments' lead
    response = client.get(GAINS)
    assert [row.initiative.name for row in response.context["gains"].rows] == ["Review reminders"]
    assertNotContains(response, "Wallet pairing")
    client.force_login(outsider)  # a member of Search: none of them
    response = client.get(GAINS)
    assert response.context["gains"].rows == ()
    assertNotContains(response, "Review reminders</a>")
    assertContains(response, "Nothing to show")
    client.force_login(org_viewer)
    names = {row.initiative.name for row in client.get(GAINS).context["gains"].rows}
    assert names == {"Review reminders", "Wallet pairing", "Ledger rota"}


def test_the_page_asks_to_sign_in(client):
    response = client.get(GAINS)
    assert response.status_code == 302 and "login" in response["Location"]


def test_nothing_to_show_explains_how_to_start(client, owner, outsider):
    client.force_login(owner)
    response = client.get(GAINS)
    assertContains(response, "Nothing to show for")
    assertContains(response, f'href="{reverse("actions:initiative-add")}"')
    client.force_login(outsider)  # not a lead: no link to a form they cannot use
    response = client.get(GAINS)
    assertContains(response, "ask your team's lead")
    assertNotContains(response, f'href="{reverse("actions:initiative-add")}"')


# --- The quarter ----------------------------------------------------------------------------------------------------


def test_the_quarter_defaults_to_the_current_one_and_can_be_picked(client, three, org_viewer, now):
    client.force_login(org_viewer)
    response = client.get(GAINS)
    assert response.context["quarter"] == gains.Quarter.of(org_today(now))
    # A quarter that ended before any of them started shows none of them.
    before = gains.Quarter.of(org_today(now) - timedelta(days=START_DAYS_AGO)).previous.previous
    response = client.get(GAINS, {"quarter": before.key})
    assert response.status_code == 200
    assert response.context["quarter"] == before and response.context["gains"].rows == ()
    assertContains(response, f"Velocity gains, {before.label}")


@pytest.mark.parametrize("asked", ["2026Q5", "Q4", "2026-Q4", "1999Q1", "x" * 300, "2026Q4\x00"])
def test_a_bad_quarter_is_refused_with_a_message(client, owner, asked):
    client.force_login(owner)
    response = client.get(GAINS, {"quarter": asked})
    assertContains(response, "Unknown quarter", status_code=400)
    assertContains(response, "2026Q4", status_code=400)
    assertContains(client.get(GAINS, {"format": "pdf"}), "the page offers csv only", status_code=400)


def test_quarters():
    q4 = gains.Quarter.parse("2026q4")
    assert q4 == gains.Quarter(2026, 4) and q4.first.isoformat() == "2026-10-01" and q4.last.isoformat() == "2026-12-31"
    assert q4.next.key == "2027Q1" and gains.Quarter(2026, 1).previous.key == "2025Q4"


def test_an_initiative_runs_in_a_quarter_from_its_start_to_the_end_of_its_after_window(three):
    worked = three["worked"]
    start_q = gains.Quarter.of(worked.starts_on)
    end_q = gains.Quarter.of(worked.starts_on + timedelta(days=WINDOW_DAYS - 1))
    assert gains.running_in(worked, start_q) and gains.running_in(worked, end_q)
    assert not gains.running_in(worked, start_q.previous)
    assert not gains.running_in(worked, end_q.next)


# --- Grouping, hours, sentiment -------------------------------------------------------------------------------------


def test_delivered_did_not_and_too_early(client, three, org_viewer):
    client.force_login(org_viewer)
    response = client.get(GAINS)
    found = response.context["gains"]
    assert [row.initiative.name for row in found.delivered] == ["Review reminders"]
    assert [row.initiative.name for row in found.not_delivered] == ["Wallet pairing"]
    assert [row.initiative.name for row in found.too_early] == ["Ledger rota"]
    worked = found.delivered[0]
    assert worked.report.metrics[0].estimate.high < 0 and not worked.associated
    flat = found.not_delivered[0].report.metrics[0].estimate
    assert flat.low < 0 < flat.high
    assertContains(response, "Pickup time fell by")
    assertContains(response, "Baseline only: it has not started")
    assertContains(response, "3 initiatives ran in Q")
    assertContains(response, "1 delivered, 1 did not, 1 too early or with too little data to tell; the delivered")
    assertContains(response, f'href="{reverse("actions:initiative-detail", args=[three["worked"].pk])}"')


def test_hours_saved_are_the_estimate_times_the_pull_requests_counted(client, three, org_viewer, review_teams, now):
    client.force_login(org_viewer)
    found = client.get(GAINS).context["gains"]
    row = found.delivered[0]
    estimate = row.report.metrics[0].estimate
    # The pull requests merged in Payments' after window with a pickup time, as the rollups count them.
    worked = three["worked"]
    window = d.Window.from_days(worked.starts_on, worked.starts_on + timedelta(days=WINDOW_DAYS), reading_profile())
    merged = PullRequest.objects.filter(
        service__owner=review_teams[0], merged_at__gte=window.start, merged_at__lt=window.end
    ).count()
    hours = row.hours
    assert hours.items == merged > 20 and not hours.so_far
    assert hours.value == pytest.approx(-estimate.value * merged)
    assert (hours.low, hours.high) == pytest.approx((-estimate.high * merged, -estimate.low * merged))
    assert hours.value > 0 and hours.low > 0
    assert (
        f"h less waiting for a first review per pull request × {merged} pull requests merged in the after window ≈"
        in hours.words
    )
    assert found.delivered_hours == pytest.approx(hours.value)
    # The flat one has an estimate too: its hours, with an interval across 0, are listed, not added to the total.
    flat = found.not_delivered[0].hours
    assert flat is not None and flat.low < 0 < flat.high
    assert found.too_early[0].hours is None


def test_a_running_initiative_counts_its_hours_so_far(client, review_teams, review_source, now, owner):
    """Three weeks into a four-week after window: the pull requests merged so far, and said so."""
    planted(review_teams, review_source, now, falls={"payments": 21})
    initiative = initiative_on([review_teams[0]], org_today(now) - timedelta(days=21), now=now)
    client.force_login(owner)
    row = client.get(GAINS).context["gains"].rows[0]
    assert row.report.phase == "running" and row.hours is not None and row.hours.so_far
    window = d.Window.from_days(initiative.starts_on, org_today(now), reading_profile())
    merged = PullRequest.objects.filter(
        service__owner=review_teams[0], merged_at__gte=window.start, merged_at__lt=window.end
    ).count()
    assert row.hours.items == merged > 15
    assert "merged in the after window so far" in row.hours.words


def test_a_sub_team_s_pull_requests_count_once(client, review_teams, review_source, subteam, now, org_viewer):
    """Payments and Payments API, below it, both treated: Payments' count holds its sub-team's already."""
    ServiceFactory(name="Payments API app", slug="payments-api-app", owner=subteam)
    planted([*review_teams, subteam], review_source, now, falls={"payments": START_DAYS_AGO, "payments-api": 35})
    start = org_today(now) - timedelta(days=START_DAYS_AGO)
    initiative_on([review_teams[0], subteam], start, now=now)
    client.force_login(org_viewer)
    row = client.get(GAINS).context["gains"].rows[0]
    window = d.Window.from_days(start, start + timedelta(days=WINDOW_DAYS), reading_profile())
    merged = PullRequest.objects.filter(
        service__owner__in=[review_teams[0], subteam], merged_at__gte=window.start, merged_at__lt=window.end
    ).count()
    # Whether or not this design gets a difference-in-differences, the count is the same.
    items, so_far = gains.items_counted(row.report, row.report.metrics[0], now=now, tree=TeamTree.load())
    assert (items, so_far) == (merged, False)
    assert row.hours is None or row.hours.items == merged


def test_hours_saved_words():
    saved = gains.HoursSaved(
        9, 4, 14, 120, "pull request", "pull requests", "merged", so_far=False, spent="waiting for a first review"
    )
    assert saved.words == (
        "9 h less waiting for a first review per pull request × 120 pull requests merged in the after window ≈ "
        "1,080 h saved (95% interval 480 h to 1,680 h)"
    )
    assert gains.HoursSaved(-0.5, -1, 0.2, 3, "change", "changes", "deployed", so_far=True).words.startswith(
        "0.5 h more per change × 3 changes deployed in the after window so far ≈ −2 h saved (95% interval −3 h to "
        "1 h, which includes none: no saving can be claimed)"
    )


def test_a_before_after_alone_gives_no_hours(client, team, service, review_source, now, owner):
    """One team, no comparison: the change is associated, and no hours are claimed."""
    planted([team], review_source, now, days=range(1, 12 * 7 * 2 + 8), falls={"payments": 12 * 7 + 7})
    initiative_on([team], org_today(now) - timedelta(days=12 * 7 + 7), now=now, window_days=12 * 7)
    client.force_login(owner)
    quarter = gains.Quarter.of(org_today(now))
    response = client.get(GAINS, {"quarter": quarter.key})
    row = response.context["gains"].rows[0]
    assert row.associated and row.hours is None
    assertContains(response, "associated rather than caused")


def test_points_of_sentiment_hide_a_group_below_k(client, org, closed, now):
    """Payments answered the wave closed two days before the start; Search only 2 (below k): no number for it."""
    Campaign.objects.filter(pk=closed.pk).update(closed_at=now - timedelta(days=3))
    initiative_on(
        [org.pay, org.search],
        org_today(now),
        now=now,
        dimension="ci_cd",
        primary_metrics=["pipeline_failure_rate"],
        guardrail_metric="",
    )
    client.force_login(org.users["lena"])
    response = client.get(GAINS)
    sentiment = response.context["gains"].rows[0].sentiment
    sides = {side.team.name: side for side in sentiment.sides}
    assert sides["Payments"].before is not None and sides["Search"].before is None
    assert sentiment.points is None  # no wave closed since: no change yet
    assertContains(response, "below the anonymity threshold")


def test_sentiment_change_is_the_shown_teams_mean():
    from actions.initiative_reads import SurveySide

    sides = (
        SurveySide(None, 50.0, 70.0, "", ""),
        SurveySide(None, 60.0, 70.0, "", ""),
        SurveySide(None, None, 80.0, "below k", ""),
    )
    sentiment = gains.Sentiment(sides)
    assert sentiment.points == pytest.approx(15.0) and sentiment.points_text == "+15 points"
    assert [text for _, text in sentiment.lines] == ["+20 points", "+10 points", None]


# --- The holdout ----------------------------------------------------------------------------------------------------


def test_the_holdout_of_the_visible_policies(client, policy, service, owner, outsider):
    for hours in range(10, 30):
        remind(policy, service, hours=hours, held_out=True)
    for hours in range(2, 22):
        remind(policy, service, hours=hours)
    client.force_login(owner)
    response = client.get(GAINS)
    assert response.context["gains"].policies == 1
    assertContains(response, "Reminded pull requests were picked up 8.0 h sooner at the median")
    assertContains(response, "19.5 h")  # the held-out median
    client.force_login(outsider)  # Search's: Payments' policy is not theirs to see
    response = client.get(GAINS)
    assert response.context["gains"].holdout is None
    assertContains(response, "Nothing to show")


def test_a_policy_with_a_holdout_and_too_few_reminders_says_so(client, policy, owner):
    client.force_login(owner)
    response = client.get(GAINS)
    assertContains(response, "Too few pull requests to tell yet (0 reminded, 0 held out")
    assertNotContains(response, "Nothing to show")


# --- CSV, print, links, queries -------------------------------------------------------------------------------------


def test_the_csv_has_a_row_per_initiative_and_the_holdout(client, three, org_viewer, policy, service):
    for hours in range(10, 30):
        remind(policy, service, hours=hours, held_out=True)
        remind(policy, service, hours=hours - 8)
    client.force_login(org_viewer)
    page = client.get(GAINS).context["gains"]
    for response in (client.get(GAINS, {"format": "csv"}), client.get(CSV)):
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f'filename="velocity-gains-{page.quarter.key}.csv"' in response["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        by_name = {row["initiative"]: row for row in rows}
        worked = by_name["Review reminders"]
        assert worked["record"] == "initiative" and worked["teams"] == "Payments"
        assert worked["metric"] == "pickup_time" and worked["verdict"] == "delivered"
        assert float(worked["low"]) < float(worked["estimate"]) < float(worked["high"]) < 0
        assert float(worked["hours_saved"]) == pytest.approx(page.delivered[0].hours.value, abs=0.01)
        assert by_name["Wallet pairing"]["verdict"] == "did not deliver"
        assert by_name["Ledger rota"]["verdict"] == "too early or too little data"
        assert by_name["Ledger rota"]["estimate"] == "" and by_name["Ledger rota"]["hours_saved"] == ""
        held = by_name["Review reminders' holdout"]
        assert held["record"] == "holdout" and float(held["estimate"]) == pytest.approx(-8.0)
    assert client.get(CSV, {"quarter": "2026Q9"}).status_code == 400


def test_the_page_prints_and_is_linked(client, three, owner):
    client.force_login(owner)
    assertContains(client.get(GAINS), 'media="print"')
    assertContains(client.get(reverse("actions:initiative-list")), f'href="{GAINS}"')
    assertContains(client.get(reverse("actions:automation-runs")), f'href="{GAINS}"')


def test_the_queries_are_bounded(client, three, org_viewer, review_teams, review_source, now):
    client.force_login(org_viewer)

    def counted(*, published: bool = False):
        if not published:
            cache.clear()  # every row computed on the visit
        with CaptureQueriesContext(connection) as queries:
            assert client.get(GAINS).status_code == 200
        return len(queries)

    first = counted()
    planted(review_teams, review_source, now, days=range(100, 460, 3))  # a year more of history
    assert counted() == first
    assert first <= 80, first  # about 15 a started initiative whatever its teams and candidates, 3 here
    assert counted(published=True) <= first - 20  # the rows published by the visit before: one cache read each


def test_rows_are_published_for_the_hour_and_by_the_hourly_task(
    client, three, org_viewer, review_teams, review_source, now
):
    """A started initiative's row is computed once and read back, with the initiative as it is now; the hourly task
    publishes every running one's again, so data that arrived since shows within the hour."""
    tree = TeamTree.load()
    worked = three["worked"]
    cache.clear()
    row = gains.published_row(worked, now=now, tree=tree)
    assert row.verdict == gains.Verdict.DELIVERED
    assert not [
        s for s in row.report.reads.candidates if s.team.pk not in {t.pk for t in row.report.metrics[0].comparison}
    ]
    worked.name = "Renamed since"
    with CaptureQueriesContext(connection) as queries:
        again = gains.published_row(worked, now=now, tree=tree)
    assert len(queries) == 1 and again.initiative.name == "Renamed since"
    assert again.report.headline == row.report.headline

    # The comparison teams' pickup fell with Payments': the published row stands until the task publishes again.
    others = review_teams[1:]
    planted(others, review_source, now, falls={team.slug: START_DAYS_AGO for team in others})
    assert gains.published_row(worked, now=now, tree=tree).verdict == gains.Verdict.DELIVERED
    assert tasks.initiatives_publish() == "2 started and 1 planned initiatives' reports published"
    assert gains.published_row(worked, now=timezone.now(), tree=tree).verdict != gains.Verdict.DELIVERED


def test_a_gain_paid_for_by_its_guardrail_is_no_delivery():
    from types import SimpleNamespace

    from actions import estimates, gains

    fell = estimates.Estimate(-9.0, -14.0, -4.0)
    worse = estimates.EstimateWarning(estimates.Code.GUARDRAIL_WORSENED, "Change failure rate worsened.")

    def report(*warnings):
        first = SimpleNamespace(estimate=fell, before_after=None, better=estimates.Better.LOWER, warnings=warnings)
        return SimpleNamespace(started=True, metrics=[first])

    assert gains.verdict(report()) == (gains.Verdict.DELIVERED, False)
    assert gains.verdict(report(worse)) == (gains.Verdict.NOT_DELIVERED, False)
    assert gains.guardrail_worsened(report(worse)) == "Change failure rate worsened."


def test_a_name_a_spreadsheet_would_run_is_exported_as_text():
    from e360.exports import spreadsheet_text

    assert spreadsheet_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_text("Review reminders") == "Review reminders"
