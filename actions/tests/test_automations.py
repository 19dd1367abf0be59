"""Automations' engine against loopback receivers (Slack, the signed webhook, GitHub): each trigger records one
run per occurrence and a second tick nothing new; the message reaches the channel once with the run's key; dry
runs stay in the outbox; quiet hours delay a run to the team's working time; a failing channel fails its run with
the answer and not the others; a rate limit puts the run back with a not-before time; a worker killed mid-run
never sends twice; conditions skip with why; the schedule's task."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from actions import automations
from actions.channels import http
from actions.models import ActionAudit, Automation, AutomationRun, Channel, OutboxMessage, Threshold, ThresholdEvent
from actions.models.automations import Do, Trigger
from actions.tests.factories import ChannelFactory
from actions.tests.fake_slack import GONE_WEBHOOK_PATH, WEBHOOK_PATH
from actions.tests.selfservice_fixtures import failed_run, github_connection
from e360.tests.factories import ServiceFactory
from metrics.models import PipelineRun
from metrics.tests.factories import IncidentFactory, PipelineRunFactory

pytestmark = pytest.mark.django_db

Status = AutomationRun.Status
# Monday 7 December 2026, 10:00 in Paris (CET, UTC+1): working time.
MONDAY_10 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
# The same Monday at 03:00 in Paris: before work.
MONDAY_NIGHT = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def paris(team):
    team.time_zone = "Europe/Paris"
    team.working_days = [1, 2, 3, 4, 5]
    team.work_starts, team.work_ends = time(9), time(17)
    team.save()
    return team


@pytest.fixture
def slack(fake_slack, team):
    return ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url(), team=team)


@pytest.fixture
def threshold(service):
    return Threshold.objects.create(
        name="Checkout failures",
        metric="pipeline_failure_rate",
        scope="service",
        service=service,
        comparison="gt",
        value=20,
    )


def event(threshold: Threshold, n: int = 1, kind: str = "crossed", at: datetime = MONDAY_10) -> ThresholdEvent:
    return ThresholdEvent.objects.create(
        threshold=threshold,
        key=f"threshold-{threshold.pk}-{n}-{kind}",
        kind=kind,
        at=at,
        value=24.0,
        comparison="gt",
        limit=20,
    )


def automation(team, channel=None, **fields) -> Automation:
    fields.setdefault("trigger", Trigger.THRESHOLD_CROSSED)
    fields.setdefault("quiet_hours", False)
    made = Automation.objects.create(name=fields.pop("name", "Page the team"), team=team, channel=channel, **fields)
    Automation.objects.filter(pk=made.pk).update(created_at=LONG_AGO)
    made.created_at = LONG_AGO
    return made


def tick(now: datetime = MONDAY_10) -> str:
    return automations.automations_tick(now=now)


# --- Threshold triggers --------------------------------------------------------------------------------------


def test_a_crossing_runs_once_and_its_message_reaches_slack(team, slack, threshold, fake_slack):
    auto = automation(team, slack, threshold=threshold, note="Look at the flaky tests first.")
    crossed = event(threshold)

    assert tick() == "1 runs recorded; 1 sent"

    run = AutomationRun.objects.get()
    assert (run.automation, run.dedupe_key, run.trigger, run.status) == (auto, crossed.key, "threshold_crossed", "sent")
    assert run.attempts == 1 and run.response == "ok" and run.duration_ms is not None and run.finished_at
    assert run.inputs["threshold_id"] == threshold.pk and run.inputs["event_id"] == crossed.pk
    ((path, body),) = fake_slack.posted
    assert path == WEBHOOK_PATH
    assert body["blocks"][0]["text"]["text"] == "Checkout failures crossed: 24%"
    assert "Look at the flaky tests first." in str(body)

    assert tick() == "0 runs recorded; none executed"
    assert AutomationRun.objects.count() == 1 and len(fake_slack.posted) == 1


def test_the_signed_webhook_gets_the_runs_key_as_its_idempotency_key(team, threshold, fake_receiver):
    from actions.tests.fake_receiver import KEY

    hook = ChannelFactory(kind=Channel.Kind.WEBHOOK, url=fake_receiver.url, secret=KEY, team=team)
    auto = automation(team, hook, threshold=threshold)
    crossed = event(threshold)
    tick()
    run = AutomationRun.objects.get()
    assert run.status == Status.SENT
    (received,) = fake_receiver.received
    assert received["dedupe_key"] == automations.run_key(run) == f"automation-{auto.pk}:{crossed.key}"


def test_any_threshold_of_the_team_and_only_its_kind(team, other_team, slack, threshold):
    automation(team, slack)  # no threshold: any of the team's
    elsewhere = Threshold.objects.create(
        name="Search", metric="pipeline_failure_rate", scope="team", team=other_team, comparison="gt", value=1
    )
    event(threshold, 1)
    event(threshold, 1, kind="recovered")
    event(elsewhere, 1)
    tick()
    assert list(AutomationRun.objects.values_list("dedupe_key", flat=True)) == [f"threshold-{threshold.pk}-1-crossed"]


def test_events_before_the_automation_existed_are_not_run(team, slack, threshold):
    event(threshold, at=MONDAY_10 - timedelta(hours=1))
    auto = automation(team, slack, threshold=threshold)
    Automation.objects.filter(pk=auto.pk).update(created_at=MONDAY_10)
    assert tick() == "0 runs recorded; none executed"


def test_a_dry_run_keeps_the_message_in_the_outbox_only(team, slack, threshold, fake_slack):
    automation(team, slack, threshold=threshold, dry_run=True)
    crossed = event(threshold)
    assert tick() == "1 runs recorded; 1 dry_run"
    assert fake_slack.posted == []
    stored = OutboxMessage.objects.get()
    assert stored.dry_run and stored.channel == slack and stored.title == "Checkout failures crossed: 24%"
    assert stored.dedupe_key.endswith(crossed.key)
    assert AutomationRun.objects.get().status == Status.DRY_RUN


# --- Quiet hours ---------------------------------------------------------------------------------------------


def test_a_crossing_at_night_waits_for_the_teams_working_time(paris, slack, threshold, fake_slack):
    automation(paris, slack, threshold=threshold, quiet_hours=True)
    event(threshold, at=MONDAY_NIGHT)

    assert tick(MONDAY_NIGHT) == "1 runs recorded; none executed"
    run = AutomationRun.objects.get()
    assert run.status == Status.WAITING
    assert run.not_before == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 in Paris

    assert tick(datetime(2026, 12, 7, 7, 59, tzinfo=UTC)) == "0 runs recorded; none executed"
    assert fake_slack.posted == []
    assert tick(datetime(2026, 12, 7, 8, 0, tzinfo=UTC)) == "0 runs recorded; 1 sent"
    assert len(fake_slack.posted) == 1 and AutomationRun.objects.get().status == Status.SENT


def test_without_quiet_hours_a_night_crossing_is_sent_at_once(paris, slack, threshold, fake_slack):
    automation(paris, slack, threshold=threshold, quiet_hours=False)
    event(threshold, at=MONDAY_NIGHT)
    assert tick(MONDAY_NIGHT) == "1 runs recorded; 1 sent"


def test_a_friday_evening_crossing_waits_for_monday(paris, slack, threshold):
    friday_evening = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)  # 19:30 in Paris
    automation(paris, slack, threshold=threshold, quiet_hours=True)
    event(threshold, at=friday_evening)
    tick(friday_evening)
    assert AutomationRun.objects.get().not_before == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


# --- Failures --------------------------------------------------------------------------------------------------


def test_a_failing_channel_fails_its_run_with_the_answer_and_not_the_others(team, slack, threshold, fake_slack):
    gone = ChannelFactory(kind=Channel.Kind.SLACK_WEBHOOK, secret=fake_slack.webhook_url(GONE_WEBHOOK_PATH))
    automation(team, gone, threshold=threshold, name="Broken")
    automation(team, slack, threshold=threshold, name="Fine")
    event(threshold)

    assert tick() == "2 runs recorded; 1 failed, 1 sent"
    broken = AutomationRun.objects.get(automation__name="Broken")
    assert broken.status == Status.FAILED and broken.response.startswith("404") and "channel" in broken.response
    assert "webhooksecrettoken" not in broken.response
    assert AutomationRun.objects.get(automation__name="Fine").status == Status.SENT
    # Not retried by itself: it may have reached the receiver.
    assert tick() == "0 runs recorded; none executed"
    assert automations.retry(run_ids=[broken.pk]) == 1
    assert AutomationRun.objects.get(pk=broken.pk).status == Status.PENDING


def test_a_timeout_fails_the_run_with_why(team, slack, threshold, fake_slack, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", 0.3)
    fake_slack.delay = 1.0
    automation(team, slack, threshold=threshold)
    event(threshold)
    tick()
    run = AutomationRun.objects.get()
    assert run.status == Status.FAILED and run.response == "Slack's incoming webhook did not answer within 0.3 seconds"


def test_a_rate_limit_puts_the_run_back_until_retry_after(team, slack, threshold, fake_slack):
    fake_slack.limit(WEBHOOK_PATH, 30)
    automation(team, slack, threshold=threshold)
    event(threshold)
    tick(timezone.now())
    run = AutomationRun.objects.get()
    assert run.status == Status.PENDING and run.not_before is not None and run.finished_at is None
    assert run.response.startswith("rate-limited") and fake_slack.posted == []
    assert tick(timezone.now()) == "0 runs recorded; none executed"  # not before its time

    Channel.objects.update(paused_until=None)  # the pause is over
    assert tick(run.not_before + timedelta(seconds=1)) == "0 runs recorded; 1 sent"
    run.refresh_from_db()
    assert run.attempts == 2 and len(fake_slack.posted) == 1


def test_a_worker_killed_mid_run_never_sends_twice(team, slack, threshold, fake_slack, monkeypatch):
    automation(team, slack, threshold=threshold)
    event(threshold)

    def killed(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(automations, "send", killed)
    with pytest.raises(SystemExit):
        tick()
    assert AutomationRun.objects.get().status == Status.SENDING
    monkeypatch.undo()
    assert tick() == "0 runs recorded; none executed"
    run = AutomationRun.objects.get()
    assert fake_slack.posted == [] and run.status == Status.SENDING
    # An admin may put it back once its worker is surely gone, not while it may still be sending.
    assert automations.retry(run_ids=[run.pk], now=run.claimed_at + timedelta(minutes=1)) == 0
    assert automations.retry(run_ids=[run.pk], now=run.claimed_at + timedelta(minutes=16)) == 1
    assert tick() == "0 runs recorded; 1 sent"
    assert len(fake_slack.posted) == 1


def test_two_collections_at_once_record_one_run(team, slack, threshold):
    auto = automation(team, slack, threshold=threshold)
    event(threshold)
    # The second worker read the events before the first inserted its run.
    occurrences = list(automations._threshold_occurrences(auto, MONDAY_10, None))
    assert automations.automations_collect(now=MONDAY_10) == 1
    AutomationRun.objects.bulk_create(
        [AutomationRun(automation=auto, trigger=auto.trigger, dedupe_key=o.key) for o in occurrences],
        ignore_conflicts=True,
    )
    assert AutomationRun.objects.count() == 1


# --- Other triggers --------------------------------------------------------------------------------------------


def test_an_opened_incident_runs_once(team, service, other_team):
    outbox = ChannelFactory(team=team)
    automation(team, outbox, trigger=Trigger.INCIDENT_OPENED)
    incident = IncidentFactory(service=service, title="Checkout down", severity="SEV1", started_at=MONDAY_10)
    IncidentFactory(service=ServiceFactory(owner=other_team), started_at=MONDAY_10)  # not the team's
    IncidentFactory(service=service, started_at=MONDAY_10 - timedelta(days=8))  # too old

    assert tick(MONDAY_10 + timedelta(minutes=1)) == "1 runs recorded; 1 sent"
    run = AutomationRun.objects.get()
    assert run.dedupe_key == f"incident:{incident.pk}" and run.status == Status.SENT
    assert OutboxMessage.objects.get().title == "Incident on Checkout (SEV1): Checkout down"
    assert tick(MONDAY_10 + timedelta(minutes=2)) == "0 runs recorded; none executed"


def test_conditions_skip_with_why(team, service):
    critical = ServiceFactory(name="Ledger", slug="ledger", owner=team, tier=1)
    auto = automation(team, ChannelFactory(team=team), trigger=Trigger.INCIDENT_OPENED, tiers=[1])
    IncidentFactory(service=service, started_at=MONDAY_10)  # tier 3
    IncidentFactory(service=critical, started_at=MONDAY_10)
    assert tick() == "2 runs recorded; 1 sent"
    statuses = dict(AutomationRun.objects.values_list("inputs__facts__Service", "status"))
    assert statuses == {"Checkout": Status.SKIPPED, "Ledger": Status.SENT}
    skipped = AutomationRun.objects.get(status=Status.SKIPPED)
    assert skipped.response == "skipped: its service is not of the automation's tiers" and skipped.finished_at

    auto.tiers = []
    auto.save()
    auto.services.set([service])
    IncidentFactory(service=critical, started_at=MONDAY_10)
    tick()
    assert AutomationRun.objects.filter(status=Status.SKIPPED).count() == 2


def test_a_daily_schedule_runs_once_a_day_at_the_teams_local_time(paris, threshold):
    automation(paris, ChannelFactory(team=paris), trigger=Trigger.SCHEDULE, daily_at=time(9, 30))
    Threshold.objects.filter(pk=threshold.pk).update(is_firing=True, last_value=24.0)

    assert tick(datetime(2026, 12, 7, 8, 29, tzinfo=UTC)) == "0 runs recorded; none executed"  # 09:29 Paris
    assert tick(datetime(2026, 12, 7, 8, 30, tzinfo=UTC)) == "1 runs recorded; 1 sent"
    assert tick(datetime(2026, 12, 7, 16, 0, tzinfo=UTC)) == "0 runs recorded; none executed"
    run = AutomationRun.objects.get()
    assert run.dedupe_key == "schedule:2026-12-07"
    message = OutboxMessage.objects.get()
    assert message.title == "Page the team: 1 threshold firing" and "Checkout failures" in message.text
    assert tick(datetime(2026, 12, 8, 8, 30, tzinfo=UTC)) == "1 runs recorded; 1 sent"


def test_an_hourly_schedule(team):
    automation(team, ChannelFactory(team=team), trigger=Trigger.SCHEDULE, every_hours=6)
    tick(datetime(2026, 12, 7, 5, 59, tzinfo=UTC))
    tick(datetime(2026, 12, 7, 6, 1, tzinfo=UTC))
    tick(datetime(2026, 12, 7, 11, 0, tzinfo=UTC))
    assert list(AutomationRun.objects.order_by("pk").values_list("dedupe_key", flat=True)) == [
        "schedule:2026-12-07T00:00Z",
        "schedule:2026-12-07T06:00Z",
    ]


def _failures(service, n: int, start: datetime, status: str = PipelineRun.Status.FAILURE) -> list[PipelineRun]:
    return [
        PipelineRunFactory(service=service, workflow="CI", status=status, finished_at=start + timedelta(minutes=i))
        for i in range(n)
    ]


def test_a_pipeline_failing_k_times_in_a_row_runs_once_per_streak(team, service):
    automation(team, ChannelFactory(team=team), trigger=Trigger.PIPELINE_FAILING, failures_in_a_row=3)
    _failures(service, 1, MONDAY_10 - timedelta(hours=2), PipelineRun.Status.SUCCESS)
    first = _failures(service, 2, MONDAY_10 - timedelta(hours=1))
    assert tick() == "0 runs recorded; none executed"
    _failures(service, 1, MONDAY_10 - timedelta(minutes=30))
    assert tick() == "1 runs recorded; 1 sent"
    assert AutomationRun.objects.get().dedupe_key == f"pipeline:{first[0].pk}"
    _failures(service, 1, MONDAY_10 - timedelta(minutes=20))  # the streak goes on: no new run
    assert tick() == "0 runs recorded; none executed"
    _failures(service, 1, MONDAY_10 - timedelta(minutes=15), PipelineRun.Status.SUCCESS)
    _failures(service, 3, MONDAY_10 - timedelta(minutes=10))
    assert tick() == "1 runs recorded; 1 sent"
    assert "CI on Checkout failed 3 times in a row on main" in OutboxMessage.objects.values_list("title", flat=True)


def test_a_pipeline_streak_re_runs_its_failed_jobs_on_github_as_the_automation(team, service, fake_github):
    connection = github_connection(fake_github, team)
    now = timezone.now()
    failed_run(fake_github, connection, service, finished=now - timedelta(hours=2))
    latest = failed_run(fake_github, connection, service, finished=now - timedelta(hours=1))
    automation(team, trigger=Trigger.PIPELINE_FAILING, failures_in_a_row=2, action=Do.RERUN_FAILED_JOBS)

    assert tick(now) == "1 runs recorded; 1 sent"
    assert fake_github.reruns == [latest.external_id.split("/")[0]]
    audit = ActionAudit.objects.get()
    assert audit.user is None and audit.actor == "automation “Page the team”" and audit.pipeline_run == latest
    assert AutomationRun.objects.get().response.startswith("GitHub is re-running the failed jobs of CI")


def test_a_dry_run_re_runs_nothing(team, service, fake_github):
    connection = github_connection(fake_github, team)
    now = timezone.now()
    failed_run(fake_github, connection, service, finished=now - timedelta(hours=1))
    automation(team, trigger=Trigger.PIPELINE_FAILING, failures_in_a_row=1, action=Do.RERUN_FAILED_JOBS, dry_run=True)
    assert tick(now) == "1 runs recorded; 1 dry_run"
    assert fake_github.reruns == [] and not ActionAudit.objects.exists()


# --- The schedule's task ---------------------------------------------------------------------------------------


def test_the_task_runs_every_minute_as_a_long_task(db):
    row = Schedule.objects.get(func="actions.tasks.automations_tick")
    assert (row.schedule_type, row.minutes, row.kwargs) == (Schedule.MINUTES, 1, "{'q_options': {'timeout': 600}}")


def test_the_task_records_and_sends(team, threshold):
    from django_q.models import Task
    from django_q.tasks import async_task

    automation(team, ChannelFactory(team=team), threshold=threshold)
    event(threshold, at=timezone.now())
    task_id = async_task("actions.tasks.automations_tick")
    assert Task.objects.get(id=task_id).result == "1 runs recorded; 1 sent"


def test_a_pull_request_waiting_n_business_hours_runs_once(paris, service):
    from metrics.tests.factories import PullRequestFactory

    automation(paris, ChannelFactory(team=paris), trigger=Trigger.PULL_REQUEST_WAITING, waiting_hours=4)
    monday_9 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    waiting = PullRequestFactory(service=service, title="Retry payments", opened_at=monday_9, number=12)
    PullRequestFactory(service=service, opened_at=monday_9, first_review_at=monday_9 + timedelta(hours=1))  # reviewed

    assert tick(datetime(2026, 12, 7, 11, 59, tzinfo=UTC)) == "0 runs recorded; none executed"
    assert tick(datetime(2026, 12, 7, 12, 0, tzinfo=UTC)) == "1 runs recorded; 1 sent"  # 13:00 in Paris
    run = AutomationRun.objects.get()
    assert run.dedupe_key == f"pull-request:{waiting.pk}"
    assert OutboxMessage.objects.get().title.endswith("#12 waits for a first review: Retry payments")
    assert tick(datetime(2026, 12, 7, 15, 0, tzinfo=UTC)) == "0 runs recorded; none executed"


def test_a_pull_request_friday_evening_counts_business_hours_only(paris, service):
    from metrics.tests.factories import PullRequestFactory

    automation(paris, ChannelFactory(team=paris), trigger=Trigger.PULL_REQUEST_WAITING, waiting_hours=4)
    PullRequestFactory(service=service, opened_at=datetime(2026, 12, 4, 15, 0, tzinfo=UTC))  # Fri 16:00 Paris
    assert tick(datetime(2026, 12, 7, 8, 59, tzinfo=UTC)) == "0 runs recorded; none executed"  # Mon 09:59: 2 h
    assert tick(datetime(2026, 12, 7, 11, 0, tzinfo=UTC)) == "1 runs recorded; 1 sent"  # Mon 12:00: 4 h


def test_a_paused_automations_waiting_runs_are_skipped(paris, slack, threshold, fake_slack):
    auto = automation(paris, slack, threshold=threshold, quiet_hours=True)
    event(threshold, at=MONDAY_NIGHT)
    tick(MONDAY_NIGHT)
    Automation.objects.filter(pk=auto.pk).update(is_active=False)
    assert tick(datetime(2026, 12, 7, 8, 0, tzinfo=UTC)) == "0 runs recorded; 1 skipped"
    assert fake_slack.posted == []
    assert AutomationRun.objects.get().response == "skipped: the automation was paused before it ran"


def test_collecting_costs_the_same_queries_however_many_events(team, threshold, django_assert_num_queries):
    outbox = ChannelFactory(team=team)
    automation(team, outbox, threshold=threshold)
    automation(team, outbox, trigger=Trigger.INCIDENT_OPENED, name="Incidents")
    event(threshold, 1)
    IncidentFactory(service=threshold.service, started_at=MONDAY_10)
    # The automations (with their conditions: 3), the team tree; per automation: its triggers (2 for
    # incidents: the runs before, the incidents), its runs' insert, its check time.
    with django_assert_num_queries(11):
        assert automations.automations_collect(now=MONDAY_10) == 2
    for n in range(2, 22):
        event(threshold, n)
        IncidentFactory(service=threshold.service, started_at=MONDAY_10)
    with django_assert_num_queries(11):
        assert automations.automations_collect(now=MONDAY_10) == 40


def test_an_organisation_wide_automation_sees_every_team_and_keeps_no_quiet_hours(paris, other_team, threshold):
    outbox = ChannelFactory()
    automation(None, outbox, quiet_hours=True)
    elsewhere = Threshold.objects.create(
        name="Search", metric="pipeline_failure_rate", scope="team", team=other_team, comparison="gt", value=1
    )
    event(threshold, at=MONDAY_NIGHT)
    event(elsewhere, at=MONDAY_NIGHT)
    assert tick(MONDAY_NIGHT) == "2 runs recorded; 2 sent"
    assert OutboxMessage.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_another_worker_is_claiming_is_left_to_it(team, threshold):
    """Two workers at once: the rows one is claiming are locked, and the other skips them (PostgreSQL; SQLite
    serialises its writers with the database lock instead)."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    automation(team, ChannelFactory(team=team), threshold=threshold)
    event(threshold)
    automations.automations_collect(now=MONDAY_10)
    locked, release = threading.Event(), threading.Event()

    def claiming() -> None:
        try:
            with transaction.atomic():
                list(AutomationRun.objects.select_for_update())
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=claiming)
    worker.start()
    assert locked.wait(10)
    try:
        assert automations.automations_execute(now=MONDAY_10) == {}
    finally:
        release.set()
        worker.join()
    assert automations.automations_execute(now=MONDAY_10) == {"sent": 1}
    assert OutboxMessage.objects.count() == 1


def test_a_tick_executes_every_due_run_in_batches(team, threshold, monkeypatch):
    monkeypatch.setattr(automations, "BATCH", 2)
    automation(team, ChannelFactory(team=team), threshold=threshold)
    for n in range(1, 6):
        event(threshold, n)
    assert tick() == "5 runs recorded; 5 sent"
