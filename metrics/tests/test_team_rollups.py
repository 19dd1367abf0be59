"""Team rollups: kept in step by service refreshes and catalog changes, and read for team figures."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e360.models import Service, Team
from e360.tests.factories import ServiceFactory, TeamFactory
from e360.tree import TeamTree
from metrics import definitions as d
from metrics import rollups
from metrics.models import (
    COUNT_FIELDS,
    DailyRollup,
    Deployment,
    PullRequest,
    RolledUpService,
    TeamRollup,
    TeamRollupVersion,
    TeamWeekRollup,
)
from metrics.refresh import rebuild, service_refresh
from metrics.rollups import Figures, Holders
from metrics.rollups import teams as team_rollups
from metrics.rollups.teams import whole_weeks
from metrics.scope import Scope, team_scope
from metrics.tests.factories import PullRequestFactory, SourceFactory
from metrics.tests.histories import T0, deploy, random_history


@pytest.fixture
def source(tree):
    return SourceFactory(name="ci", team=tree["org"])


def _history(source, seed: int) -> None:
    rng = random.Random(seed)
    for service in Service.objects.order_by("slug"):
        random_history(rng, source, service)
        service_refresh(service_id=service.id)


def _team_rows() -> list[tuple]:
    days = TeamRollup.objects.values_list("team__slug", "production", "day", *COUNT_FIELDS, "distributions")
    weeks = TeamWeekRollup.objects.values_list("team__slug", "production", "week", "distributions")
    assert weeks, "no week rows"
    return sorted(days, key=lambda row: row[:3]) + sorted(weeks, key=lambda row: row[:3])


def _assert_rows_equal_a_rebuild() -> None:
    kept = _team_rows()
    team_rollups.rebuild()
    assert kept == _team_rows()


def _summaries(scope: Scope) -> tuple[d.DoraSummary, d.DoraSummary]:
    """The scope's figures as pages read them, and from its services' own rollups (exact)."""
    window = d.Window.from_days(T0.date(), T0.date() + timedelta(days=60), scope.profile)
    from_teams = Figures(scope, [window]).summary(window)
    from_services = Figures(Holders.services(scope.service_ids), [window], scope.profile).summary(window)
    return from_teams, from_services


def _assert_close(ours: d.DurationStats, exact: d.DurationStats) -> None:
    assert ours.count == exact.count
    for mine, theirs in [(ours.median, exact.median), (ours.p75, exact.p75), (ours.p90, exact.p90)]:
        if theirs is None:
            assert mine is None
        else:
            assert abs(mine - theirs) <= theirs * d.histogram.ALPHA + timedelta(microseconds=1)


def _assert_same_figures(team: Team, visible_team_ids: set[int] | None = None) -> None:
    ours, exact = _summaries(team_scope(team, visible_team_ids))
    assert ours.deployment_frequency == exact.deployment_frequency
    assert ours.change_failure_rate == exact.change_failure_rate
    assert ours.rework == exact.rework
    assert ours.data_quality == exact.data_quality
    assert ours.lead_time.changes == exact.lead_time.changes
    for name in ("lead_time", "coding", "pickup", "review", "deploy"):
        _assert_close(getattr(ours.lead_time, name), getattr(exact.lead_time, name))
    _assert_close(ours.recovery.failed_deployment_recovery, exact.recovery.failed_deployment_recovery)
    _assert_close(ours.recovery.time_to_restore, exact.recovery.time_to_restore)
    assert ours.recovery.unrecovered == exact.recovery.unrecovered
    pipeline_counts = ("runs", "failed", "failure_rate", "commits", "flaky_commits", "flaky_rate")
    assert [getattr(ours.pipeline, n) for n in pipeline_counts] == [getattr(exact.pipeline, n) for n in pipeline_counts]
    _assert_close(ours.pipeline.duration, exact.pipeline.duration)
    _assert_close(ours.review.pickup, exact.review.pickup)
    _assert_close(ours.review.review, exact.review.review)
    assert (ours.review.sized, ours.review.waiting) == (exact.review.sized, exact.review.waiting)
    if exact.review.size_median is None:
        assert ours.review.size_median is None
    else:
        assert abs(ours.review.size_median - exact.review.size_median) <= exact.review.size_median * 0.01


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000))
def test_refreshes_keep_team_rollups_equal_to_a_rebuild_and_to_the_services_figures(tree, source, seed):
    for model in (TeamRollup, TeamWeekRollup, RolledUpService, DailyRollup, Deployment):
        model.objects.all().delete()
    _history(source, seed)
    _history(source, seed + 1)  # late records for every service: deltas on top of deltas

    _assert_rows_equal_a_rebuild()
    for team in tree.values():
        _assert_same_figures(team)


def test_days_with_too_many_values_to_keep_exactly_keep_figures_within_one_percent(tree, source, monkeypatch):
    monkeypatch.setattr(team_rollups, "EXACT_LIMIT", 2)
    _history(source, 5)
    _history(source, 6)

    assert any(
        isinstance(stored, dict)
        for row in TeamRollup.objects.values_list("distributions", flat=True)
        for stored in row.values()
    )
    for team in tree.values():
        _assert_same_figures(team)
    _assert_same_figures(tree["group"], {tree["group"].id, tree["alpha"].id})  # alpha's team rows, the group's services


def test_a_compared_window_reads_only_headline_figures_and_compares_the_same(tree, source):
    _history(source, 7)
    scope = team_scope(tree["org"], None)
    window = d.Window.from_days(T0.date() + timedelta(days=30), T0.date() + timedelta(days=60), scope.profile)
    before = d.previous_window(window, scope.profile)

    light = Figures(scope, [window], compared=before)
    full = Figures(scope, [before, window])

    assert d.compare_summaries(light.summary(window), light.summary(before)) == d.compare_summaries(
        full.summary(window), full.summary(before)
    )
    assert light.summary(before).review.waiting is None
    assert light.summary(before).pipeline.duration.count == 0  # not read


def test_a_service_counts_in_its_team_and_every_team_above_it(tree, source):
    checkout = Service.objects.get(slug="checkout")
    deploy(source, checkout, "d1", T0)
    service_refresh(service_id=checkout.id)

    counted = TeamRollup.objects.filter(production=True, day=T0.date(), deployments=1)
    assert set(counted.values_list("team__slug", flat=True)) == {"alpha", "group", "org"}
    lineage = [tree["alpha"].id, tree["group"].id, tree["org"].id]
    assert RolledUpService.objects.get(service_id=checkout.id).team_ids == lineage


def test_every_write_to_a_team_s_rows_gives_it_a_new_version_and_no_other_team(tree, source):
    def tokens():
        return dict(TeamRollupVersion.objects.values_list("team__slug", "token"))

    org = Holders.organisation()
    assert tokens() == {} and rollups.version(org) is None  # no rows, nothing to keep figures under
    checkout, search = Service.objects.get(slug="checkout"), Service.objects.get(slug="search")
    deploy(source, checkout, "d1", T0)
    service_refresh(service_id=checkout.id)
    first = tokens()
    assert set(first) == {"alpha", "group", "org"}
    assert rollups.version(org) == (str(first["org"]),)
    assert rollups.version(Holders.subtrees([tree["beta"].id], TeamTree.load())[tree["beta"].id]) is None
    service_refresh(service_id=checkout.id)  # nothing changed: the same versions
    assert tokens() == first
    deploy(source, search, "d2", T0)
    service_refresh(service_id=search.id)
    second = tokens()
    assert second["alpha"] == first["alpha"] and all(second[t] != first[t] for t in ("group", "org"))
    # A catalog change recomputes the teams whose services changed, and only those.
    search.owner = tree["alpha"]
    search.save()
    team_rollups.sync()
    third = tokens()
    assert third["group"] == second["group"] and third["org"] == second["org"]
    assert third["alpha"] != second["alpha"] and third["beta"] != second["beta"]
    # Service rows are not versioned: figures that read them are not kept.
    assert rollups.version(Holders.services([checkout.id])) is None


def test_a_service_changing_team_moves_its_figures_at_the_next_sync(tree, source):
    _history(source, 1)
    cart = Service.objects.get(slug="cart")
    cart.owner = tree["beta"]
    cart.save()

    assert "Recomputed the rollups of 2 teams" in team_rollups.sync()  # alpha and beta; group and org keep it
    assert team_rollups.sync() == "Team rollups are up to date"
    _assert_rows_equal_a_rebuild()
    _assert_same_figures(tree["beta"])
    _assert_same_figures(tree["alpha"])


def test_a_team_moving_moves_its_subtree_at_the_next_sync(tree, source):
    _history(source, 2)
    beta = tree["beta"]
    beta.parent = tree["org"]
    beta.save()

    assert "Recomputed the rollups of 1 teams" in team_rollups.sync()  # only the group lost services
    _assert_rows_equal_a_rebuild()
    _assert_same_figures(tree["group"])
    _assert_same_figures(tree["org"])


def test_a_deleted_service_leaves_its_teams_at_the_next_sync(tree, source):
    _history(source, 3)
    Service.objects.get(slug="search").delete()

    team_rollups.sync()
    _assert_rows_equal_a_rebuild()
    _assert_same_figures(tree["org"])
    assert not TeamRollup.objects.filter(team=tree["beta"]).exists()


def test_a_new_service_without_data_is_recorded_without_recomputing(tree, source):
    new = ServiceFactory(slug="new", name="New", owner=tree["beta"])
    assert team_rollups.sync() == "Team rollups are up to date"
    lineage = [tree["beta"].id, tree["group"].id, tree["org"].id]
    assert RolledUpService.objects.get(service_id=new.id).team_ids == lineage


def test_rebuild_recomputes_team_rollups_after_every_service(tree, source):
    _history(source, 4)
    TeamRollup.objects.all().delete()
    assert "Recomputed the rollups of 4 teams" in rebuild()
    _assert_same_figures(tree["org"])


def test_a_subtree_in_view_reads_one_team_rollup_and_a_team_alone_its_services(tree):
    group, alpha = tree["group"], tree["alpha"]
    platform = Service.objects.get(slug="platform")

    lead = team_scope(group, None)
    assert (lead.rollup_team_ids, lead.rollup_service_ids) == ((group.id,), ())

    member = team_scope(group, {group.id})  # sees the group, not its sub-teams
    assert (member.rollup_team_ids, member.rollup_service_ids) == ((), (platform.id,))

    both = team_scope(group, {group.id, alpha.id})  # a member of the group who leads alpha
    assert (both.rollup_team_ids, both.rollup_service_ids) == ((alpha.id,), (platform.id,))
    assert {s.slug for s in both.services} == {"platform", "checkout", "cart"}


def test_only_a_scope_of_every_team_reads_raw_rows_without_a_service_filter(tree):
    org, group = tree["org"], tree["group"]
    assert team_scope(org, None).everything
    assert team_scope(org, None).filter_ids is None
    assert team_scope(org, set(Team.objects.values_list("id", flat=True))).everything
    assert not team_scope(org, {org.id, group.id}).everything  # sub-teams out of view
    assert not team_scope(group, None).everything
    TeamFactory(slug="other-root", name="Another organisation root")
    assert not team_scope(org, None).everything  # a second tree's services are not in scope


def test_a_window_reads_week_rows_only_for_weeks_no_window_holds_in_part(tree):
    profile = team_scope(tree["org"], None).profile
    monday = date(2026, 3, 2)

    def window(first: date, days: int) -> d.Window:
        return d.Window.from_days(first, first + timedelta(days=days), profile)

    # Tuesday to the Monday four weeks on: three whole weeks, edge days on either side.
    assert whole_weeks([window(monday + timedelta(days=1), 28)], profile) == [
        monday + timedelta(days=7 * n) for n in (1, 2, 3)
    ]
    # A second window splitting the second week: that week is read by days.
    split = [window(monday + timedelta(days=1), 10), window(monday + timedelta(days=11), 18)]
    assert whole_weeks(split, profile) == [monday + timedelta(days=14), monday + timedelta(days=21)]
    # The compared window before it, read on its own: its own whole weeks.
    assert whole_weeks([window(monday - timedelta(days=28), 28)], profile) == [
        monday - timedelta(days=7 * n) for n in (4, 3, 2, 1)
    ]


def test_many_teams_read_at_once_have_the_figures_each_team_reads_alone(tree, source, django_assert_num_queries):
    _history(source, 11)
    profile = team_scope(tree["org"], None).profile
    windows = [
        d.Window.from_days(T0.date() + timedelta(days=n), T0.date() + timedelta(days=n + 7), profile)
        for n in range(0, 56, 7)
    ] + [d.Window.from_days(T0.date(), T0.date() + timedelta(days=56), profile)]
    teams = list(tree.values())
    team_tree = TeamTree.load()
    with django_assert_num_queries(4):  # the services, then the rollups: however many teams
        together = Figures.of_teams(
            Holders.subtrees([t.id for t in teams], team_tree), windows, now=T0 + timedelta(days=90)
        )
        read = {team: figures.days for team, figures in together.items()}
    for team in teams:
        alone = Figures(team_scope(team, None), windows, now=T0 + timedelta(days=90))
        assert read[team.id] == alone.days
        assert together[team.id].service_ids == (alone.service_ids and tuple(sorted(alone.service_ids)))
        for window in windows:
            assert together[team.id].summary(window) == alone.summary(window)


def test_the_review_queue_of_each_service_adds_up_to_the_queue_of_all(tree):
    service_ids = list(Service.objects.values_list("id", flat=True))
    rng = random.Random(3)
    for n in range(40):
        opened = T0 + timedelta(hours=rng.randrange(0, 24 * 20))
        attended = opened + timedelta(hours=rng.randrange(1, 24 * 10)) if n % 3 else None
        PullRequestFactory(service_id=rng.choice(service_ids), opened_at=opened, attended_at=attended)
    ats = [T0 + timedelta(days=n) for n in (5, 10, 15, 20, 30)]
    prs = PullRequest.objects.all()
    by_service = prs.waiting_for_review_counts_by_service(ats, timedelta(hours=24))
    assert [sum(column) for column in zip(*by_service.values(), strict=True)] == prs.waiting_for_review_counts(
        ats, timedelta(hours=24)
    )
    for service, counts in by_service.items():
        assert counts == prs.filter(service_id=service).waiting_for_review_counts(ats, timedelta(hours=24))
