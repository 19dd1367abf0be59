"""Every rule of docs/metrics.md#definitions, one behaviour per test. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from metrics.definitions import (
    CAUSE_HOTFIX,
    CAUSE_INCIDENT,
    CAUSE_ROLLBACK,
    INCIDENT_EXPLICIT,
    INCIDENT_WINDOW,
    LINK_COMMIT_RANGE,
    LINK_MERGED_BETWEEN,
    LINK_NONE,
    LINK_SENT,
    REWORK_HOTFIX,
    REWORK_INCIDENT_OPEN,
    REWORK_ROLLBACK,
    ChangeRec,
    DeploymentChanges,
    DeploymentFrequency,
    DeploymentRec,
    DurationStats,
    IncidentRec,
    Levels,
    PipelineRunRec,
    Profile,
    Window,
    bucket_day,
    change_failure_rate,
    change_failure_rate_level,
    compare,
    compare_summaries,
    data_quality,
    deployment_frequency,
    deployment_frequency_level,
    deployments_by_day,
    derive_facts,
    dora_summary,
    failed_deployments,
    failing_workflows,
    iso_week,
    lead_time,
    lead_time_level,
    link_changes,
    link_incidents,
    median,
    percentile,
    pipeline_reliability,
    previous_success_deployments,
    previous_window,
    recovery,
    recovery_level,
    review_health,
    rework_deployments,
    rework_rate,
    span,
    waiting_for_review,
    week_start,
    weekly_series,
    whole_iso_weeks,
    whole_months,
)

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday
MARCH = Window.from_days(date(2024, 3, 1), date(2024, 4, 1), "UTC")
DEVLAKE = Profile.devlake()


def at(days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def dep(
    id: str,
    finished: datetime,
    *,
    service: str = "checkout",
    env: str = "production",
    status: str = "success",
    sha: str | None = None,
    started: datetime | None = None,
    repository: str | None = "acme/checkout",
    **kwargs,
) -> DeploymentRec:
    return DeploymentRec(
        id=id,
        service=service,
        environment=env,
        status=status,
        started_at=started or finished - timedelta(minutes=5),
        finished_at=finished,
        sha=sha if sha is not None else f"sha-{id}",
        repository=repository,
        **kwargs,
    )


def pr(
    id: str,
    merged: datetime | None,
    *,
    first_commit: datetime | None = None,
    opened: datetime | None = None,
    review: datetime | None = None,
    service: str = "checkout",
    repository: str | None = "acme/checkout",
    merge_sha: str | None = None,
    **kwargs,
) -> ChangeRec:
    base = merged or T0
    return ChangeRec(
        id=id,
        service=service,
        repository=repository,
        merge_sha=merge_sha if merge_sha is not None else f"merge-{id}",
        first_commit_at=first_commit or base - timedelta(hours=3),
        opened_at=opened or base - timedelta(hours=2),
        first_review_at=review,
        merged_at=merged,
        **kwargs,
    )


def inc(id: str, started: datetime, resolved: datetime | None = None, *, service: str = "checkout", **kwargs):
    return IncidentRec(id=id, service=service, started_at=started, resolved_at=resolved, **kwargs)


def run(
    id: str,
    finished: datetime,
    status: str = "success",
    *,
    sha: str = "a1",
    workflow: str = "ci",
    attempt: int = 1,
    minutes: float = 10,
    **kwargs,
) -> PipelineRunRec:
    return PipelineRunRec(
        id=id,
        service=kwargs.pop("service", "checkout"),
        workflow=workflow,
        sha=sha,
        status=status,
        attempt=attempt,
        started_at=finished - timedelta(minutes=minutes),
        finished_at=finished,
        **kwargs,
    )


def freq(
    week: float | None, month: float | None, *, deployment_days: int = 10, days: float = 90
) -> DeploymentFrequency:
    return DeploymentFrequency(
        deployments=deployment_days,
        days=days,
        deployment_days=deployment_days,
        whole_weeks=12,
        whole_months=2,
        deployments_per_day=deployment_days / days,
        deployment_days_per_week=week,
        deployment_days_per_month=month,
        failed_attempts=0,
    )


# --- Vocabulary: production, time of a deployment, org time zone, windows ------------------------


@pytest.mark.parametrize("environment", ["production", "Production", "PROD", "prd", "PRODUCTION", " prod "])
def test_production_patterns_match_case_insensitively(environment):
    assert Profile.default().is_production_environment(environment)


@pytest.mark.parametrize("environment", ["staging", "preprod", "production-like", "", None])
def test_other_environments_are_not_production(environment):
    assert not Profile.default().is_production_environment(environment)


def test_production_patterns_are_fnmatch_patterns():
    profile = Profile(production_patterns=("prod-*",))
    assert profile.is_production_environment("PROD-eu")
    assert not profile.is_production_environment("production")


def test_a_service_can_have_its_own_production_patterns():
    profile = Profile(service_production_patterns={"search": ("live",)})
    assert profile.is_production_environment("live", "search")
    assert not profile.is_production_environment("production", "search")
    assert profile.is_production_environment("production", "checkout")


def test_devlakes_production_environment_matches():
    assert Profile.devlake().is_production_environment("PRODUCTION")
    assert not Profile.devlake().is_production_environment("prod")


def test_a_failed_attempt_counts_for_reliability_not_frequency():
    deployments = [dep("ok", at(1)), dep("broken", at(2), status="failure"), dep("err", at(3), status="error")]
    df = deployment_frequency(deployments, MARCH)
    assert df.deployments == 1
    assert df.failed_attempts == 2
    facts = derive_facts(deployments, [], [])
    assert change_failure_rate(deployments, facts.failures, MARCH).deployments == 1


def test_failed_attempts_to_staging_are_not_counted():
    df = deployment_frequency([dep("s", at(1), env="staging", status="failure")], MARCH)
    assert df.failed_attempts == 0


def test_a_deployment_counts_when_it_finishes():
    window = Window(at(0), at(1))
    started_inside_finished_after = dep("late", at(1, minutes=1), started=at(0, hours=23))
    started_before_finished_inside = dep("early", at(0, minutes=1), started=at(-1))
    df = deployment_frequency([started_inside_finished_after, started_before_finished_inside], window)
    assert df.deployments == 1


def test_unfinished_deployments_do_not_count():
    running = DeploymentRec("r", "checkout", "production", "success", at(1), None)
    assert deployment_frequency([running], MARCH).deployments == 0


def test_records_require_timezone_aware_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        DeploymentRec("d", "checkout", "production", "success", None, datetime(2024, 3, 4, 9))


def test_days_are_cut_in_the_org_time_zone():
    late_sunday_utc = datetime(2024, 3, 3, 23, 30, tzinfo=UTC)
    assert bucket_day(late_sunday_utc, "UTC") == date(2024, 3, 3)
    assert bucket_day(late_sunday_utc, "Europe/Berlin") == date(2024, 3, 4)
    assert iso_week(late_sunday_utc, "UTC") == (2024, 9)
    assert iso_week(late_sunday_utc, "Europe/Berlin") == (2024, 10)
    assert week_start(2024, 10) == date(2024, 3, 4)


def test_deployment_days_are_counted_in_the_org_time_zone():
    # 23:30 UTC on 4 March is 00:30 on 5 March in Berlin
    evening_utc = [dep("a", datetime(2024, 3, 4, 23, 30, tzinfo=UTC)), dep("b", datetime(2024, 3, 5, 1, tzinfo=UTC))]
    assert deployment_frequency(evening_utc, MARCH).deployment_days == 2
    berlin = Profile(time_zone="Europe/Berlin")
    berlin_march = Window.from_days(date(2024, 3, 1), date(2024, 4, 1), berlin)
    assert deployment_frequency(evening_utc, berlin_march, berlin).deployment_days == 1


def test_window_is_half_open():
    window = Window(at(0), at(1))
    assert window.contains(at(0))
    assert not window.contains(at(1))
    assert not window.contains(None)


def test_window_end_must_follow_its_start():
    with pytest.raises(ValueError, match="after its start"):
        Window(at(1), at(1))


def test_last_days_window_ends_with_today_and_has_that_many_calendar_days():
    now = datetime(2024, 4, 10, 15, 0, tzinfo=UTC)
    window = Window.last_days(90, now=now, tz="Europe/Berlin")
    assert window.end == datetime(2024, 4, 11, tzinfo=Profile(time_zone="Europe/Berlin").zone)
    assert window.contains(now)
    assert window.days("Europe/Berlin") == 90


def test_a_dst_day_still_counts_as_one_day():
    spring_forward = Window.from_days(date(2024, 3, 31), date(2024, 4, 1), "Europe/Berlin")
    assert spring_forward.length == timedelta(hours=23)
    assert spring_forward.days("Europe/Berlin") == 1


def test_the_previous_window_has_the_same_number_of_days():
    window = Window.from_days(date(2024, 3, 1), date(2024, 4, 1), "Europe/Berlin")
    previous = previous_window(window, "Europe/Berlin")
    assert previous == Window.from_days(date(2024, 1, 30), date(2024, 3, 1), "Europe/Berlin")
    assert previous.days("Europe/Berlin") == window.days("Europe/Berlin") == 31


def test_the_previous_window_of_an_unaligned_window_has_the_same_length():
    window = Window(at(0, hours=3), at(2))
    assert previous_window(window) == Window(at(-2, hours=6), at(0, hours=3))


def test_whole_iso_weeks_and_months_inside_a_window():
    assert whole_iso_weeks(MARCH, "UTC") == [date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18), date(2024, 3, 25)]
    assert whole_months(MARCH, "UTC") == [date(2024, 3, 1)]
    assert whole_months(Window.from_days(date(2024, 3, 2), date(2024, 4, 1), "UTC"), "UTC") == []


# --- Percentiles ----------------------------------------------------------------------------------


def test_interpolated_percentile_is_postgres_percentile_cont():
    assert percentile([4, 1, 3, 2], 0.5) == 2.5
    assert percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert percentile([1, 2, 3, 4], 0) == 1
    assert percentile([1, 2, 3, 4], 1) == 4
    assert median([7]) == 7


def test_lower_median_is_devlakes_max_where_percent_rank_is_at_most_a_half():
    assert median([1, 2, 3, 4], "lower") == 2
    assert median([1, 2, 3], "lower") == 2
    # ties share the lowest rank: percent ranks 0, 0, 2/3, 1
    assert median([1, 1, 2, 3], "lower") == 1
    assert percentile([10, 20, 30, 40, 50], 0.9, "lower") == 40


def test_percentile_of_nothing_is_none():
    assert percentile([], 0.5) is None
    assert median([], "lower") is None
    assert DurationStats.of([None, None]) == DurationStats(0, None, None, None)


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan")])
def test_percentile_rejects_q_outside_zero_to_one(q):
    with pytest.raises(ValueError, match="q must be"):
        percentile([1, 2], q)


def test_duration_stats_report_median_p75_p90():
    stats = DurationStats.of([timedelta(hours=h) for h in (1, 2, 3, 4, 5)])
    assert stats == DurationStats(5, timedelta(hours=3), timedelta(hours=4), timedelta(hours=4, minutes=36))


# --- Deployment frequency --------------------------------------------------------------------------


def test_deployments_per_day_divides_production_deployments_by_days_in_the_window():
    deployments = [dep(str(i), at(i)) for i in range(6)] + [dep("stg", at(1), env="staging")]
    assert deployment_frequency(deployments, MARCH).deployments_per_day == 6 / 31


def test_deployment_days_per_week_is_the_median_over_whole_iso_weeks():
    # week of 4 March: 2 days (3 deployments); 11 March: 1 day; 18 and 25 March: none;
    # 1-3 March belong to a week that starts before the window, so do not count.
    deployments = [dep("a", at(0)), dep("b", at(0, hours=2)), dep("c", at(1)), dep("d", at(8)), dep("e", at(-2))]
    df = deployment_frequency(deployments, MARCH)
    assert df.deployments == 5
    assert df.deployment_days == 4
    assert df.whole_weeks == 4
    assert df.deployment_days_per_week == 0.5
    assert deployment_frequency(deployments, MARCH, DEVLAKE).deployment_days_per_week == 0


def test_several_deployments_on_one_day_make_one_deployment_day():
    df = deployment_frequency([dep(str(i), at(0, minutes=i)) for i in range(5)], MARCH)
    assert (df.deployments, df.deployment_days) == (5, 1)


def test_deployment_days_per_month_is_the_median_over_whole_months():
    window = Window.from_days(date(2024, 1, 1), date(2024, 4, 1), "UTC")
    deployments = [dep("jan", datetime(2024, 1, 9, tzinfo=UTC))] + [
        dep(f"feb{i}", datetime(2024, 2, 1 + i, tzinfo=UTC)) for i in range(3)
    ]
    df = deployment_frequency(deployments, window)
    assert df.whole_months == 3
    assert df.deployment_days_per_month == 1  # median of 1, 3, 0


def test_deployment_frequency_without_deployments_is_no_data():
    df = deployment_frequency([dep("stg", at(1), env="staging")], MARCH)
    assert df.deployments == 0
    assert df.deployments_per_day is None
    assert df.deployment_days_per_week is None
    assert deployment_frequency_level(df) is None


@pytest.mark.parametrize(
    ("week", "month", "level"),
    [(5, 20, "elite"), (4.5, 20, "high"), (1, 4, "high"), (0.5, 2, "medium"), (0, 1, "medium"), (0, 0.5, "low")],
)
def test_deployment_frequency_levels_2023(week, month, level):
    assert deployment_frequency_level(freq(week, month), 2023) == level


@pytest.mark.parametrize(
    ("week", "month", "deployment_days", "days", "level"),
    [
        (5, 20, 60, 90, "elite"),
        (0, 1, 3, 90, "high"),  # once a month is medium in 2023, high in 2021
        (0, 0, 1, 90, "medium"),  # at least once per six months
        (0, 0, 1, 400, "low"),
    ],
)
def test_deployment_frequency_levels_2021(week, month, deployment_days, days, level):
    assert deployment_frequency_level(freq(week, month, deployment_days=deployment_days, days=days), 2021) == level


def test_a_window_without_a_whole_week_rates_deployment_days_instead():
    window = Window.from_days(date(2024, 3, 5), date(2024, 3, 8), "UTC")  # Tuesday to Thursday
    df = deployment_frequency([dep("a", at(1)), dep("b", at(2)), dep("c", at(3))], window)
    assert df.deployment_days_per_week is None
    assert df.weekly_deployment_days == 7
    assert deployment_frequency_level(df) == "elite"


# --- Lead time for changes ------------------------------------------------------------------------


def deploy_one(change: ChangeRec, finished: datetime, profile: Profile | None = None, **dep_kwargs):
    deployment = dep("d1", finished, changes=(change.id,), **dep_kwargs)
    facts = derive_facts([deployment], [change], [], profile)
    return facts.lead_times[change.id]


def test_lead_time_runs_from_first_commit_to_the_deployment_finish():
    change = pr("p1", at(0, hours=5), first_commit=at(0), opened=at(0, hours=1), review=at(0, hours=3))
    lt = deploy_one(change, at(1))
    assert lt.deployment_id == "d1"
    assert lt.deployed_at == at(1)
    assert lt.lead_time == timedelta(days=1)
    assert (lt.coding, lt.pickup, lt.review, lt.deploy) == (
        timedelta(hours=1),
        timedelta(hours=2),
        timedelta(hours=2),
        timedelta(hours=19),
    )


def test_negative_components_are_none():
    # opened before the (rebased) first commit; reviewed before it was opened
    change = pr("p1", at(0, hours=5), first_commit=at(0, hours=2), opened=at(0, hours=1), review=at(0, hours=0.5))
    lt = deploy_one(change, at(0, hours=4))  # "deployed" before the merge: clocks lie
    assert lt.coding is None
    assert lt.pickup is None
    assert lt.review == timedelta(hours=4, minutes=30)
    assert lt.deploy is None
    assert lt.lead_time == timedelta(hours=2)


def test_a_pull_request_without_a_non_author_review_has_no_pickup_or_review_time():
    lt = deploy_one(pr("p1", at(0), review=None), at(1))
    assert lt.pickup is None
    assert lt.review is None


def test_a_change_is_deployed_by_the_first_production_deployment_containing_it():
    change = pr("p1", at(0))
    first = dep("first", at(1), changes=("p1",))
    again = dep("again", at(2), changes=("p1",))
    staging = dep("stg", at(0, hours=1), env="staging", changes=("p1",))
    facts = derive_facts([again, staging, first], [change], [])
    assert facts.change_links.deployed_by == {"p1": "first"}
    assert facts.lead_times["p1"].deployed_at == at(1)
    assert facts.change_links.deployments["again"].change_ids == ("p1",)  # it contains it, did not deploy it first


def test_a_failed_deployment_deploys_nothing():
    change = pr("p1", at(0))
    facts = derive_facts([dep("broken", at(1), status="failure", changes=("p1",))], [change], [])
    assert facts.lead_times["p1"].deployed_at is None
    assert facts.lead_times["p1"].lead_time is None


def direct_push(id: str, sha: str, committed_at: datetime, *, size: int | None = None) -> ChangeRec:
    """A push straight to the default branch, as the write service stores it: its commit time is first commit,
    opening and merge (``metrics.services``)."""
    return ChangeRec(
        id=id,
        service="checkout",
        repository="acme/checkout",
        merge_sha=sha,
        first_commit_at=committed_at,
        opened_at=committed_at,
        merged_at=committed_at,
        size=size,
        is_direct_push=True,
        commit_shas=(sha,),
    )


def test_a_direct_push_is_a_change_with_its_commit_time_as_first_commit_and_merge():
    push = direct_push("push-1", "abc1234", at(0))
    assert push.first_commit_at == push.merged_at == at(0)
    lt = deploy_one(push, at(0, hours=2))
    assert lt.lead_time == lt.deploy == timedelta(hours=2)
    assert (lt.coding, lt.pickup, lt.review) == (None, None, None)


def test_unmerged_pull_requests_are_not_changes():
    facts = derive_facts([dep("d1", at(1), changes=("open",))], [pr("open", None)], [])
    assert "open" not in facts.lead_times


def test_lead_time_covers_changes_deployed_in_the_window_whenever_they_were_merged():
    old = pr("old", at(-30), first_commit=at(-31))  # merged in January, deployed in the window
    late = pr("late", at(26))
    d1 = dep("d1", at(0), changes=("old",))
    d2 = dep("d2", at(30), changes=("late",))  # 3 April: after the window
    facts = derive_facts([d1, d2], [old, late], [])
    summary = lead_time(facts.lead_times.values(), MARCH)
    assert summary.changes == 1
    assert summary.median == timedelta(days=31)


def test_lead_time_reports_median_p75_p90_and_component_medians():
    changes = [pr(f"p{h}", at(0), first_commit=at(0, hours=-h)) for h in (1, 2, 3, 4, 5)]
    deployment = dep("d", at(0), changes=tuple(c.id for c in changes))
    facts = derive_facts([deployment], changes, [])
    summary = lead_time(facts.lead_times.values(), MARCH)
    assert summary.lead_time == DurationStats(5, timedelta(hours=3), timedelta(hours=4), timedelta(hours=4.6))
    assert summary.deploy.median == timedelta(0)
    # opened 2 h before the merge, first commits 1-5 h before: coding -1 h (None), 0, 1, 2, 3 h
    assert summary.coding == DurationStats(4, timedelta(hours=1.5), timedelta(hours=2.25), timedelta(hours=2.7))


@pytest.mark.parametrize(
    ("value", "level_2023", "level_2021"),
    [
        (timedelta(minutes=59), "elite", "elite"),
        (timedelta(hours=1), "elite", "high"),
        (timedelta(days=1), "high", "high"),
        (timedelta(days=7), "medium", "medium"),
        (timedelta(days=30), "low", "medium"),
        (timedelta(days=180), "low", "low"),
        (None, None, None),
    ],
)
def test_lead_time_levels(value, level_2023, level_2021):
    assert lead_time_level(value, 2023) == level_2023
    assert lead_time_level(value, 2021) == level_2021


# --- Which changes a deployment contains --------------------------------------------------------------


def test_first_deployment_links_only_the_sent_list():
    merged_before = pr("p1", at(-1))
    sent = pr("p2", at(-2))
    links = link_changes([dep("d1", at(0), changes=("p2",))], [merged_before, sent])
    assert links.deployments["d1"].rule == LINK_SENT
    assert links.deployments["d1"].change_ids == ("p2",)


def test_first_deployment_without_a_sent_list_links_nothing():
    links = link_changes([dep("d1", at(0))], [pr("p1", at(-1))], {("x", "sha-d1"): {"merge-p1"}})
    assert links.deployments["d1"] == links.deployments["d1"].__class__("d1", LINK_NONE, ())
    assert links.deployed_by == {}


def test_the_sent_list_wins_over_the_commit_range():
    d1, d2 = dep("d1", at(0)), dep("d2", at(1), changes=("p2",))
    links = link_changes([d1, d2], [pr("p1", at(0.5)), pr("p2", at(0.5))], {("sha-d1", "sha-d2"): {"merge-p1"}})
    assert (links.deployments["d2"].rule, links.deployments["d2"].change_ids) == (LINK_SENT, ("p2",))


def test_the_sent_list_names_changes_by_id_or_by_commit_sha():
    by_merge = pr("p1", at(0), merge_sha="1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    by_commit = pr("p2", at(0), commit_shas=("2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",))
    other_service = pr("p3", at(0), service="search")
    sent = ("1111111", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "p3")
    links = link_changes([dep("d1", at(1), changes=sent)], [by_merge, by_commit, other_service])
    assert links.deployments["d1"].change_ids == ("p1", "p2")


def test_an_empty_sent_list_says_the_deployment_ships_no_change():
    d1, d2, d3 = dep("d1", at(0)), dep("d2", at(1), changes=()), dep("d3", at(2))
    links = link_changes([d1, d2, d3], [pr("p1", at(0.5)), pr("p2", at(1.5))])
    assert links.deployments["d2"] == DeploymentChanges("d2", LINK_SENT, ())
    # What was merged before it waits for the next deployment that ships something.
    assert links.deployments["d3"] == DeploymentChanges("d3", LINK_MERGED_BETWEEN, ("p1", "p2"))


def test_an_absent_sent_list_leaves_the_deployment_to_the_other_rules():
    d1, d2 = dep("d1", at(0)), dep("d2", at(1), changes=None)
    links = link_changes([d1, d2], [pr("p1", at(0.5))])
    assert links.deployments["d2"] == DeploymentChanges("d2", LINK_MERGED_BETWEEN, ("p1",))


def test_an_empty_sent_list_on_a_first_deployment_links_nothing_and_starts_nothing():
    d1, d2 = dep("d1", at(0), changes=()), dep("d2", at(1))
    links = link_changes([d1, d2], [pr("p1", at(-1)), pr("p2", at(0.5))])
    assert links.deployments["d1"] == DeploymentChanges("d1", LINK_SENT, ())
    assert links.deployments["d2"] == DeploymentChanges("d2", LINK_NONE, ())


def test_the_commit_range_links_changes_merged_between_the_two_shas():
    d1, d2 = dep("d1", at(0), sha="aaa"), dep("d2", at(1), sha="bbb")
    in_range, outside = pr("p1", at(-5), merge_sha="m1"), pr("p2", at(0.5), merge_sha="m2")
    links = link_changes([d1, d2], [in_range, outside], {("aaa", "bbb"): {"m1", "c9"}})
    assert (links.deployments["d2"].rule, links.deployments["d2"].change_ids) == (LINK_COMMIT_RANGE, ("p1",))


def test_the_commit_range_starts_at_the_previous_deployment_of_the_same_service_and_repository():
    d1 = dep("d1", at(0), sha="aaa")
    other_repo = dep("x", at(0.5), sha="xxx", repository="acme/other")
    other_service = dep("y", at(0.6), sha="yyy", service="search")
    d2 = dep("d2", at(1), sha="bbb")
    ranges = {("aaa", "bbb"): {"m1"}, ("xxx", "bbb"): {"m2"}, ("yyy", "bbb"): {"m2"}}
    links = link_changes([d1, other_repo, other_service, d2], [pr("p1", at(0), merge_sha="m1")], ranges)
    assert links.deployments["d2"].change_ids == ("p1",)


def test_redeploying_the_same_sha_links_no_changes():
    d1, d2 = dep("d1", at(0), sha="aaa"), dep("d2", at(1), sha="aaa")
    links = link_changes([d1, d2], [pr("p1", at(0.5))])
    assert (links.deployments["d2"].rule, links.deployments["d2"].change_ids) == (LINK_COMMIT_RANGE, ())


def test_the_fallback_links_prs_merged_after_the_previous_finished_and_before_this_started():
    d1 = dep("d1", at(0))
    d2 = dep("d2", at(1), started=at(0, hours=20))
    changes = [
        pr("before", at(0, hours=-1)),
        pr("at_previous_finish", at(0)),
        pr("between", at(0, hours=10)),
        pr("during_d2", at(0, hours=21)),
        pr("other_branch", at(0, hours=10), base_branch_is_default=False),
        pr("other_service", at(0, hours=10), service="search"),
        pr("other_repo", at(0, hours=10), repository="acme/other"),
    ]
    links = link_changes([d1, d2], changes)  # no commit range known
    assert links.deployments["d2"].rule == LINK_MERGED_BETWEEN
    assert links.deployments["d2"].change_ids == ("at_previous_finish", "between")


def test_a_flagged_rollback_gets_no_newly_merged_changes_the_next_deployment_does():
    d1, rollback, d3 = dep("d1", at(0)), dep("rb", at(1), is_rollback=True), dep("d3", at(2))
    links = link_changes([d1, rollback, d3], [pr("p1", at(0.5)), pr("p2", at(1.5))])
    assert links.deployments["rb"] == DeploymentChanges("rb", LINK_NONE, ())
    assert links.deployments["d3"] == DeploymentChanges("d3", LINK_MERGED_BETWEEN, ("p1", "p2"))
    assert links.deployed_by == {"p1": "d3", "p2": "d3"}


def test_redeploying_an_older_sha_is_a_rollback_for_the_fallback_too():
    d1, d2 = dep("d1", at(0), sha="aaa"), dep("d2", at(1), sha="bbb")
    back, d4 = dep("back", at(2), sha="aaa"), dep("d4", at(3), sha="ccc")
    changes = [pr("p1", at(0.5)), pr("p2", at(1.5)), pr("p3", at(2.5))]
    links = link_changes([d1, d2, back, d4], changes)  # no commit range known
    assert links.deployments["back"] == DeploymentChanges("back", LINK_NONE, ())
    assert links.deployments["d4"] == DeploymentChanges("d4", LINK_MERGED_BETWEEN, ("p2", "p3"))


def test_consecutive_rollbacks_leave_the_changes_to_the_next_deployment_that_is_not_one():
    deployments = [
        dep("d1", at(0)),
        dep("rb1", at(1), is_rollback=True),
        dep("rb2", at(2), is_rollback=True),
        dep("d4", at(3)),
    ]
    links = link_changes(deployments, [pr("p1", at(0.5)), pr("p2", at(1.5)), pr("p3", at(2.5))])
    assert [links.deployments[i].change_ids for i in ("rb1", "rb2")] == [(), ()]
    assert links.deployments["d4"].change_ids == ("p1", "p2", "p3")


def test_a_rollback_that_sends_its_change_list_keeps_it():
    d1, rollback = dep("d1", at(0)), dep("rb", at(1), is_rollback=True, changes=("p1",))
    links = link_changes([d1, rollback], [pr("p1", at(0.5))])
    assert links.deployments["rb"] == DeploymentChanges("rb", LINK_SENT, ("p1",))


def test_a_redeploy_of_the_same_sha_does_not_start_the_fallback_window():
    d1, same = dep("d1", at(0), sha="aaa"), dep("same", at(1), sha="aaa")
    d3 = dep("d3", at(2), sha="ccc")
    links = link_changes([d1, same, d3], [pr("p1", at(0.5)), pr("p2", at(1.5))])
    assert links.deployments["same"] == DeploymentChanges("same", LINK_COMMIT_RANGE, ())
    assert links.deployments["d3"] == DeploymentChanges("d3", LINK_MERGED_BETWEEN, ("p1", "p2"))


def test_a_deployment_without_a_repository_takes_prs_of_all_the_service_repositories():
    d1, d2 = dep("d1", at(0), repository=None), dep("d2", at(1), repository=None)
    links = link_changes([d1, d2], [pr("a", at(0.5)), pr("b", at(0.5), repository="acme/other")])
    assert links.deployments["d2"].change_ids == ("a", "b")


def test_the_devlake_profile_has_no_merged_between_fallback():
    links = link_changes([dep("d1", at(0)), dep("d2", at(1))], [pr("p1", at(0.5))], profile=DEVLAKE)
    assert links.deployments["d2"].rule == LINK_NONE


def test_previous_success_deployment_is_per_service_repository_and_environment():
    deployments = [
        dep("p1", at(0)),
        dep("stg", at(1), env="staging"),
        dep("fail", at(2), status="failure"),
        dep("other", at(3), repository="acme/other"),
        dep("p2", at(4)),
        dep("stg2", at(5), env="staging"),
        dep("noenv", at(6), env=""),
    ]
    assert previous_success_deployments(deployments) == {
        "p1": None,
        "stg": None,
        "other": None,
        "p2": "p1",
        "stg2": "stg",
    }


# --- Incident linking ---------------------------------------------------------------------------------


def test_an_incident_links_to_the_latest_production_deployment_finished_before_it():
    deployments = [dep("d1", at(0)), dep("d2", at(1)), dep("stg", at(1, hours=1), env="staging")]
    links = link_incidents([inc("early", at(0, hours=12)), inc("late", at(1, hours=2))], deployments)
    assert {i: link.deployment_id for i, link in links.items()} == {"early": "d1", "late": "d2"}
    assert links["late"].rule == INCIDENT_WINDOW


def test_a_deployment_finishing_when_the_incident_starts_is_not_before_it():
    links = link_incidents([inc("i", at(1))], [dep("d1", at(0)), dep("d2", at(1))])
    assert links["i"].deployment_id == "d1"


def test_an_incident_more_than_w_after_the_last_deployment_is_not_linked():
    deployments = [dep("d1", at(0))]
    assert link_incidents([inc("week", at(7))], deployments)["week"].deployment_id == "d1"  # at most W
    assert link_incidents([inc("late", at(7, seconds=1))], deployments) == {}


def test_no_cap_on_the_link_window_reproduces_devlake():
    links = link_incidents([inc("late", at(60))], [dep("d1", at(0))], Profile(incident_link_window=None))
    assert links["late"].deployment_id == "d1"


def test_an_incident_never_links_to_another_services_deployment():
    assert link_incidents([inc("i", at(1), service="search")], [dep("d1", at(0))]) == {}


def test_caused_by_wins_over_the_linking_rule():
    links = link_incidents([inc("i", at(2), caused_by="d1")], [dep("d1", at(0)), dep("d2", at(1))])
    assert (links["i"].deployment_id, links["i"].rule) == ("d1", INCIDENT_EXPLICIT)


def test_caused_by_an_unknown_deployment_falls_back_to_the_rule():
    links = link_incidents([inc("i", at(2), caused_by="gone")], [dep("d1", at(1))])
    assert (links["i"].deployment_id, links["i"].rule) == ("d1", INCIDENT_WINDOW)


def test_a_root_cause_sha_links_to_the_first_deployment_of_that_sha():
    sha = "abcdef0123456789abcdef0123456789abcdef01"
    deployments = [dep("d1", at(0), sha=sha), dep("d2", at(1)), dep("d3", at(2), sha=sha)]
    links = link_incidents([inc("i", at(30), root_cause_sha="abcdef0")], deployments)
    assert (links["i"].deployment_id, links["i"].rule) == ("d1", INCIDENT_EXPLICIT)


def test_a_root_cause_sha_of_a_change_links_to_the_deployment_that_shipped_it():
    change = pr("p1", at(0), merge_sha="feedface00112233445566778899aabbccddeeff")
    deployments = [dep("d1", at(0)), dep("d2", at(1), changes=("p1",)), dep("d3", at(2))]
    facts = derive_facts(deployments, [change], [inc("i", at(3), root_cause_sha="feedface")])
    assert facts.incident_links["i"].deployment_id == "d2"


# --- Change failure rate --------------------------------------------------------------------------------


def test_three_incidents_on_one_deployment_count_as_one_failure():
    deployments = [dep("d1", at(0)), dep("d2", at(1)), dep("d3", at(2)), dep("d4", at(3))]
    incidents = [inc(f"i{n}", at(2, hours=n)) for n in (1, 2, 3)]
    facts = derive_facts(deployments, [], incidents)
    assert facts.failures["d3"].incident_ids == ("i1", "i2", "i3")
    cfr = change_failure_rate(deployments, facts.failures, MARCH)
    assert (cfr.failed, cfr.deployments, cfr.value) == (1, 4, 0.25)


def test_a_deployment_followed_by_a_flagged_rollback_failed():
    facts = derive_facts([dep("d1", at(0)), dep("d2", at(1), is_rollback=True)], [], [])
    assert facts.failures["d1"].causes == (CAUSE_ROLLBACK,)
    assert facts.failures["d1"].fixed_by == "d2"
    assert "d2" not in facts.failures


def test_redeploying_an_older_sha_is_a_rollback():
    deployments = [dep("d1", at(0), sha="A"), dep("d2", at(1), sha="B"), dep("d3", at(2), sha="A")]
    facts = derive_facts(deployments, [], [])
    assert set(facts.failures) == {"d2"}
    assert facts.rework == {"d3": (REWORK_ROLLBACK,)}


def test_redeploying_the_same_sha_is_not_a_rollback():
    facts = derive_facts([dep("d1", at(0), sha="A"), dep("d2", at(1), sha="A")], [], [])
    assert facts.failures == {}


def test_a_rollback_is_judged_against_the_same_environment_only():
    deployments = [
        dep("eu1", at(0), sha="A", env="prod-eu"),
        dep("eu2", at(1), sha="B", env="prod-eu"),
        dep("us1", at(2), sha="A", env="prod-us"),
    ]
    facts = derive_facts(deployments, [], [], Profile(production_patterns=("prod-*",)))
    assert facts.failures == {}


def test_a_hotfix_within_w_marks_the_previous_deployment_failed():
    facts = derive_facts([dep("d1", at(0)), dep("d2", at(2), is_hotfix=True)], [], [])
    assert facts.failures["d1"].causes == (CAUSE_HOTFIX,)


def test_a_hotfix_later_than_w_does_not():
    facts = derive_facts([dep("d1", at(0)), dep("d2", at(8), is_hotfix=True)], [], [])
    assert facts.failures == {}
    assert facts.rework == {"d2": (REWORK_HOTFIX,)}


@pytest.mark.parametrize(("ref", "title"), [("hotfix/login", None), (None, "Revert 'new checkout'"), ("HOTFIX-12", "")])
def test_a_hotfix_is_recognised_by_its_ref_or_title(ref, title):
    facts = derive_facts([dep("d1", at(0)), dep("d2", at(1), ref=ref, title=title)], [], [])
    assert facts.failures["d1"].causes == (CAUSE_HOTFIX,)


def test_the_hotfix_pattern_is_configurable():
    profile = Profile(hotfix_pattern=r"^fix/")
    deployments = [dep("d1", at(0)), dep("d2", at(1), ref="fix/cart"), dep("d3", at(2), title="hotfix")]
    facts = derive_facts(deployments, [], [], profile)
    assert set(facts.failures) == {"d1"}


def test_a_failure_with_several_causes_is_one_failure_with_all_its_causes():
    deployments = [dep("d1", at(0)), dep("d2", at(1), is_rollback=True)]
    facts = derive_facts(deployments, [], [inc("i", at(0, hours=1))])
    assert facts.failures["d1"].causes == (CAUSE_INCIDENT, CAUSE_ROLLBACK)
    assert change_failure_rate(deployments, facts.failures, MARCH).failed == 1


def test_an_incident_blamed_on_a_staging_deployment_fails_no_production_deployment():
    deployments = [dep("prod", at(0)), dep("stg", at(1), env="staging")]
    incidents = [inc("i", at(2), caused_by="stg")]
    links = link_incidents(incidents, deployments)
    assert links["i"].deployment_id == "stg"
    assert failed_deployments(deployments, incidents, links) == {}


def test_change_failure_rate_counts_deployments_by_their_time_in_the_window():
    deployments = [dep("feb", at(-5)), dep("mar", at(0))]
    facts = derive_facts(deployments, [], [inc("i", at(-4))])  # the February deployment failed
    cfr = change_failure_rate(deployments, facts.failures, MARCH)
    assert (cfr.failed, cfr.deployments, cfr.value) == (0, 1, 0)


def test_change_failure_rate_without_deployments_is_no_data():
    cfr = change_failure_rate([], {}, MARCH)
    assert (cfr.failed, cfr.deployments, cfr.value) == (0, 0, None)
    assert change_failure_rate_level(cfr.value) is None


@pytest.mark.parametrize(
    ("value", "level_2023", "level_2021"),
    [(0, "elite", "elite"), (0.05, "elite", "elite"), (0.1, "high", "elite"), (0.15, "medium", "elite"),
     (0.2, "low", "high"), (0.3, "low", "medium"), (0.31, "low", "low")],
)  # fmt: skip
def test_change_failure_rate_levels(value, level_2023, level_2021):
    assert change_failure_rate_level(value, 2023) == level_2023
    assert change_failure_rate_level(value, 2021) == level_2021


# --- Failed deployment recovery time and time to restore ------------------------------------------------


def test_fdrt_runs_to_the_latest_resolution_of_the_linked_incidents():
    incidents = [inc("i1", at(0, hours=1), at(0, hours=3)), inc("i2", at(0, hours=2), at(0, hours=5))]
    facts = derive_facts([dep("d1", at(0))], [], incidents)
    assert facts.failures["d1"].recovered_at == at(0, hours=5)
    assert facts.failures["d1"].recovery_time == timedelta(hours=5)


def test_fdrt_takes_the_rollback_when_it_comes_first():
    deployments = [dep("d1", at(0)), dep("d2", at(0, hours=2), is_rollback=True)]
    facts = derive_facts(deployments, [], [inc("i1", at(0, hours=1), at(0, hours=6))])
    assert facts.failures["d1"].recovery_time == timedelta(hours=2)


def test_fdrt_waits_until_every_linked_incident_is_resolved():
    incidents = [inc("i1", at(0, hours=1), at(0, hours=3)), inc("i2", at(0, hours=2), None)]
    facts = derive_facts([dep("d1", at(0))], [], incidents)
    assert facts.failures["d1"].recovered_at is None
    assert facts.failures["d1"].recovery_time is None
    assert recovery(facts.failures, incidents, MARCH, deployments=facts.deployments).unrecovered == 1


def test_fdrt_median_is_over_failed_deployments_recovered_in_the_window():
    deployments = [dep("feb", at(-6)), dep("d1", at(0)), dep("d2", at(1)), dep("apr", at(27))]
    incidents = [
        inc("a", at(-6, hours=1), at(-5)),  # recovered a day later, in February
        inc("b", at(0, hours=1), at(0, hours=2)),  # 2 h
        inc("c", at(1, hours=1), at(1, hours=4)),  # 4 h
        inc("d", at(27, hours=1), None),
    ]
    facts = derive_facts(deployments, [], incidents)
    result = recovery(facts.failures, facts.incidents, MARCH, deployments=facts.deployments)
    assert result.failed_deployment_recovery.count == 2
    assert result.median == timedelta(hours=3)
    assert result.unrecovered == 1


def test_time_to_restore_is_the_median_over_incidents_resolved_in_the_window():
    incidents = [
        inc("a", at(-10), at(-3, hours=-10)),  # resolved in February
        inc("b", at(-4), at(0)),  # 4 days, resolved in March
        inc("c", at(1), at(1, hours=2)),  # 2 hours
        inc("d", at(2), None),
    ]
    result = recovery({}, incidents, MARCH)
    assert result.time_to_restore.count == 2
    assert result.time_to_restore.median == timedelta(days=2, hours=1)
    assert result.median is None  # no failed deployment: FDRT has no data, not 0


@pytest.mark.parametrize(
    ("value", "level"),
    [(timedelta(minutes=59), "elite"), (timedelta(hours=1), "high"), (timedelta(days=1), "medium"),
     (timedelta(days=7), "low"), (None, None)],
)  # fmt: skip
def test_recovery_levels_are_the_same_for_both_years(value, level):
    assert recovery_level(value, 2023) == recovery_level(value, 2021) == level


# --- Deployment rework rate ---------------------------------------------------------------------------------


def test_rework_counts_rollbacks_hotfixes_and_deployments_while_an_incident_is_open():
    deployments = [
        dep("d1", at(0)),
        dep("rollback", at(1), is_rollback=True),
        dep("hotfix", at(2), title="hotfix: cart total"),
        dep("during", at(3, hours=2)),
        dep("plain", at(5)),
    ]
    incidents = [inc("open", at(3, hours=1), at(3, hours=3))]
    rework = rework_deployments(deployments, incidents)
    assert rework == {
        "rollback": (REWORK_ROLLBACK,),
        "hotfix": (REWORK_HOTFIX,),
        "during": (REWORK_INCIDENT_OPEN,),
    }
    rate = rework_rate(deployments, rework, MARCH)
    assert (rate.rework, rate.deployments, rate.value) == (3, 5, 0.6)
    assert rate.by_reason == {REWORK_ROLLBACK: 1, REWORK_HOTFIX: 1, REWORK_INCIDENT_OPEN: 1}


def test_a_deployment_that_is_rework_for_several_reasons_counts_once():
    deployments = [dep("d1", at(0)), dep("d2", at(1), is_rollback=True, is_hotfix=True)]
    rework = rework_deployments(deployments, [inc("i", at(0, hours=1))])
    assert rework["d2"] == (REWORK_ROLLBACK, REWORK_HOTFIX, REWORK_INCIDENT_OPEN)
    assert rework_rate(deployments, rework, MARCH).rework == 1


def test_an_incident_of_another_service_or_already_resolved_does_not_make_rework():
    deployments = [dep("d1", at(1))]
    incidents = [inc("other", at(0), None, service="search"), inc("resolved", at(0), at(0, hours=1))]
    assert rework_deployments(deployments, incidents) == {}


def test_rework_has_no_level():
    assert "rework" not in Levels.__dataclass_fields__


# --- Pipeline reliability ------------------------------------------------------------------------------------


def test_pipeline_failure_rate_is_over_default_branch_runs_finished_in_the_window_cancelled_excluded():
    runs = [
        run("ok", at(0)),
        run("bad", at(1), "failure"),
        run("timeout", at(1), "timed_out", sha="b2"),
        run("cancelled", at(2), "cancelled"),
        run("branch", at(2), "failure", is_default_branch=False),
        run("feb", at(-5), "failure"),
        run("running", at(3), "in_progress"),
    ]
    result = pipeline_reliability(runs, MARCH)
    assert (result.runs, result.failed, result.failure_rate) == (3, 2, pytest.approx(2 / 3))


def test_flaky_rate_is_the_share_of_commits_that_failed_then_passed_on_a_rerun():
    runs = [
        run("a1", at(0), "failure", sha="A"),
        run("a2", at(0, hours=1), "success", sha="A", attempt=2),
        run("b1", at(1), "success", sha="B"),
        run("b2", at(1, hours=1), "failure", sha="B", attempt=2),
        run("c1", at(2), "failure", sha="C"),
        run("d1", at(3), "success", sha="D"),
    ]
    result = pipeline_reliability(runs, MARCH)
    assert (result.flaky_commits, result.commits, result.flaky_rate) == (1, 4, 0.25)


def test_a_pass_in_another_workflow_is_not_a_rerun():
    runs = [
        run("lint", at(0), "failure", sha="A", workflow="lint"),
        run("test", at(0, hours=1), sha="A", workflow="test"),
    ]
    assert pipeline_reliability(runs, MARCH).flaky_commits == 0


def test_pipeline_duration_median_and_p90():
    runs = [run(str(m), at(0, hours=m), minutes=m) for m in (1, 2, 3, 4, 5)]
    duration = pipeline_reliability(runs, MARCH).duration
    assert (duration.median, duration.p90) == (timedelta(minutes=3), timedelta(minutes=4.6))


def test_a_reported_duration_wins_over_the_timestamps():
    runs = [run("r", at(0), minutes=10, duration_seconds=60)]
    assert pipeline_reliability(runs, MARCH).duration.median == timedelta(seconds=60)


def test_currently_failing_workflows_list_the_start_of_the_failure_streak():
    runs = [
        run("ci1", at(0)),
        run("ci2", at(1), "failure", sha="b"),
        run("ci3", at(2), "failure", sha="c"),
        run("ci4", at(2, hours=1), "cancelled", sha="d"),
        run("dep1", at(0), "failure", workflow="deploy"),
        run("dep2", at(1), workflow="deploy"),
    ]
    failing = failing_workflows(runs, MARCH.end)
    assert [(f.workflow, f.since, f.failed_runs, f.last_run_id, f.sha) for f in failing] == [
        ("ci", at(1), 2, "ci3", "c")
    ]


def test_a_flaky_commit_counts_in_the_window_of_its_first_run_even_when_the_rerun_passes_after_it():
    runs = [
        run("a1", MARCH.end - timedelta(minutes=30), "failure", sha="A"),
        run("a2", MARCH.end + timedelta(minutes=30), "success", sha="A", attempt=2),
    ]
    april = Window(MARCH.end, MARCH.end + timedelta(days=30))
    march, next_month = pipeline_reliability(runs, MARCH), pipeline_reliability(runs, april)
    assert (march.commits, march.flaky_commits, march.runs, march.failed) == (1, 1, 1, 1)
    assert (next_month.commits, next_month.flaky_commits, next_month.runs, next_month.failed) == (0, 0, 1, 0)


def test_pipeline_reliability_without_runs_is_no_data():
    result = pipeline_reliability([], MARCH)
    assert (result.runs, result.failure_rate, result.flaky_rate, result.duration.median) == (0, None, None, None)


# --- Code review health ----------------------------------------------------------------------------------------


def test_review_health_takes_medians_over_prs_merged_in_the_window():
    changes = [
        pr("a", at(0, hours=3), opened=at(0), review=at(0, hours=1), size=10),
        pr("b", at(1, hours=7), opened=at(1), review=at(1, hours=3), size=30),
        pr("c", at(2, hours=9), opened=at(2), review=None, size=50),
        pr("feb", at(-5), opened=at(-6), review=at(-5, hours=-1), size=1000),
    ]
    health = review_health(changes, MARCH, now=at(10))
    assert health.pickup.median == timedelta(hours=2)
    assert health.review.median == timedelta(hours=3)
    assert (health.size_median, health.sized) == (30, 3)


def test_unknown_sizes_are_left_out_of_the_median_size_and_none_known_is_no_data():
    known = review_health([pr("a", at(0), size=10), pr("b", at(1)), pr("c", at(2), size=30)], MARCH, now=at(10))
    assert (known.size_median, known.sized) == (20, 2)
    unknown = review_health([pr("a", at(0)), pr("b", at(1))], MARCH, now=at(10))
    assert (unknown.size_median, unknown.sized) == (None, 0)


def test_prs_waiting_for_a_first_review_longer_than_a_day_are_listed_oldest_first():
    now = at(10)
    changes = [
        pr("new", None, opened=now - timedelta(hours=23)),
        pr("old", None, opened=now - timedelta(hours=30)),
        pr("older", None, opened=now - timedelta(days=3)),
        pr("reviewed", None, opened=now - timedelta(days=2), review=now - timedelta(days=1)),
        pr("merged", now - timedelta(hours=1), opened=now - timedelta(days=2)),
        pr("closed", None, opened=now - timedelta(days=2), closed_at=now - timedelta(hours=1)),
        pr("reviewed_later", None, opened=now - timedelta(days=2), review=now + timedelta(hours=1)),
    ]
    assert waiting_for_review(changes, now) == ("older", "reviewed_later", "old")
    assert review_health(changes, MARCH, now=now).waiting == 3


def test_direct_pushes_are_not_in_review_health():
    push = direct_push("push", "abc", at(0), size=5)
    health = review_health([push], MARCH, now=at(10))
    assert (health.pickup.count, health.size_median, health.waiting) == (0, None, 0)


# --- Data quality --------------------------------------------------------------------------------------------------


def test_data_quality_reports_sample_sizes_and_linking_shares():
    deployments = [dep("d1", at(0)), dep("d2", at(1)), dep("d3", at(40))]
    changes = [pr("p1", at(0.5)), pr("p2", at(30))]
    incidents = [inc("linked", at(1, hours=1)), inc("orphan", at(20)), inc("april", at(41))]
    facts = derive_facts(deployments, changes, incidents)
    quality = data_quality(facts, MARCH, last_event_at={"github": at(3)})
    assert (quality.deployments, quality.deployments_with_changes, quality.linked_change_share) == (2, 1, 0.5)
    assert quality.link_rules == {LINK_NONE: 1, LINK_SENT: 0, LINK_COMMIT_RANGE: 0, LINK_MERGED_BETWEEN: 1}
    assert (quality.changes, quality.changes_without_lead_time) == (1, 0)
    assert (quality.incidents, quality.incidents_linked, quality.incident_link_share) == (2, 1, 0.5)
    assert quality.last_event_at == {"github": at(3)}


def test_no_data_is_none_not_zero():
    summary = dora_summary([], [], [], MARCH)
    assert summary.deployment_frequency.deployments_per_day is None
    assert summary.lead_time.median is None
    assert summary.change_failure_rate.value is None
    assert summary.recovery.median is None
    assert summary.recovery.time_to_restore.median is None
    assert summary.rework.value is None
    assert summary.pipeline.failure_rate is None
    assert summary.review.pickup.median is None
    assert summary.data_quality.linked_change_share is None
    assert summary.data_quality.incident_link_share is None
    assert summary.levels == Levels(2023, None, None, None, None)


# --- DevLake-compatible profile -------------------------------------------------------------------------------------


def test_devlake_profile_rounds_durations_up_to_whole_minutes():
    assert span(at(0), at(0, seconds=61), DEVLAKE) == timedelta(minutes=2)
    assert span(at(0), at(0, seconds=61)) == timedelta(seconds=61)


def test_devlake_rounding_keeps_a_span_that_rounds_to_zero():
    assert span(at(0), at(0, seconds=-30), DEVLAKE) == timedelta(0)
    assert span(at(0), at(0, seconds=-61), DEVLAKE) is None
    assert span(at(0), at(0, seconds=-30)) is None


def test_devlake_cycle_time_counts_missing_parts_as_zero():
    # first commit after opening (no coding time), never deployed
    change = pr("p1", at(0, hours=2), first_commit=at(0, hours=1), opened=at(0))
    facts = derive_facts([], [change], [], DEVLAKE)
    assert facts.lead_times["p1"].coding is None
    assert facts.lead_times["p1"].lead_time == timedelta(hours=2)  # merged - opened only


def test_devlake_profile_uses_the_lower_median():
    changes = [pr(f"p{h}", at(0), first_commit=at(0, hours=-h), opened=at(0, hours=-h)) for h in (1, 2, 3, 4)]
    deployment = dep("d2", at(0), changes=tuple(c.id for c in changes))
    facts = derive_facts([deployment], changes, [], DEVLAKE)
    assert lead_time(facts.lead_times.values(), MARCH, DEVLAKE).median == timedelta(hours=2)


def test_profile_rejects_unknown_choices():
    with pytest.raises(ValueError, match="median_kind"):
        Profile(median_kind="mean")
    with pytest.raises(ValueError, match="bands_year"):
        Profile(bands_year=2019)
    with pytest.raises(ValueError, match="change_link_rules"):
        Profile(change_link_rules=(4,))
    with pytest.raises(Exception, match="Nowhere"):
        Profile(time_zone="Nowhere/Land")


# --- Summary, comparison and series ---------------------------------------------------------------------------------


def small_org():
    deployments = [dep(f"c{i}", at(i), changes=(f"p{i}",)) for i in range(10)]
    deployments += [dep("s1", at(0), service="search"), dep("s2", at(1), service="search", is_rollback=True)]
    changes = [pr(f"p{i}", at(i, hours=-2), first_commit=at(i, hours=-5)) for i in range(10)]
    incidents = [inc("i1", at(3, hours=1), at(3, hours=2)), inc("i2", at(3, hours=1), at(3, hours=3))]
    runs = [run("r1", at(0)), run("r2", at(1), "failure")]
    return deployments, changes, incidents, runs


def test_dora_summary_computes_every_metric_with_levels_for_both_band_years():
    deployments, changes, incidents, runs = small_org()
    summary = dora_summary(deployments, changes, incidents, MARCH, runs=runs, now=at(20))
    assert summary.deployment_frequency.deployments == 12
    assert summary.lead_time.median == timedelta(hours=5)
    assert (summary.change_failure_rate.failed, summary.change_failure_rate.deployments) == (2, 12)
    assert summary.recovery.median == timedelta(hours=13, minutes=30)  # c3: 3 h to the last resolution; s1: 24 h
    assert summary.rework.rework == 1  # s2, the rollback
    assert summary.pipeline.failure_rate == 0.5
    assert set(summary.levels_by_year) == {2021, 2023}
    assert summary.levels == summary.levels_by_year[2023]
    assert summary.levels.lead_time == "elite"
    assert summary.levels_by_year[2021].lead_time == "high"
    assert summary.levels.change_failure_rate == "low"
    assert summary.levels_by_year[2021].change_failure_rate == "high"  # 2 of 12 = 16.7 %


def test_dora_summary_is_scoped_to_services():
    deployments, changes, incidents, runs = small_org()
    summary = dora_summary(deployments, changes, incidents, MARCH, runs=runs, services={"search"})
    assert summary.deployment_frequency.deployments == 2
    assert summary.lead_time.changes == 0
    assert summary.pipeline.runs == 0


def test_compare_says_whether_a_change_is_better_or_worse():
    faster = compare(timedelta(hours=2), timedelta(hours=4), higher_is_better=False)
    assert (faster.difference, faster.relative, faster.trend) == (timedelta(hours=-2), -0.5, "better")
    assert compare(0.2, 0.1, higher_is_better=False).trend == "worse"
    assert compare(3.0, 3.0, higher_is_better=True).trend == "same"


def test_compare_with_no_data_on_either_side_has_no_trend():
    assert compare(None, 1.0, higher_is_better=True).trend is None
    assert compare(1.0, None, higher_is_better=True).difference is None
    assert compare(1.0, 0.0, higher_is_better=True).relative is None


def test_compare_summaries_uses_the_previous_window():
    deployments, changes, incidents, runs = small_org()
    current = dora_summary(deployments, changes, incidents, MARCH, runs=runs)
    earlier = dora_summary(deployments, changes, incidents, previous_window(MARCH), runs=runs)
    deltas = compare_summaries(current, earlier)
    assert deltas["deployments_per_day"].previous is None
    assert deltas["deployments_per_day"].trend is None
    assert set(deltas) >= {"lead_time", "change_failure_rate", "failed_deployment_recovery", "rework_rate"}


def test_weekly_series_adds_up_to_the_window_totals_and_marks_partial_weeks():
    deployments, changes, incidents, _ = small_org()
    deployments.append(dep("mar1", datetime(2024, 3, 1, 12, tzinfo=UTC)))
    facts = derive_facts(deployments, changes, incidents)
    series = weekly_series(facts.deployments, facts.lead_times.values(), MARCH)
    assert [p.week_start for p in series] == [date(2024, 2, 26), date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18),
                                              date(2024, 3, 25)]  # fmt: skip
    assert [p.partial for p in series] == [True, False, False, False, False]
    assert sum(p.deployments for p in series) == deployment_frequency(facts.deployments, MARCH).deployments
    assert sum(p.changes for p in series) == lead_time(facts.lead_times.values(), MARCH).changes
    assert series[1].lead_time == timedelta(hours=5)
    assert series[3].lead_time is None  # no change deployed that week: no data


def test_deployments_by_day_lists_every_day_of_the_window():
    days = deployments_by_day([dep("a", at(0)), dep("b", at(0, hours=1))], MARCH)
    assert len(days) == 31
    assert days[date(2024, 3, 4)] == 2
    assert sum(days.values()) == 2


def test_profile_default_and_devlake_differ_only_where_documented():
    default, devlake = Profile.default(), Profile.devlake()
    assert (default.incident_link_window, devlake.incident_link_window) == (timedelta(days=7), None)
    assert (default.median_kind, devlake.median_kind) == ("interpolated", "lower")
    assert (default.devlake_compatible, devlake.devlake_compatible) == (False, True)
    assert replace(devlake, name="e360") != default
    assert Profile.devlake(bands_year=2021).bands_year == 2021
