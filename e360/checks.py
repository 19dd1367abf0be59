"""System checks for e360's own settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOOPBACK = {"127.0.0.1", "localhost", "0.0.0.0", "::1"}  # noqa: S104 (compared with, not bound to)


@register(Tags.security, deploy=True)
def check_site_url(app_configs, **kwargs) -> list[Warning]:
    """Links in emails are built on SITE_URL: in production it must be the address people reach."""
    host = urlsplit(settings.SITE_URL).hostname or ""
    if host in LOOPBACK:
        return [
            Warning(
                f"SITE_URL is {settings.SITE_URL!r}: links in emails (survey invitations) would point there.",
                hint="Set SITE_URL to the portal's public address, e.g. https://e360.example.com.",
                id="e360.W001",
            )
        ]
    return []
