"""Insights demo: the demo organisation's rankings and correlations computed at once, so that its dashboards and
bottleneck pages show them on first run instead of after the hourly refresh. Runs after the delivery and survey
seeders (INSTALLED_APPS order), on their rollups and closed waves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from insights import services
from insights.selectors import STANDARD_DAYS

if TYPE_CHECKING:
    from e360.demo import DemoOrg


def seed(org: DemoOrg) -> str:
    # As of the end of the demo's history, so a demo loaded with --as-of has figures too.
    periods = [services.insights_refresh(days=days, now=org.now) for days in STANDARD_DAYS]
    return f"insights over {', '.join(str(p.days) for p in periods)} days for {periods[0].teams} teams"
