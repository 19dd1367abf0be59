"""Workflow period rollups: in step with the runs after any refreshes, equal to a rebuild and to the
pipeline definitions over the raw runs; the schedule's sweep; and the pipelines page's per-workflow
figures read from them equal to those read from the runs, whichever way each service is read."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pydoc import locate

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e360.models import Service
from e360.tests.factories import ServiceFactory
from metrics import definitions as d
from metrics.models import PipelineRun, WorkflowPeriodRollup, WorkflowRollupCoverage
from metrics.refresh import rebuild, service_refresh
from metrics.rollups import workflows as workflow_rollups
from metrics.scope import reading_profile, service_scope, team_scope
from metrics.selectors import Area, default_window
from metrics.tests.factories import PipelineRunFactory, SourceFactory
from metrics.tests.histories import run_records

H = timedelta(hours=1)
DAY = timedelta(days=1)
ROW_FIELDS = ("service_id", "workflow", "days", "day", *workflow_rollups.VALUE_FIELDS)
HYPOTHESIS = settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def source(tree):
    return SourceFactory(name="ci", team=tree["org"])


def _today() -> date:
    return d.bucket_day(timezone.now(), reading_profile())


def _clear() -> None:
    for model in (WorkflowPeriodRollup, WorkflowRollupCoverage, PipelineRun):
        model.objects.all().delete()


def _random_runs(rng: random.Random, source, service, now: datetime, count: int) -> None:
    """Runs over the last 200 days: three workflows, every status, some off the default branch,
    timed by the CI, by start and finish (some negative), or not at all; durations from a few
    values, so that percentiles of different workflows tie."""
    for _ in range(count):
        finished = now - timedelta(minutes=rng.randint(0, 200 * 24 * 60))
        started = rng.choice([None, finished - timedelta(seconds=rng.choice([-60, 90, 600, 3000]))])
        PipelineRunFactory(
            source=source,
            service=service,
            workflow=rng.choice(["ci", "lint", "deploy"]),
            sha=f"{rng.randint(0, 20):040x}",
            status=rng.choice(["success", "success", "success", "failure", "failure", "cancelled", "in_progress"]),
            attempt=rng.randint(1, 3),
            branch="main",
            is_default_branch=rng.random() < 0.9,
            started_at=started,
            finished_at=finished,
            duration_seconds=rng.choice([None, 60, 120, 300, 300, 600, 1800]),
        )


def _random_history(seed: int, source, rounds: int = 2) -> None:
    """Runs added to random services over a few rounds, each round refreshing the services it touched
    (in a random order): later rounds add late runs to rows already written."""
    rng = random.Random(seed)
    services = list(Service.objects.order_by("slug"))
    now = timezone.now()
    for _ in range(rounds):
        touched = rng.sample(services, rng.randint(1, len(services)))
        for service in touched:
            _random_runs(rng, source, service, now, rng.randint(0, 25))
        for service in touched:
            service_refresh(service_id=service.id)


def _records(**filters) -> list[d.PipelineRunRec]:
    return run_records(PipelineRun.objects.filter(**filters))


def _by_workflow(records: list[d.PipelineRunRec]) -> dict[tuple[int, str], list[d.PipelineRunRec]]:
    groups: dict[tuple[int, str], list[d.PipelineRunRec]] = {}
    for run in records:
        groups.setdefault((int(run.service), run.workflow), []).append(run)
    return groups


def _expected(records: list[d.PipelineRunRec], window: d.Window, before: datetime | None) -> dict:
    """Per (service id, workflow), from the definitions over the raw runs: ``pipeline_reliability``'s
    runs, failures and durations, and the latest pass and failure before ``before``."""
    expected = {}
    for key, runs in _by_workflow(records).items():
        reliability = d.pipeline_reliability(runs, window)
        if not reliability.runs:
            continue
        judged = [
            (run.finished_at, passed)
            for run, passed in d.judged_runs(runs)
            if window.contains(run.finished_at) and (before is None or run.finished_at < before)
        ]
        expected[key] = {
            "runs": reliability.runs,
            "failed": reliability.failed,
            "median": reliability.duration.median,
            "p90": reliability.duration.p90,
            "last_pass": max((at for at, passed in judged if passed), default=None),
            "last_fail": max((at for at, passed in judged if not passed), default=None),
        }
    return expected


def _rows() -> list[tuple]:
    return sorted(WorkflowPeriodRollup.objects.values_list(*ROW_FIELDS))


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _expected_rows(today: date) -> list[tuple]:
    """Every row the rollups should hold: per period, for today and tomorrow."""
    records, profile = _records(), reading_profile()
    rows = []
    for day in (today, today + DAY):
        for days in workflow_rollups.PERIODS:
            window = d.Window.from_days(day - timedelta(days=days - 1), day + DAY, profile)
            for (service_id, workflow), v in _expected(records, window, None).items():
                values = (v["runs"], v["failed"], _seconds(v["median"]), _seconds(v["p90"]))
                rows.append((service_id, workflow, days, day, *values, v["last_pass"], v["last_fail"]))
    return sorted(rows)


def _close(ours: list[tuple], theirs: list[tuple]) -> None:
    """Rows equal, durations to the microsecond (the definitions give them as timedeltas)."""
    assert [row[:6] + row[8:] for row in ours] == [row[:6] + row[8:] for row in theirs]
    for mine, expected in zip(ours, theirs, strict=True):
        for value, other in zip(mine[6:8], expected[6:8], strict=True):
            assert (value is None) == (other is None)
            if value is not None:
                assert value == pytest.approx(other, abs=1e-6)


@HYPOTHESIS
@given(seed=st.integers(0, 10_000))
def test_refreshes_keep_workflow_rollups_equal_to_the_definitions_and_to_a_rebuild(tree, source, seed):
    _clear()
    _random_history(seed, source, rounds=3)

    kept = _rows()
    _close(kept, _expected_rows(_today()))
    # Built from nothing by the schedule's sweep (what the migration runs), then by rebuild_rollups.
    WorkflowPeriodRollup.objects.all().delete()
    WorkflowRollupCoverage.objects.all().delete()
    workflow_rollups.sweep()
    assert _rows() == kept
    WorkflowPeriodRollup.objects.all().delete()
    rebuild()
    assert _rows() == kept


def _areas(tree) -> list[Area]:
    return [
        Area.organisation(),
        Area.of(team_scope(tree["group"], None)),
        Area.of(team_scope(tree["alpha"], None)),
        Area.of(team_scope(tree["group"], {tree["group"].id, tree["beta"].id})),  # the group's own and beta's
        Area.of(service_scope(Service.objects.get(slug="checkout"))),
    ]


def _expected_per_workflow(area: Area, window: d.Window, now: datetime) -> workflow_rollups.PerWorkflow:
    """The page's per-workflow figures from the definitions over the area's raw runs."""
    ids = [s.id for s in area.services]
    expected = _expected(_records(service_id__in=ids), window, now)
    stats = [
        workflow_rollups.WorkflowStats(area.by_id[service_id], workflow, v["runs"], v["failed"], v["median"], v["p90"])
        for (service_id, workflow), v in expected.items()
    ]
    slowest = sorted(
        (s for s in stats if s.p90 is not None),
        key=lambda s: (-workflow_rollups.slowness(s.p90), -s.runs, s.service.name, s.workflow),
    )
    candidates = sorted(
        (
            workflow_rollups.Candidate(service_id, workflow, v["last_pass"])
            for (service_id, workflow), v in expected.items()
            if v["last_fail"] is not None and (v["last_pass"] is None or v["last_fail"] >= v["last_pass"])
        ),
        key=lambda c: (c.last_pass is not None, c.last_pass or now, c.service_id, c.workflow),
    )
    return workflow_rollups.PerWorkflow(
        tuple(slowest[: workflow_rollups.SLOWEST]),
        len(stats),
        tuple(candidates[: workflow_rollups.MAX_FAILING]),
        len(candidates),
    )


def _assert_same(ours: workflow_rollups.PerWorkflow, theirs: workflow_rollups.PerWorkflow) -> None:
    assert (ours.workflows, ours.candidates, ours.candidates_total) == (
        theirs.workflows,
        theirs.candidates,
        theirs.candidates_total,
    )
    assert [(s.service, s.workflow, s.runs, s.failed) for s in ours.slowest] == [
        (s.service, s.workflow, s.runs, s.failed) for s in theirs.slowest
    ]
    for mine, expected in zip(ours.slowest, theirs.slowest, strict=True):
        for value, other in [(mine.median, expected.median), (mine.p90, expected.p90)]:
            assert (value is None) == (other is None)
            if value is not None:
                assert abs(value - other) <= timedelta(microseconds=1)


@HYPOTHESIS
@given(seed=st.integers(0, 10_000))
def test_the_page_s_per_workflow_figures_equal_those_of_the_raw_runs(tree, source, seed, monkeypatch):
    # Fewer listed than there are workflows, so the cuts of both lists are exercised.
    monkeypatch.setattr(workflow_rollups, "SLOWEST", 4)
    monkeypatch.setattr(workflow_rollups, "MAX_FAILING", 3)
    _clear()
    _random_history(seed, source)
    now = timezone.now()
    for area in _areas(tree):
        for days in workflow_rollups.PERIODS:
            window = default_window(area.profile, days)
            expected = _expected_per_workflow(area, window, now)
            _assert_same(workflow_rollups.per_workflow(area, window, now), expected)
            # Read from the runs (as for a service whose rows are not in step): the same.
            _assert_same(workflow_rollups.from_runs(area, window, now, area.filter_ids), expected)


def _make_stale(service: Service) -> None:
    today = _today()
    WorkflowRollupCoverage.objects.filter(service=service).update(first_day=today - 5 * DAY, last_day=today - 4 * DAY)
    WorkflowPeriodRollup.objects.filter(service=service).update(runs=999, p90=1e9)  # must not be read


def test_a_service_whose_rows_are_not_in_step_is_read_from_its_runs_in_one_query_more(tree, source):
    _random_history(7, source)
    area, now = Area.organisation(), timezone.now()
    window = default_window(area.profile, 90)
    with CaptureQueriesContext(connection) as rolled:
        expected = workflow_rollups.per_workflow(area, window, now)
    assert expected.workflows > 0

    _make_stale(Service.objects.get(slug="checkout"))
    with CaptureQueriesContext(connection) as mixed:
        assert workflow_rollups.per_workflow(area, window, now) == expected
    assert len(mixed) == len(rolled) + 1
    for service in Service.objects.all():
        _make_stale(service)
    assert workflow_rollups.per_workflow(area, window, now) == expected


def test_a_run_stamped_after_now_is_read_from_the_runs_and_counts_from_then_on(tree, source):
    """A pass stamped ahead of ``now`` (a CI clock ahead) does not end a failure streak before it."""
    checkout = Service.objects.get(slug="checkout")
    area = Area.of(service_scope(checkout))
    now = timezone.now()
    window = default_window(area.profile, 30)
    ahead = min(now + H, window.end - timedelta(seconds=1))
    for status, finished in [("success", now - 3 * H), ("failure", now - 2 * H), ("success", ahead)]:
        PipelineRunFactory(source=source, service=checkout, workflow="ci", status=status, finished_at=finished)
    service_refresh(service_id=checkout.id)

    failing = workflow_rollups.per_workflow(area, window, now)
    assert failing.candidates == (workflow_rollups.Candidate(checkout.id, "ci", now - 3 * H),)
    assert failing.slowest[0].runs == 3
    later = ahead + timedelta(microseconds=1)
    assert workflow_rollups.per_workflow(area, window, later).candidates == ()


def test_other_windows_are_read_from_the_runs(tree, source):
    _random_history(11, source)
    area, now = Area.organisation(), timezone.now()
    profile = area.profile
    today = _today()
    for window in [
        d.Window.from_days(today - 6 * DAY, today + DAY, profile),  # 7 days: not a stored period
        d.Window.from_days(today - 40 * DAY, today - 10 * DAY, profile),  # 30 days, but not up to today
        d.Window(now - 30 * DAY, now),  # not cut at midnights
    ]:
        _assert_same(workflow_rollups.per_workflow(area, window, now), _expected_per_workflow(area, window, now))


def test_the_sweep_writes_the_services_no_refresh_reached_and_deletes_old_days(tree, source):
    now, today = timezone.now(), _today()
    checkout, cart = Service.objects.get(slug="checkout"), Service.objects.get(slug="cart")
    for service in (checkout, cart):
        PipelineRunFactory(source=source, service=service, workflow="ci", finished_at=now - 2 * DAY)
    service_refresh(service_id=checkout.id)
    assert set(WorkflowPeriodRollup.objects.values_list("service__slug", flat=True)) == {"checkout"}

    assert workflow_rollups.sweep(today=today).startswith("Workflow rollups of 3 services")  # all but checkout
    assert set(WorkflowPeriodRollup.objects.values_list("service__slug", "day")) == {
        (slug, day) for slug in ("checkout", "cart") for day in (today, today + DAY)
    }
    assert WorkflowRollupCoverage.objects.count() == 4
    assert workflow_rollups.sweep(today=today).startswith("Workflow rollups of 0 services")

    # The next day: every service's rows of the day after, and of no day before.
    assert workflow_rollups.sweep(today=today + DAY).startswith("Workflow rollups of 4 services")
    assert set(WorkflowPeriodRollup.objects.values_list("day", flat=True)) == {today + DAY, today + 2 * DAY}
    assert set(WorkflowRollupCoverage.objects.values_list("first_day", "last_day")) == {(today + DAY, today + 2 * DAY)}


def test_the_sweep_is_scheduled_hourly(tree, source):
    schedule = Schedule.objects.get(func="metrics.tasks.workflow_rollups_sweep")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)
    assert locate(schedule.func)().startswith("Workflow rollups of 4 services")  # what the worker calls


def test_a_second_refresh_writes_nothing_and_a_refresh_deletes_days_no_page_reads(tree, source):
    checkout = Service.objects.get(slug="checkout")
    PipelineRunFactory(source=source, service=checkout, workflow="ci", finished_at=timezone.now() - H)
    service_refresh(service_id=checkout.id)
    rows = _rows()
    assert len(rows) == 2 * len(workflow_rollups.PERIODS)
    WorkflowPeriodRollup.objects.create(
        service=checkout, workflow="ci", days=30, day=_today() - 2 * DAY, runs=1, failed=0
    )
    assert "0 records re-linked, 1 rollup rows written" in service_refresh(service_id=checkout.id)
    assert _rows() == rows
    assert "0 records re-linked, 0 rollup rows written" in service_refresh(service_id=checkout.id)


def test_periods_are_cut_at_midnights_of_the_org_time_zone(tree, source, settings):
    settings.TIME_ZONE = "America/New_York"
    profile = reading_profile()
    checkout = Service.objects.get(slug="checkout")
    first = d.bucket_day(timezone.now(), profile) - 29 * DAY  # the 30-day period's first day, up to today
    inside = d.local_midnight(first, profile) + timedelta(minutes=30)
    outside = d.local_midnight(first, profile) - timedelta(minutes=30)  # the same UTC day: 04:30 and 05:30 or so
    for finished in (inside, outside):
        PipelineRunFactory(source=source, service=checkout, workflow="ci", finished_at=finished)
    service_refresh(service_id=checkout.id)
    today = d.bucket_day(timezone.now(), profile)
    runs = dict(WorkflowPeriodRollup.objects.filter(day=today).values_list("days", "runs"))
    assert runs == {30: 1, 90: 2, 180: 2}


def test_a_page_reads_a_bounded_number_of_queries_however_many_services_and_workflows(tree, source):
    area, now = Area.organisation(), timezone.now()
    window = default_window(area.profile, 180)
    PipelineRunFactory(source=source, service=Service.objects.get(slug="checkout"), finished_at=now - DAY)
    rebuild()
    with CaptureQueriesContext(connection) as few:
        workflow_rollups.per_workflow(area, window, now)
    rng = random.Random(3)
    for n in range(12):
        service = ServiceFactory(slug=f"extra-{n}", name=f"Extra {n}", owner=tree["beta"])
        _random_runs(rng, source, service, now, 20)
        service_refresh(service_id=service.id)
    area = Area.organisation()
    with CaptureQueriesContext(connection) as many:
        found = workflow_rollups.per_workflow(area, window, now)
    assert found.workflows > 12
    assert len(many) == len(few)
