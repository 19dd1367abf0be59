"""Reads for pages and the metrics API besides the figures (which ``metrics.rollups`` reads): the
default window."""

from __future__ import annotations

from django.utils import timezone

from metrics import definitions as d


def default_window(profile: d.Profile, days: int = 90) -> d.Window:
    """The last ``days`` org-zone days, today included."""
    return d.Window.last_days(days, now=timezone.now(), tz=profile)
