"""The insights refresh: what it stores per period, who counts as a peer and as a point, the correlations' seeds,
the hourly task and the command.

Survey figures come from the survey results tests' hand-made organisation; the metric readings of the
correlation tests are set per team (``selectors.team_readings`` is tested against rollups in test_engine_inputs.py).
"""

from __future__ import annotations

import importlib
from io import StringIO

from django.apps import apps as django_apps
from django.core.management import call_command
from django_q.models import Schedule

from e360.models import Team
from insights import engine, services, tasks
from insights.models import PairResult, PeriodResult, TeamResult
from insights.selectors import STANDARD_DAYS
from insights.tests.squads import readings, squad_waves


def test_a_refresh_stores_every_team_and_every_pair_once(org, closed, metrics_by_team):
    services.insights_refresh(days=90)
    period = services.insights_refresh(days=90)  # again: replaced, not added
    assert PeriodResult.objects.count() == 1
    assert period.campaign == closed and period.previous_campaign is None
    assert TeamResult.objects.filter(period=period).count() == Team.objects.count() == 6
    assert PairResult.objects.filter(period=period, team=None).count() == len(services.pairs()) == 33
    # And again for each team with sub-teams, across the leaf teams below it.
    scoped = PairResult.objects.filter(period=period, team__isnull=False).values_list("team__slug", flat=True)
    assert sorted(set(scoped)) == ["eng", "pay"] and len(scoped) == 2 * 33
    leaves = set(TeamResult.objects.filter(leaf=True).values_list("team__slug", flat=True))
    assert leaves == {"pay-api", "search", "tiny", "sales-tools"}
    assert period.leaf_teams == 4
    assert period.window_end > period.window_start


def test_a_hidden_team_s_items_carry_no_sentiment_number(org, closed, metrics_by_team):
    services.insights_refresh(days=90)
    search = TeamResult.objects.get(team=org.search)  # 2 responses, fewer than k = 3
    for item in search.items:
        if item["sentiment"] is not None:
            assert item["sentiment"]["shown"] is False
            assert item["sentiment"]["percent_favourable"] is None and item["sentiment"]["responses"] == 0
            assert item["sentiment"]["hidden_text"] == "fewer than 3 responses"
    assert "favourable" not in " ".join(item["explanation"] for item in search.items)
    pay = TeamResult.objects.get(team=org.pay)
    ci = next(item for item in pay.items if item["dimension"] == "ci_cd")
    assert ci["sentiment"]["shown"] is True and ci["sentiment"]["responses"] == 7


def test_peers_are_the_teams_at_the_same_depth_whose_metric_rests_on_enough(org, closed, metrics_by_team):
    metrics_by_team.update(
        {
            "Payments": [readings(pipeline_failure_rate=(0.30, 40))],
            "Search": [readings(pipeline_failure_rate=(0.10, 40))],
            "Tiny": [readings(pipeline_failure_rate=(0.90, 3))],  # too little data: not a peer
            "Payments API": [readings(pipeline_failure_rate=(0.01, 40))],  # one level below: not a peer
            "Engineering": [readings(pipeline_failure_rate=(0.05, 400))],
        }
    )
    services.insights_refresh(days=30)
    pay = TeamResult.objects.get(team=org.pay)
    ci = next(item for item in pay.items if item["dimension"] == "ci_cd")
    failure = next(m for m in ci["metrics"] if m["key"] == "pipeline_failure_rate")
    assert failure["peers"] == 1  # Search
    assert failure["note"] == "too few teams to compare (2, need 5)"
    assert TeamResult.objects.get(team=org.pay).metrics["pipeline_failure_rate"] == [0.30, "30%", 40]


def test_the_org_ranking_weighs_leaf_teams_by_their_people(org, closed, metrics_by_team):
    period = services.insights_refresh(days=90)
    people = dict(TeamResult.objects.filter(period=period, leaf=True).values_list("team__slug", "people"))
    assert people == {"pay-api": 3, "search": 4, "tiny": 2, "sales-tools": 1}
    assert len(period.org_ranking) == len(engine.DIMENSIONS)
    assert {item["dimension"] for item in period.org_ranking} == set(engine.DIMENSIONS_BY_KEY)


def test_the_org_grid_holds_each_leaf_team_s_label_and_score_per_dimension(org, closed, metrics_by_team):
    period = services.insights_refresh(days=90)
    assert sorted(team for team, _, _ in period.org_grid) == sorted(
        TeamResult.objects.filter(period=period, leaf=True).values_list("team_id", flat=True)
    )
    for team, people, cells in period.org_grid:
        result = TeamResult.objects.get(period=period, team=team)
        assert people == result.people
        stored = {item["dimension"]: [item["label"], item["score"]] for item in result.items}
        assert cells == [stored.get(d.key, ["no signal", 0.0]) for d in engine.DIMENSIONS]
    # 10 people in 4 leaf teams; nobody in two of them.
    assert period.leaf_people == 10


