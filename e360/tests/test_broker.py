"""The worker's limits: a claimed task of a killed worker comes back within a minute, and the
tasks that run longer are leased for their own time limit (e360/broker.py)."""

from __future__ import annotations

import ast
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from e360.broker import LONG_TASK, LeasedORM


def _package(**options) -> str:
    return SignedPackage.dumps(
        {"id": "t", "name": "t", "func": "e360.tasks.heartbeat", "args": (), "kwargs": {}, **options}
    )


def test_a_task_runs_for_less_than_the_time_it_stays_claimed_and_that_is_a_minute_at_most():
    timeout, retry = settings.Q_CLUSTER["timeout"], settings.Q_CLUSTER["retry"]
    assert 0 < timeout < retry <= 60
    assert retry - timeout >= 10  # the guard kills a task 3 s after its timeout: margin left
    if not settings.REDIS_URL:
        assert settings.Q_CLUSTER["broker_class"] == "e360.broker.LeasedORM"


def test_a_claimed_task_of_a_killed_worker_is_offered_again_within_a_minute(db):
    broker = get_broker()
    assert isinstance(broker, LeasedORM)
    broker.enqueue(_package())
    claimed_at = timezone.now()
    [(ack_id, _payload)] = broker.dequeue()
    # The worker is killed here: nothing acknowledges the task, which stays hidden a while...
    assert broker.dequeue() is None
    lock = OrmQ.objects.get(pk=ack_id).lock
    assert claimed_at + timedelta(seconds=50) <= lock <= timezone.now() + timedelta(seconds=60)

    OrmQ.objects.filter(pk=ack_id).update(lock=F("lock") - timedelta(seconds=60))  # ... a minute
    assert [pk for pk, _payload in broker.dequeue()] == [ack_id]


def test_a_long_task_is_leased_for_its_own_time_limit(db):
    broker = get_broker()
    broker.enqueue(_package(timeout=LONG_TASK))
    [(ack_id, _payload)] = broker.dequeue()
    margin = settings.Q_CLUSTER["retry"] - settings.Q_CLUSTER["timeout"]
    lease = OrmQ.objects.get(pk=ack_id).lock - timezone.now()
    assert timedelta(seconds=LONG_TASK + margin - 5) <= lease <= timedelta(seconds=LONG_TASK + margin)


def test_the_tasks_that_scale_with_the_organisation_have_the_long_time_limit(db):
    for func in ("metrics.tasks.team_rollups_sync", "metrics.tasks.workflow_rollups_sweep", "surveys.tasks.tick"):
        schedule = Schedule.objects.get(func=func)
        assert ast.literal_eval(schedule.kwargs)["q_options"]["timeout"] == LONG_TASK, func

    from insights import tasks as insights_tasks
    from surveys import tasks as surveys_tasks

    with mock.patch("insights.tasks.async_task") as insights_queued, mock.patch("surveys.tasks.async_task") as queued:
        insights_tasks.refresh()
        surveys_tasks.queue_invitation_emails(1)
        surveys_tasks.queue_reminder_step(1, 1)
        surveys_tasks.queue_publish_scores(1)
    for call in insights_queued.call_args_list + queued.call_args_list:
        assert call.kwargs["timeout"] == LONG_TASK, call
