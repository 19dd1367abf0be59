"""django-q2 entry points for delivery data. Tasks take ids and are idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Least
from django.utils import timezone
from django_q.tasks import async_task

from metrics.models import RefreshRequest

REFRESH_TASK = "metrics.tasks.service_refresh"


def queue_service_refresh(service_id: int, since: datetime) -> None:
    """Have the worker re-link and re-roll a service from ``since`` on; a request is never lost.

    The request is a ``RefreshRequest`` row, so a burst of writes queues one task: the first
    creates the row and queues the task, later ones add to its count and move its ``since``
    earlier. A refresh that takes the row and sees the count grow while it runs queues the next
    one itself (``service_refresh``); the sweep re-queues a row whose task was lost.
    """
    requested = {"requests": F("requests") + 1, "since": Least("since", Value(since, DateTimeField()))}
    if RefreshRequest.objects.filter(service_id=service_id).update(**requested):
        return
    try:
        with transaction.atomic():
            RefreshRequest.objects.create(service_id=service_id, since=since)
    except IntegrityError:
        # Another request created the row meanwhile (its task runs), or the service is gone.
        RefreshRequest.objects.filter(service_id=service_id).update(**requested)
        return
    async_task(REFRESH_TASK, service_id, group="metrics-refresh")


def service_refresh(service_id: int) -> str:
    """Refresh a service whose refresh was requested; idempotent (a second run finds no request)."""
    from metrics.refresh import service_refresh as refresh

    with transaction.atomic():
        request = RefreshRequest.objects.select_for_update().filter(service_id=service_id).first()
        if request is None:
            return f"service {service_id}: no refresh requested (an earlier run did it)"
        request.taken, request.queued_at = request.requests, timezone.now()
        request.save(update_fields=["taken", "queued_at"])
    with transaction.atomic():
        summary = refresh(service_id=service_id, since=request.since)
        # Requested again while this ran (maybe after it read its inputs): the row stays, run once more.
        done = RefreshRequest.objects.filter(service_id=service_id, requests=request.taken).delete()[0]
        again = not done and RefreshRequest.objects.filter(service_id=service_id).update(
            taken=None, queued_at=timezone.now()
        )
        if again:
            transaction.on_commit(lambda: async_task(REFRESH_TASK, service_id, group="metrics-refresh"))
    return f"{summary}; requested again meanwhile: queued" if again else summary


# A queued task still waiting after this long is presumed lost (a Redis broker restarted): a busy
# queue may hold a task that long, and a copy queued meanwhile finds the row gone and stops at once.
QUEUED_TASK_LOST_AFTER = timedelta(minutes=10)


def refresh_requests_sweep() -> str:
    """Queue again the refreshes whose task is gone. Scheduled every minute.

    A refresh that took its row and has not ended within the broker's retry time (which
    outlasts the worker's timeout) died with its worker, or failed: it is queued again at once.
    A row no task has taken is queued again after ``QUEUED_TASK_LOST_AFTER``.
    """
    now = timezone.now()
    died = Q(taken__isnull=False, queued_at__lt=now - timedelta(seconds=settings.Q_CLUSTER["retry"]))
    lost = Q(taken__isnull=True, queued_at__lt=now - QUEUED_TASK_LOST_AFTER)
    service_ids = list(RefreshRequest.objects.filter(died | lost).values_list("service_id", flat=True))
    RefreshRequest.objects.filter(service_id__in=service_ids).update(queued_at=now)
    for service_id in service_ids:
        async_task(REFRESH_TASK, service_id, group="metrics-refresh")
    return f"{len(service_ids)} refreshes queued again" if service_ids else "no refresh waiting too long"


def inbound_drain(source_id: int | None = None) -> str:
    """Process a source's received inbound events. Scheduled every minute without a source too,
    for all of them, in case a queued drain was lost (a broker restart, a killed worker)."""
    from metrics.ingest import inbound_drain as drain

    return drain(source_id)


def team_rollups_sync() -> str:
    """Recompute the team rollups a catalog change (a service changing team, a team moving) made stale."""
    from metrics.rollups import teams

    return teams.sync()


def workflow_rollups_sweep() -> str:
    """Write the coming day's workflow rollups of the services no refresh reached since yesterday. Hourly."""
    from metrics.rollups import workflows

    return workflows.sweep()
