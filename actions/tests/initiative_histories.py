"""Review histories for the initiative tests: pull requests with a chosen pickup time, one a day per service around
a start, written the way ingestion writes them and rolled up; and the initiative around them, frozen at its start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from actions import initiatives
from actions.models import Initiative, InitiativeTeam
from actions.models.initiatives import org_today
from metrics.inputs import PullRequestInput, ReviewInput
from metrics.refresh import service_refresh
from metrics.services import Dirty, pull_request_upsert

WINDOW_DAYS = 28


def reviews(source, service, now: datetime, days: range, pickup: Callable[[int], float]) -> None:
    """One pull request merged a day, ``days`` ago each, waiting ``pickup(days_ago)`` hours for its first review."""
    for days_ago in days:
        merged = now - timedelta(days=days_ago, hours=1)
        opened = merged - timedelta(hours=48)
        data = PullRequestInput(
            external_id=f"{service.slug}-{days_ago}",
            repository=f"acme/{service.slug}",
            service=service.slug,
            number=days_ago + 1,
            title=f"Change {days_ago}",
            author="ada",
            opened_at=opened,
            merged_at=merged,
            reviews=(
                ReviewInput(
                    external_id=f"{service.slug}-{days_ago}-r",
                    author="bob",
                    submitted_at=opened + timedelta(hours=pickup(days_ago)),
                ),
            ),
        )
        pull_request_upsert(source=source, data=data, dirty=Dirty())
    service_refresh(service_id=service.id)


def initiative_on(teams, starts_on: date, *, now: datetime, freeze: bool = True, **fields) -> Initiative:
    """ "Review reminders" on ``teams`` (the first one's start is the initiative's), pickup time its metric."""
    fields = {
        "name": "Review reminders",
        "dimension": "code_review",
        "hypothesis": "Reminders after 4 business hours: pickup time falls",
        "primary_metrics": ["pickup_time"],
        "guardrail_metric": "change_failure_rate",
        "window_days": WINDOW_DAYS,
        "ramp_up_days": 0,
        **fields,
    }
    initiative = Initiative(starts_on=starts_on, **fields)
    initiative.full_clean()
    initiative.save()
    for team in teams:
        start = team[1] if isinstance(team, tuple) else None
        InitiativeTeam.objects.create(
            initiative=initiative, team=team[0] if isinstance(team, tuple) else team, starts_on=start
        )
    if freeze and starts_on <= org_today(now):
        initiatives.initiative_freeze(initiative_id=initiative.pk, now=now)
        initiative.refresh_from_db()
    return initiative
