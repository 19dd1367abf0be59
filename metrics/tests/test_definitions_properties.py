"""Invariants of the definitions, checked with hypothesis over generated deployments, incidents and values."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metrics.definitions import (
    MEDIAN_KINDS,
    ChangeRec,
    DeploymentRec,
    IncidentRec,
    Profile,
    Window,
    bucket_day,
    change_failure_rate,
    change_lead_times,
    deployment_frequency,
    deployments_by_day,
    derive_facts,
    link_changes,
    local_midnight,
    percentile,
    previous_window,
    weekly_series,
)

FAST = settings(max_examples=150)
BASE = datetime(2024, 1, 1, tzinfo=UTC)
YEAR_MINUTES = 366 * 24 * 60
WINDOW = Window(BASE + timedelta(days=10), BASE + timedelta(days=40))

minutes_in_60_days = st.integers(min_value=0, max_value=60 * 24 * 60)
services = st.sampled_from(["checkout", "search"])


@st.composite
def deployment_lists(draw, max_size: int = 25) -> list[DeploymentRec]:
    records = []
    for i in range(draw(st.integers(min_value=0, max_value=max_size))):
        finished = BASE + timedelta(minutes=draw(minutes_in_60_days))
        records.append(
            DeploymentRec(
                id=f"d{i}",
                service=draw(services),
                environment=draw(st.sampled_from(["production", "prod", "staging"])),
                status=draw(st.sampled_from(["success", "success", "success", "failure"])),
                started_at=finished - timedelta(minutes=draw(st.integers(0, 60))),
                finished_at=finished,
                sha=draw(st.sampled_from(["s1", "s2", "s3", "s4"])),
                is_rollback=draw(st.booleans()),
                is_hotfix=draw(st.booleans()),
            )
        )
    return records


@st.composite
def incident_lists(draw, max_size: int = 15) -> list[IncidentRec]:
    records = []
    for i in range(draw(st.integers(min_value=0, max_value=max_size))):
        started = BASE + timedelta(minutes=draw(minutes_in_60_days))
        resolved = draw(st.one_of(st.none(), st.integers(0, 5 * 24 * 60)))
        records.append(
            IncidentRec(
                id=f"i{i}",
                service=draw(services),
                started_at=started,
                resolved_at=None if resolved is None else started + timedelta(minutes=resolved),
            )
        )
    return records


@FAST
@given(deployment_lists(), incident_lists(), st.sampled_from([Profile.default(), Profile.devlake()]))
def test_change_failure_rate_is_a_share_of_deployments(deployments, incidents, profile):
    facts = derive_facts(deployments, [], incidents, profile)
    cfr = change_failure_rate(deployments, facts.failures, WINDOW, profile)
    in_window = {
        d.id
        for d in deployments
        if d.status == "success" and profile.is_production_environment(d.environment) and WINDOW.contains(d.finished_at)
    }
    assert cfr.deployments == len(in_window)
    assert cfr.failed == len(in_window & set(facts.failures))  # each failed deployment once
    assert cfr.failed <= cfr.deployments
    if cfr.deployments:
        assert 0 <= cfr.value <= 1
    else:
        assert cfr.value is None


@FAST
@given(deployment_lists(), incident_lists(), st.data())
def test_another_incident_on_an_already_failed_deployment_changes_nothing(deployments, incidents, data):
    facts = derive_facts(deployments, [], incidents)
    assume(facts.failures)
    failed_id = data.draw(st.sampled_from(sorted(facts.failures)))
    failed = next(d for d in deployments if d.id == failed_id)
    extra = IncidentRec(
        id="extra",
        service=failed.service,
        started_at=failed.finished_at + timedelta(minutes=data.draw(st.integers(1, 600))),
        caused_by=failed_id,
    )
    again = derive_facts(deployments, [], [*incidents, extra])
    assert set(again.failures) == set(facts.failures)
    assert change_failure_rate(deployments, again.failures, WINDOW) == change_failure_rate(
        deployments, facts.failures, WINDOW
    )


DST_ZONES = st.sampled_from(["Europe/Berlin", "America/New_York"])


def days_window(first: int, length: int, zone: str) -> Window:
    start = date(2024, 1, 1) + timedelta(days=first)
    return Window.from_days(start, start + timedelta(days=length), zone)


@FAST
@given(
    DST_ZONES,
    st.lists(st.integers(min_value=0, max_value=YEAR_MINUTES), max_size=40),
    st.integers(min_value=0, max_value=330),
    st.integers(min_value=1, max_value=35),
)
def test_bucketing_never_loses_or_duplicates_a_deployment_across_dst_changes(zone, offsets, first, length):
    profile = Profile(time_zone=zone)
    window = Window.from_days(
        date(2024, 1, 1) + timedelta(days=first), date(2024, 1, 1) + timedelta(days=first + length), zone
    )
    deployments = [
        DeploymentRec(f"d{i}", "checkout", "production", "success", None, BASE + timedelta(minutes=m))
        for i, m in enumerate(offsets)
    ]
    inside = [d for d in deployments if window.contains(d.finished_at)]

    by_day = deployments_by_day(deployments, window, profile)
    assert sum(by_day.values()) == len(inside)
    assert len(by_day) == length  # one bucket per calendar day, even on 23- and 25-hour days
    assert window.days(profile) == length
    assert sum(p.deployments for p in weekly_series(deployments, [], window, profile)) == len(inside)
    assert deployment_frequency(deployments, window, profile).deployments == len(inside)
    for d in inside:
        day = bucket_day(d.finished_at, zone)
        assert local_midnight(day, zone) <= d.finished_at < local_midnight(day + timedelta(days=1), zone)


@FAST
@given(DST_ZONES, st.integers(min_value=0, max_value=330), st.integers(min_value=1, max_value=120))
def test_the_previous_window_ends_where_the_window_starts_with_as_many_days(zone, first, length):
    window = Window.from_days(
        date(2024, 1, 1) + timedelta(days=first), date(2024, 1, 1) + timedelta(days=first + length), zone
    )
    previous = previous_window(window, zone)
    assert previous.end == window.start
    assert previous.days(zone) == window.days(zone) == length


values = st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=50)
kinds = st.sampled_from(MEDIAN_KINDS)


@FAST
@given(values, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1), kinds)
def test_percentile_is_within_the_sample_range_and_monotone_in_q(xs, q1, q2, kind):
    low, high = sorted((q1, q2))
    p_low, p_high = percentile(xs, low, kind), percentile(xs, high, kind)
    assert min(xs) <= p_low <= p_high <= max(xs)


@FAST
@given(values, st.floats(min_value=0, max_value=1))
def test_the_lower_percentile_is_always_a_value_of_the_sample(xs, q):
    assert percentile(xs, q, "lower") in xs


@FAST
@given(st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=50))
def test_the_interpolated_median_is_the_textbook_median(xs):
    assert percentile(xs, 0.5) == statistics.median(xs)


offsets_hours = st.integers(min_value=-72, max_value=240)


@FAST
@given(offsets_hours, offsets_hours, st.one_of(st.none(), offsets_hours), offsets_hours, offsets_hours)
def test_lead_time_components_add_up_to_at_most_the_lead_time(first_commit, opened, review, merged, deployed):
    def hours(h: int | None) -> datetime | None:
        return None if h is None else BASE + timedelta(hours=h)

    change = ChangeRec(
        id="c",
        service="checkout",
        repository=None,
        merge_sha="m",
        first_commit_at=hours(first_commit),
        opened_at=hours(opened),
        first_review_at=hours(review),
        merged_at=hours(merged),
    )
    deployment = DeploymentRec("d", "checkout", "production", "success", None, hours(deployed), changes=("c",))
    lt = change_lead_times([change], link_changes([deployment], [change]), [deployment])["c"]
    parts = (lt.coding, lt.pickup, lt.review, lt.deploy)
    for part in parts:
        assert part is None or part >= timedelta(0)
    if lt.lead_time is not None:
        assert lt.lead_time >= timedelta(0)
    if all(part is not None for part in parts):
        assert sum(parts, timedelta(0)) <= lt.lead_time