def test_the_migration_fills_the_grid_of_results_stored_before_it(org, closed, metrics_by_team):
    fill = importlib.import_module("insights.migrations.0002_org_grid").fill
    period = services.insights_refresh(days=90)
    PeriodResult.objects.update(org_grid=[], leaf_people=0)
    fill(django_apps, None)
    again = PeriodResult.objects.get()
    assert sorted(again.org_grid) == sorted(period.org_grid) and again.leaf_people == period.leaf_people


def test_every_store_and_the_migration_give_a_period_a_version_of_its_own(org, closed, metrics_by_team):
    first = services.insights_refresh(days=90).version
    assert services.insights_refresh(days=90).version != first
    services.insights_refresh(days=30)
    PeriodResult.objects.update(version=first)  # what adding the column does
    importlib.import_module("insights.migrations.0003_period_version").versions(django_apps, None)
    assert len(set(PeriodResult.objects.values_list("version", flat=True)) - {first}) == 2


# --- Correlations -------------------------------------------------------------------------------------------------


def test_a_pair_is_correlated_over_the_shown_leaf_teams_with_a_stable_seed(org, metrics_by_team):
    first = [0, 1, 2, 3, 4, 0, 1, 2, 3]
    second = [1, 2, 3, 4, 4, 1, 2, 3, 4]
    squads, _ = squad_waves(org, first, second)
    for n, team in enumerate(squads):
        # The better a squad feels about CI, the lower its failure rate; each improved as its score did.
        current = readings(pipeline_failure_rate=(0.5 - 0.1 * second[n] + 0.001 * n, 50))
        before_previous = readings(pipeline_failure_rate=(0.5 - 0.1 * first[n], 50))
        metrics_by_team[team.name] = [current, before_previous, current]
    metrics_by_team["Search"] = [readings(pipeline_failure_rate=(0.99, 50))]  # too few responses: never a point
    period = services.insights_refresh(days=90)
    pair = PairResult.objects.get(period=period, team=None, dimension="ci_cd", metric="pipeline_failure_rate")
    assert pair.n == 9 and pair.rho is not None and pair.rho < -0.9
    assert pair.high < 0  # the interval excludes zero
    assert {name for _, name, _, _ in pair.points} == {team.name for team in squads}
    assert pair.change_n == 9 and pair.change_rho < 0
    # The seed is the pair's: the same data give the same interval.
    again = PairResult.objects.get(
        period=services.insights_refresh(days=90), team=None, dimension="ci_cd", metric="pipeline_failure_rate"
    )
    assert (again.low, again.high, again.change_low, again.change_high) == (
        pair.low,
        pair.high,
        pair.change_low,
        pair.change_high,
    )
    assert services.pair_seed("level", "ci_cd", "flaky_rate") != services.pair_seed("change", "ci_cd", "flaky_rate")


def test_below_eight_teams_a_pair_stores_no_number_and_no_points(org, metrics_by_team):
    squads, _ = squad_waves(org, [0, 1, 2, 3, 4, 0, 1], [0, 1, 2, 3, 4, 0, 1])
    for n, team in enumerate(squads):
        metrics_by_team[team.name] = [readings(pipeline_failure_rate=(0.1 * n, 50))]
    period = services.insights_refresh(days=90)
    pair = PairResult.objects.get(period=period, team=None, dimension="ci_cd", metric="pipeline_failure_rate")
    assert (pair.n, pair.rho, pair.low, pair.high, pair.points) == (7, None, None, None, [])


def test_a_team_whose_metric_rests_on_too_little_is_not_a_point(org, metrics_by_team):
    squads, _ = squad_waves(org, [0, 1, 2, 3, 4, 0, 1, 2], [0, 1, 2, 3, 4, 0, 1, 2])
    for n, team in enumerate(squads):
        metrics_by_team[team.name] = [readings(pipeline_failure_rate=(0.1 * n, 50 if n else 9))]
    period = services.insights_refresh(days=90)
    pair = PairResult.objects.get(period=period, team=None, dimension="ci_cd", metric="pipeline_failure_rate")
    assert pair.n == 7 and pair.rho is None


# --- Task, schedule, command --------------------------------------------------------------------------------------


def test_the_hourly_schedule_runs_the_refresh(db):
    schedule = Schedule.objects.get(func="insights.tasks.refresh")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)


def test_the_task_refreshes_every_standard_period(org, closed, metrics_by_team):
    assert tasks.refresh().startswith("queued")
    assert sorted(PeriodResult.objects.values_list("days", flat=True)) == list(STANDARD_DAYS)
    assert tasks.refresh_period(45) == "45 days is not a standard period: nothing computed"


def test_the_command_reports_progress(org, closed, metrics_by_team):
    out = StringIO()
    call_command("refresh_insights", "--days", "30", stdout=out)
    text = out.getvalue()
    assert "Insights over the last 30 days:" in text
    assert "team 6 of 6" in text
    assert "6 teams (4 without sub-teams), 33 dimension–metric pairs" in text
    assert list(PeriodResult.objects.values_list("days", flat=True)) == [30]
