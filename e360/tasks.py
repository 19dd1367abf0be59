"""django-q2 entry points for the catalog app."""

from __future__ import annotations

import socket

from django.utils import timezone

from e360.models import WorkerHeartbeat


def heartbeat() -> None:
    """Record that a worker is alive and picking up scheduled work."""
    WorkerHeartbeat.objects.update_or_create(name=socket.gethostname(), defaults={"last_seen": timezone.now()})
