"""Reads for pages and the metrics API besides the figures (which ``metrics.rollups`` reads): the
default window, and when each source last sent something."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from metrics import definitions as d
from metrics.models import Source


def last_events() -> dict[str, datetime]:
    """When each active source last sent us something (set on every accepted write)."""
    sources = Source.objects.filter(is_active=True, last_event_at__isnull=False)
    return dict(sources.values_list("name", "last_event_at"))


def default_window(profile: d.Profile, days: int = 90) -> d.Window:
    """The last ``days`` org-zone days, today included."""
    return d.Window.last_days(days, now=timezone.now(), tz=profile)
