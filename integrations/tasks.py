"""django-q2 entry points for the providers' APIs. Tasks take ids and are idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from e360.broker import LONG_TASK
from integrations import backfill as runner
from integrations.models import Backfill, Connection

BACKFILL_TASK = "integrations.tasks.backfill_run"
SYNC_TASK = "integrations.tasks.connection_sync"
# Queued with the long time limit: one run works ``runner.RUN_SECONDS``, less than it.
Q_OPTIONS = {"timeout": LONG_TASK, "group": "integrations-backfill"}


def resume_schedule_name(backfill_id: int) -> str:
    return f"Resume backfill {backfill_id}"


def backfill_queue(backfill_id: int) -> None:
    """Run a backfill (a new one, or one to go on with) in the background, once the caller commits."""
    transaction.on_commit(lambda: async_task(BACKFILL_TASK, backfill_id, q_options=Q_OPTIONS))


def backfill_run(backfill_id: int) -> str:
    """Go on with a backfill: a run works a few minutes and queues the next; a rate limit
    schedules the next run at ``resume_at`` (a one-off schedule) instead of sleeping."""
    found = Backfill.objects.select_related("connection__source").filter(pk=backfill_id).first()
    if found is None or found.status in (Backfill.Status.DONE, Backfill.Status.FAILED, Backfill.Status.CANCELLED):
        return f"backfill {backfill_id}: nothing to do"
    status = runner.backfill_run(found)
    if status == Backfill.Status.RUNNING:
        backfill_queue(backfill_id)
    elif status == Backfill.Status.WAITING:
        Schedule.objects.filter(name=resume_schedule_name(backfill_id)).delete()
        schedule(
            BACKFILL_TASK,
            backfill_id,
            name=resume_schedule_name(backfill_id),
            schedule_type=Schedule.ONCE,
            next_run=found.resume_at,
            q_options=Q_OPTIONS,
        )
    return f"backfill {backfill_id}: {status}"


def connection_sync(connection_id: int) -> str:
    connection = Connection.objects.select_related("source").filter(pk=connection_id).first()
    if connection is None:
        return f"connection {connection_id}: gone"
    return runner.connection_sync(connection)


# A waiting backfill whose resume schedule is this late has lost it (e360.schedules drops
# undeclared schedules of this app's tasks on migrate): it is queued again.
RESUME_LOST_AFTER = timedelta(minutes=5)


def connections_sync() -> str:
    """Scheduled: the incremental sync of every connection a backfill has walked, and the
    waiting backfills whose resume schedule was lost."""
    now = timezone.now()
    ids = list(Connection.objects.filter(cursors__watermark__isnull=False).distinct().values_list("pk", flat=True))
    late = Backfill.objects.filter(status=Backfill.Status.WAITING, resume_at__lt=now - RESUME_LOST_AFTER)
    resumed = 0
    for backfill_id in late.values_list("pk", flat=True):
        if not Schedule.objects.filter(name=resume_schedule_name(backfill_id)).exists():
            async_task(BACKFILL_TASK, backfill_id, q_options=Q_OPTIONS)
            resumed += 1
    for connection_id in ids:
        async_task(SYNC_TASK, connection_id, q_options=Q_OPTIONS)
    return f"{len(ids)} connections to sync; {resumed} waiting backfills resumed"
