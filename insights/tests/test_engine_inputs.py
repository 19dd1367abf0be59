"""What the engine is fed (``insights.selectors``' readers and waves): a team's mapped metrics read from rollups
(against values computed by hand from the records written below), and its sentiment read from stored survey figures
(shown cells only)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from e360.tests.factories import ServiceFactory
from insights import selectors
from metrics.inputs import PipelineRunInput, PullRequestInput, ReviewInput
from metrics.scope import reading_profile
from metrics.services import Dirty, pipeline_run_upsert, pull_request_upsert
from metrics.tests import histories
from surveys.anonymity import ORG, Status
from surveys.models import Campaign
from surveys.tests.waves import PAY, answer, close, open_wave, pay_waves

# The delivery pages' clock and history (metrics/tests/histories.py), as fixtures of this module.
history, now = histories.history, histories.now


H = 3600.0


@pytest.fixture
def ledger(subteam):
    return ServiceFactory(name="Ledger", slug="ledger", owner=subteam)


@pytest.fixture
def recorded(history, service, ledger, now):
    """The last 30 days of Payments (checkout) and its sub-team (ledger):

    - three pull requests merged 20.5, 10.5 and 5.5 days ago, each with its first commit 30 h, opening 26 h and
      first review 20 h before merging (coding 4 h, pickup 6 h, review 20 h), 120, 60 and 30 lines changed, each
      deployed half a day after merging (deploy 12 h, lead time 42 h);
    - four production deployments: those three and ledger's, 3 days ago; the one 10 days ago failed (an incident
      2 h later, restored 3 h after that);
    - one pull request opened 2 days ago, still waiting for a first review;
    - four CI runs on the default branch: sha a failed then passed (flaky), b passed, c failed; 10, 20, 30 and
      40 minutes long.
    """
    for n, days_ago in enumerate((20.5, 10.5, 5.5), start=1):
        merged = now - timedelta(days=days_ago)
        pull_request_upsert(
            source=history.source,
            data=PullRequestInput(
                external_id=f"pr-{n}",
                repository="acme/checkout",
                service=service.slug,
                number=n,
                author="ada",
                first_commit_at=merged - timedelta(hours=30),
                opened_at=merged - timedelta(hours=26),
                merged_at=merged,
                additions=(120, 60, 30)[n - 1],
                deletions=0,
                reviews=(
                    ReviewInput(external_id=f"pr-{n}-r", author="bob", submitted_at=merged - timedelta(hours=20)),
                ),
            ),
            dirty=Dirty(),
        )
        history.deploy(service, f"d{n}", days_ago - 0.5, sha=f"{n}" * 40, changes=(f"pr-{n}",))
    history.deploy(ledger, "l1", 3)
    history.incident(service, "INC-1", 10 - 2 / 24, hours_to_restore=3, title="Card payments failing")
    pull_request_upsert(
        source=history.source,
        data=PullRequestInput(
            external_id="waiting",
            repository="acme/checkout",
            service=service.slug,
            number=9,
            author="ada",
            opened_at=now - timedelta(days=2),
        ),
        dirty=Dirty(),
    )
    runs = [("a", "failure", 10), ("a", "success", 20), ("b", "success", 30), ("c", "failure", 40)]
    for n, (sha, status, minutes) in enumerate(runs):
        finished = now - timedelta(days=4, hours=-n)
        pipeline_run_upsert(
            source=history.source,
            data=PipelineRunInput(
                external_id=f"run-{n}",
                workflow="ci",
                status=status,
                service=service.slug,
                branch="main",
                sha=sha * 40,
                attempt=2 if n == 1 else 1,
                started_at=finished - timedelta(minutes=minutes),
                finished_at=finished,
            ),
            dirty=Dirty(),
        )
        history.services.add(service.id)
    history.refresh()
    return history


def test_a_team_s_metrics_are_its_subtree_s_read_from_rollups(team, recorded, now):
    window = selectors.window(30, now, reading_profile())
    [found] = selectors.team_readings(team, [window], now=now)
    values = {key: (reading.value, reading.sample) for key, reading in found.items()}
    assert values == {
        "pipeline_failure_rate": (pytest.approx(2 / 4), 4),
        "flaky_rate": (pytest.approx(1 / 3), 3),
        "pipeline_p50_duration": (pytest.approx(25 * 60), 4),
        "pipeline_p90_duration": (pytest.approx(37 * 60), 4),  # 30 + 0.7 × (40 − 30) minutes
        "deployment_frequency": (pytest.approx(4 / 30), 4),  # ledger's (the sub-team's) counts too
        "pickup_time": (pytest.approx(6 * H), 3),
        "review_time": (pytest.approx(20 * H), 3),
        "prs_waiting_24h": (1.0, 3),
        "lead_time": (pytest.approx(42 * H), 3),
        "deploy_time": (pytest.approx(12 * H), 3),
        "change_failure_rate": (pytest.approx(1 / 4), 4),
        "recovery_time": (pytest.approx(5 * H), 1),  # the incident began 2 h after and was restored 3 h later
        "rework_rate": (0.0, 4),
        "coding_time": (pytest.approx(4 * H), 3),
        "pr_size": (pytest.approx(60), 3),
    }
    assert found["pipeline_failure_rate"].display == "50%"
    assert found["pickup_time"].display == "6 h"
    assert found["deployment_frequency"].display == "4.1 per month"


def test_pull_requests_sent_without_a_size_give_no_pr_size_never_zero(team, history, service, now):
    merged = now - timedelta(days=2)
    data = PullRequestInput(
        external_id="unsized",
        repository="acme/checkout",
        service=service.slug,
        opened_at=merged - timedelta(hours=5),
        merged_at=merged,
    )
    pull_request_upsert(source=history.source, data=data, dirty=Dirty())
    history.services.add(service.id)
    history.refresh()
    [found] = selectors.team_readings(team, [selectors.window(30, now, reading_profile())], now=now)
    assert (found["pr_size"].value, found["pr_size"].sample, found["pr_size"].display) == (None, 0, "no data")


def test_a_team_without_records_has_no_data_never_zero(team, now):
    [found] = selectors.team_readings(team, [selectors.window(90, now, reading_profile())], now=now)
    assert all(r.value is None and r.display == "no data" for k, r in found.items() if k != "prs_waiting_24h")
    assert found["prs_waiting_24h"].value == 0  # an empty review queue is a count of none


def test_each_window_is_read_on_its_own(team, recorded, now):
    profile = reading_profile()
    last_week, last_month = selectors.window(7, now, profile), selectors.window(30, now, profile)
    week, month = selectors.team_readings(team, [last_week, last_month], now=now)
    assert (week["deployment_frequency"].sample, month["deployment_frequency"].sample) == (2, 4)


def test_people_are_counted_per_team_itself(org):
    people = selectors.people_by_team()
    assert (people[org.pay.pk], people[org.api.pk], people[org.eng.pk]) == (6, 3, 2)


# --- Sentiment ----------------------------------------------------------------------------------------------------


def test_the_latest_wave_is_the_latest_closed_one_with_dimension_questions(org, closed):
    assert selectors.latest_wave() == closed
    second = open_wave(org, series=closed.series, wave=2)
    assert selectors.latest_wave() == closed  # open
    answer(second, org.pay, *PAY)
    second = close(second)
    assert selectors.latest_wave() == second
    assert selectors.previous_wave(second) == closed
    assert selectors.dimensions_asked(second) == ["ci_cd", "focus"]


def test_an_organisation_wide_wave_is_preferred_to_a_later_one_of_a_few_teams(org, closed):
    everyone = open_wave(org)
    Campaign.objects.filter(pk=everyone.pk).update(everyone=True)
    answer(everyone, org.pay, *PAY)
    everyone = close(everyone)
    one_team = open_wave(org)  # a later survey of Engineering only (a post-incident survey, say)
    answer(one_team, org.pay, *PAY)
    close(one_team)
    assert selectors.latest_wave() == everyone


def test_a_shown_team_s_sentiment_carries_its_score_and_the_org_s(org, closed):
    wave = selectors.WaveFigures.load(closed)
    found = {s.dimension: s for s in selectors.sentiments(org.pay.pk, wave, None, ["ci_cd", "focus"])}
    row = wave.rows[org.pay.pk]
    assert found["ci_cd"].shown and found["ci_cd"].responses == 7
    assert found["ci_cd"].percent_favourable == pytest.approx(row.dimensions["ci_cd"]["score"])
    assert found["ci_cd"].org_percent == pytest.approx(wave.rows[ORG].dimensions["ci_cd"]["score"])
    assert found["ci_cd"].previous_percent is None


def test_a_hidden_team_s_sentiment_has_no_number(org, closed):
    wave = selectors.WaveFigures.load(closed)
    [ci] = selectors.sentiments(org.search.pk, wave, None, ["ci_cd"])  # 2 responses, k = 3
    assert (ci.shown, ci.percent_favourable, ci.responses, ci.hidden_text) == (
        False,
        None,
        0,
        "fewer than 3 responses",
    )


def test_the_previous_wave_is_not_compared_when_the_change_would_be_that_of_fewer_than_k_people(org):
    first, second = pay_waves(org, 4, 5)  # the same four people, and a fifth
    wave, before = selectors.WaveFigures.load(second), selectors.WaveFigures.load(first)
    [pay] = selectors.sentiments(org.pay.pk, wave, before, ["ci_cd"])
    assert pay.shown and pay.previous_percent is None
    assert not wave.change_shown(org.pay.pk, before, "ci_cd")


def test_the_previous_wave_is_compared_only_where_shown_in_both(org, closed):
    second = open_wave(org, series=closed.series, wave=2)
    answer(second, org.pay, *PAY)  # pay alone: 4 responses (shown), pay-api none
    second = close(second)
    wave, before = selectors.WaveFigures.load(second), selectors.WaveFigures.load(closed)
    [pay] = selectors.sentiments(org.pay.pk, wave, before, ["ci_cd"])
    assert pay.previous_percent == pytest.approx(before.rows[org.pay.pk].dimensions["ci_cd"]["score"])
    assert wave.cell(org.api.pk).status == Status.NO_DATA


def test_a_parent_is_not_shown_for_a_campaign_of_one_of_its_teams(org):
    campaign = open_wave(org)
    campaign.teams.set([org.pay])  # invite Payments (and Payments API) only, not Engineering
    campaign.invitations.exclude(team__in=[org.pay, org.api]).delete()
    answer(campaign, org.pay, *PAY)
    campaign = close(campaign)
    wave = selectors.WaveFigures.load(campaign)
    assert org.eng.pk not in wave.teams
    assert wave.cell(org.eng.pk).status == Status.NO_DATA
    assert wave.score(org.eng.pk, "ci_cd") is None
    assert wave.cell(org.pay.pk).shown
