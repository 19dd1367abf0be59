"""Thresholds read from the rollups: the evaluation (once per crossing, idempotent ticks), the backtest, the scopes,
the survey figures (a group below k gives no value) and the scheduled task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from actions import tasks, threshold_metrics, thresholds
from actions.crossings import Comparison, Rule
from actions.models import Threshold, ThresholdEvent
from actions.models.thresholds import ScopeKind
from actions.tests.pipeline_runs import runs
from actions.threshold_metrics import METRICS, Subject
from e360.tests.factories import ServiceFactory
from metrics import definitions as d
from metrics.scope import reading_profile
from metrics.services import Dirty


@pytest.fixture
def now():
    """Noon of today or, before noon, of yesterday: runs a few minutes before it, or before a day ago, fall on the
    day their window reads at any hour of the run (an hour's start is a minute past the previous day at midnight)."""
    return (timezone.now() - timedelta(hours=12)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def ledger(subteam):
    return ServiceFactory(name="Ledger", slug="ledger", owner=subteam)


@pytest.fixture
def failing_stretches(history, service):
    """Checkout's CI over 60 days: two passing runs a day, except days 40–36 and 10–9 ago (both runs failed)."""
    for days_ago in range(60, 0, -1):
        failing = days_ago in range(36, 41) or days_ago in (9, 10)
        runs(history, service, days_ago, *(["failure", "failure"] if failing else ["success", "success"]))
    history.refresh()
    return history


def failure_rate(scope=ScopeKind.SERVICE, team=None, service=None, window_days=1) -> Subject:
    return Subject(METRICS["pipeline_failure_rate"], scope, team, service, window_days)


def day(now, days_ago):
    return d.bucket_day(now, reading_profile()) - timedelta(days=days_ago)


def test_the_backtest_fires_on_the_first_day_of_each_stretch_over_the_threshold(failing_stretches, service, now):
    result = thresholds.backtest(failure_rate(service=service), Rule(Comparison.GT, 50), now=now)

    assert len(result.days) == 90
    assert [x.day for x in result.fired] == [day(now, 40), day(now, 10)]
    assert [x.day for x in result.days if x.recovered] == [day(now, 35), day(now, 8)]
    assert result.breaching_days == 7
    # Before the history began, and today (no run yet), the rate has no value.
    assert result.without_value == 30
    assert result.verdict == "ok"
    chart = result.chart()
    assert chart["values"][-41] == 100.0 and chart["values"][-42] == 0.0 and chart["limit"] == 50
    assert chart["fired"].count(True) == 2


def test_a_cooldown_holds_back_a_second_firing_in_the_backtest(failing_stretches, service, now):
    subject = failure_rate(service=service)
    # 30 days after the first firing: held back; 31 days after, still over: it fires then.
    result = thresholds.backtest(subject, Rule(Comparison.GT, 50, timedelta(days=31)), now=now)
    assert [x.day for x in result.fired] == [day(now, 40), day(now, 9)]
    result = thresholds.backtest(subject, Rule(Comparison.GT, 50, timedelta(days=32)), now=now)
    assert [x.day for x in result.fired] == [day(now, 40)]


def test_a_wider_window_smooths_the_value(failing_stretches, service, now):
    result = thresholds.backtest(failure_rate(service=service, window_days=7), Rule(Comparison.GT, 50), now=now)
    # Over 7 days, 5 failing days of 7 (71%) then fewer: one stretch crosses, the two-day one never reaches 50%.
    assert [x.day for x in result.fired] == [day(now, 37)]


def test_a_team_alone_reads_its_own_services_and_with_sub_teams_theirs_too(history, team, service, ledger, now):
    runs(history, service, 0, "success", "success", "success")
    runs(history, ledger, 0, "failure", "failure", "failure")
    history.refresh()

    def value(subject):
        return threshold_metrics.current(subject, now).value

    assert value(failure_rate(ScopeKind.TEAM, team=team)) == 0.0
    assert value(failure_rate(ScopeKind.TEAM_SUBTREE, team=team)) == 50.0
    assert value(failure_rate(ScopeKind.SERVICE, service=ledger)) == 100.0
    assert value(failure_rate(ScopeKind.ORGANISATION)) == 50.0


def test_durations_are_read_in_hours_and_frequencies_per_week(failing_stretches, service, now):
    history = failing_stretches
    history.deploy(service, "d1", 1)
    history.deploy(service, "d2", 2)
    history.refresh()
    frequency = threshold_metrics.current(
        Subject(METRICS["deployment_frequency"], ScopeKind.SERVICE, None, service, 7), now
    )
    assert frequency.value == pytest.approx(2.0)  # two in 7 days: 2 per week
    p50 = threshold_metrics.current(Subject(METRICS["pipeline_p50_duration"], ScopeKind.SERVICE, None, service, 7), now)
    assert p50.value == pytest.approx(5.0)  # minutes


@pytest.fixture
def threshold(service, owner):
    return Threshold.objects.create(
        name="Checkout CI failing",
        metric="pipeline_failure_rate",
        scope=ScopeKind.SERVICE,
        service=service,
        comparison=Comparison.GT,
        value=50,
        window_days=1,
        cooldown_hours=24,
        created_by=owner,
    )


def test_a_tick_fires_once_and_the_next_ticks_do_not_fire_again(history, service, threshold, now):
    runs(history, service, 0, "failure", "failure", "success")
    history.refresh()

    first = thresholds.thresholds_evaluate(now=now)
    again = thresholds.thresholds_evaluate(now=now)  # the same tick run twice
    later = thresholds.thresholds_evaluate(now=now + timedelta(minutes=15))

    assert (first.evaluated, first.events, again.events, later.events) == (1, 1, 0, 0)
    [event] = ThresholdEvent.objects.all()
    assert (event.key, event.kind, event.value, event.limit, event.at) == (
        f"threshold-{threshold.pk}-1-crossed",
        "crossed",
        pytest.approx(200 / 3),
        50,
        now,
    )
    assert event.window_end - event.window_start == timedelta(days=1)
    threshold.refresh_from_db()
    assert threshold.is_firing and threshold.firing_since == now and threshold.crossings == 1
    assert threshold.last_value == pytest.approx(200 / 3)
    assert threshold.last_evaluated_at == now + timedelta(minutes=15)


def test_it_recovers_then_waits_for_the_cooldown_before_firing_again(history, service, threshold, now):
    Threshold.objects.filter(pk=threshold.pk).update(window_days=2)
    runs(history, service, 0, "failure", "failure")
    history.refresh()
    thresholds.thresholds_evaluate(now=now)
    runs(history, service, 0, "failure", "failure", "success", "success", "success")  # 2 of 5 failed
    history.refresh()
    thresholds.thresholds_evaluate(now=now + timedelta(minutes=15))
    runs(history, service, 0, *["failure"] * 9)  # 9 of 12
    history.refresh()
    thresholds.thresholds_evaluate(now=now + timedelta(minutes=30))  # within the 24 h cooldown: held back

    kinds = list(ThresholdEvent.objects.order_by("at").values_list("key", flat=True))
    assert kinds == [f"threshold-{threshold.pk}-1-crossed", f"threshold-{threshold.pk}-1-recovered"]
    thresholds.thresholds_evaluate(now=now + timedelta(hours=24, minutes=30))
    # A day later the 2-day window holds the failures of the day before (11 of 14): it fires again, its second crossing.
    assert ThresholdEvent.objects.filter(key=f"threshold-{threshold.pk}-2-crossed").exists()


def test_no_data_is_no_crossing(service, threshold, now):
    tick = thresholds.thresholds_evaluate(now=now)
    threshold.refresh_from_db()
    assert (tick.events, threshold.is_firing, threshold.last_value, threshold.last_evaluated_at) == (
        0,
        False,
        None,
        now,
    )


def test_a_paused_threshold_is_not_evaluated(history, service, threshold, now):
    runs(history, service, 0, "failure")
    history.refresh()
    Threshold.objects.filter(pk=threshold.pk).update(is_active=False)
    assert thresholds.thresholds_evaluate(now=now).evaluated == 0
    assert not ThresholdEvent.objects.exists()


def test_one_broken_threshold_does_not_keep_the_others_from_being_evaluated(history, service, threshold, now, caplog):
    runs(history, service, 0, "failure")
    history.refresh()
    broken = Threshold.objects.create(
        name="Gone", metric="no_such_metric", scope=ScopeKind.SERVICE, service=service, comparison="gt", value=1
    )
    tick = thresholds.thresholds_evaluate(now=now)
    assert (tick.evaluated, tick.failed, tick.events) == (1, 1, 1)
    assert f"threshold {broken.pk} could not be evaluated" in caplog.text


def test_editing_the_rule_forgets_the_firing_state_but_keeps_the_cooldown(history, service, threshold, now, owner):
    runs(history, service, 0, "failure")
    history.refresh()
    thresholds.thresholds_evaluate(now=now)
    threshold.refresh_from_db()
    threshold.value = 60
    thresholds.threshold_save(threshold=threshold, by=owner)
    threshold.refresh_from_db()
    assert (threshold.is_firing, threshold.crossed_at, threshold.crossings) == (False, now, 1)
    # Still breaching, but within the cooldown of the last crossing: no second event.
    thresholds.thresholds_evaluate(now=now + timedelta(minutes=15))
    assert ThresholdEvent.objects.count() == 1


def test_the_scheduled_task_evaluates_and_says_what_it_did(history, service, threshold):
    # The task reads the clock: a window of two days holds the run, made at noon today or yesterday.
    Threshold.objects.filter(pk=threshold.pk).update(window_days=2)
    runs(history, service, 0, "failure")
    history.refresh()
    assert tasks.thresholds_evaluate().startswith("1 thresholds evaluated, 1 events, 0 failed")


def test_the_schedule_is_declared_every_15_minutes(db):
    from django.apps import apps
    from django_q.models import Schedule

    from e360.schedules import sync

    sync(apps.get_app_config("actions"))
    schedule = Schedule.objects.get(func="actions.tasks.thresholds_evaluate")
    assert (schedule.schedule_type, schedule.minutes) == (Schedule.MINUTES, 15)


# --- Surveys --------------------------------------------------------------------------------------------------------


def test_a_survey_threshold_reads_the_shown_score_and_nothing_for_a_group_below_k(org, closed):
    from insights.selectors import WaveFigures

    wave = WaveFigures.load(closed)
    metric = METRICS["survey.ci_cd"]
    pay = threshold_metrics.current(Subject(metric, ScopeKind.TEAM_SUBTREE, org.pay, None, 7))
    assert pay.value == pytest.approx(wave.rows[org.pay.pk].dimensions["ci_cd"]["score"])
    assert pay.window is None
    search = threshold_metrics.current(Subject(metric, ScopeKind.TEAM, org.search, None, 7))  # 2 responses, k = 3
    assert search.value is None
    whole = threshold_metrics.current(Subject(metric, ScopeKind.ORGANISATION, None, None, 7))
    assert whole.value == pytest.approx(wave.rows["org"].dimensions["ci_cd"]["score"]) if "org" in wave.rows else True


def test_a_survey_backtest_has_values_only_from_the_wave_s_close(org, closed):
    metric = METRICS["survey.ci_cd"]
    result = thresholds.backtest(Subject(metric, ScopeKind.TEAM, org.pay, None, 7), Rule(Comparison.LT, 101))
    assert result.days[-1].value is not None
    assert len(result.fired) == 1


def test_every_delivery_metric_has_a_reader_and_the_surveys_every_dimension():
    from insights.engine import METRICS as ENGINE
    from surveys.models import Dimension

    assert {key for key, m in METRICS.items() if m.source == "delivery"} == set(ENGINE)
    assert {key.removeprefix("survey.") for key, m in METRICS.items() if m.source == "survey"} == set(Dimension.values)
    assert METRICS["pipeline_failure_rate"].unit == "%" and METRICS["pipeline_failure_rate"].higher_is_worse
    assert METRICS["deployment_frequency"].unit == "per week" and not METRICS["deployment_frequency"].higher_is_worse
    assert METRICS["lead_time"].text(42.5) == "42.5 hours"


def test_the_review_queue_is_read_at_each_window_s_end(history, service, now):
    from metrics.inputs import PullRequestInput
    from metrics.services import pull_request_upsert

    pull_request_upsert(
        source=history.source,
        data=PullRequestInput(
            external_id="waiting",
            repository="acme/checkout",
            service=service.slug,
            number=9,
            author="ada",
            opened_at=now - timedelta(days=3),
        ),
        dirty=Dirty(),
    )
    subject = Subject(METRICS["prs_waiting_24h"], ScopeKind.SERVICE, None, service, 7)
    assert threshold_metrics.current(subject, now).value == 1.0
    result = thresholds.backtest(subject, Rule(Comparison.GTE, 1), now=now)
    # At the end of the day it was opened (3 days ago) it had waited 19 h; at the end of the next, 43 h.
    assert [x.value for x in result.days[-4:]] == [0.0, 1.0, 1.0, 1.0]
    assert [x.day for x in result.fired] == [day(now, 2)]


def test_an_evaluation_reads_the_rollups_alone(history, service, threshold, now, django_assert_num_queries):
    runs(history, service, 0, "failure")
    history.refresh()
    loaded = Threshold.objects.select_related("service").get(pk=threshold.pk)
    # The service's day rows; then, under the lock (a savepoint in the test's transaction), the row, the event and
    # the state.
    with django_assert_num_queries(6):
        assert thresholds.threshold_evaluate(loaded, now=now) is not None
