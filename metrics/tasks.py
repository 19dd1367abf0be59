"""django-q2 entry points for delivery data. Tasks take ids and are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.cache import cache
from django_q.tasks import async_task


def _refresh_key(service_id: int) -> str:
    return f"metrics:refresh-since:{service_id}"


def queue_service_refresh(service_id: int, since: datetime) -> None:
    """Re-link and re-roll a service from ``since`` on, coalescing bursts of writes.

    A burst of deliveries for one service queues one task: the first write
    queues it, later ones only move the shared "since" earlier.
    """
    key = _refresh_key(service_id)
    stamp = since.astimezone(UTC).isoformat()  # one zone, so the strings compare as times
    if cache.add(key, stamp, timeout=3600):
        async_task("metrics.tasks.service_refresh", service_id, stamp, group="metrics-refresh")
        return
    current = cache.get(key)
    if current is None or stamp < current:
        cache.set(key, stamp, timeout=3600)


def service_refresh(service_id: int, since_iso: str) -> str:
    from metrics.refresh import service_refresh as refresh

    pending = cache.get(_refresh_key(service_id))
    cache.delete(_refresh_key(service_id))
    since = datetime.fromisoformat(min(since_iso, pending) if pending else since_iso)
    return refresh(service_id=service_id, since=since)


def delivery_drain(source_id: int | None = None) -> str:
    """Process a source's received deliveries. Scheduled every few minutes without a source too,
    for all of them, in case a queued drain was lost."""
    from metrics.deliveries import delivery_drain as drain

    return drain(source_id)


def team_rollups_sync() -> str:
    """Recompute the team rollups a catalog change (a service changing team, a team moving) made stale."""
    from metrics.team_rollups import sync

    return sync()
