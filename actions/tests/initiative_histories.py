"""Review histories for the initiative tests: pull requests with a chosen pickup time, one a day per service around
a start, written the way ingestion writes them and rolled up; and the initiative around them, frozen at its start."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from actions import initiatives
from actions.models import Initiative, InitiativeTeam
from actions.models.initiatives import org_today
from e360.tests.factories import ServiceFactory, TeamFactory
from metrics.inputs import PullRequestInput, ReviewInput
from metrics.models import Source
from metrics.refresh import service_refresh
from metrics.services import Dirty, pull_requests_upsert
from metrics.tests.factories import SourceFactory

WINDOW_DAYS = 28
START_DAYS_AGO = 35  # a start 5 weeks ago: 4 weeks before it and its 4-week after window read


def reviews(source, service, now: datetime, days: range, pickup: Callable[[int], float]) -> None:
    """One pull request merged a day, ``days`` ago each, waiting ``pickup(days_ago)`` hours for its first review.

    Sent as one batch, as the bulk API and the backfills send them: a statement per table, not per pull request."""
    batch = []
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
        batch.append(data)
    pull_requests_upsert(source=source, items=batch, dirty=Dirty())
    service_refresh(service_id=service.id)


def initiative_on(teams, starts_on: date, *, now: datetime, freeze: bool = True, **fields) -> Initiative:
    """“Review reminders” on ``teams`` (the first one's start is the initiative's), pickup time its metric."""
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


@pytest.fixture
def review_teams(team, other_team, service):
    """Payments (Checkout) and three comparison teams at its level, each with a service."""
    billing = TeamFactory(name="Billing", slug="billing")
    ledger = TeamFactory(name="Ledger", slug="ledger")
    for comparison in (other_team, billing, ledger):
        ServiceFactory(name=f"{comparison.name} app", slug=f"{comparison.slug}-app", owner=comparison)
    return [team, other_team, billing, ledger]


@pytest.fixture
def review_source(now):
    """Each team's GitHub source (a source writes to its team's services only)."""

    def of(team):
        return Source.objects.filter(team=team).first() or SourceFactory(
            name=f"github-{team.slug}", team=team, last_event_at=now
        )

    return of


def planted(teams, source, now, *, days=range(1, 64), falls: dict[str, int] | None = None) -> None:
    """Pickup about 10 h everywhere (give or take 2 h, at random); the teams of ``falls`` (slug → days ago; by
    default Payments, at ``START_DAYS_AGO``) fall to about 4 h from then on."""
    falls = {"payments": START_DAYS_AGO} if falls is None else falls
    rng = random.Random(7)
    for team in teams:
        service = team.services.get()
        noise = {days_ago: rng.uniform(-2, 2) for days_ago in days}

        def pickup(days_ago: int, team=team, noise=noise) -> float:
            fell = team.slug in falls and days_ago < falls[team.slug]
            return (4.0 if fell else 10.0) + noise[days_ago]

        reviews(source(team), service, now, days, pickup)
