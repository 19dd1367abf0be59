"""``manage.py bench_actions`` on a tiny scale: one threshold per team and per service, two ticks, two backtests, and
the automations' ticks; the initiatives' pages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from actions import gains
from actions.models import (
    Automation,
    AutomationRun,
    Channel,
    Initiative,
    InitiativeTeam,
    OutboxMessage,
    Threshold,
    ThresholdEvent,
)


def test_the_bench_times_a_tick_of_every_team_and_service_and_cleans_up(service, subteam, other_team):
    out = StringIO()

    call_command("bench_actions", "--only", "ticks", stdout=out)

    table = out.getvalue()
    assert "Initiative" not in table
    assert "Threshold tick: 3 teams + 1 services" in table
    assert "4 thresholds" in table and "< 15 min: ok" in table
    assert "Next tick (nothing fires again)" in table and "WRONG" not in table
    assert "Backtest, organisation, 90 days" in table and "Backtest, a team with sub-teams" in table
    assert "Backtest, organisation, PRs waiting" in table
    # Six organisation automations (one per trigger kind) and one per team; the hourly schedule's slot is the one
    # occurrence of an empty organisation, recorded and sent at the first tick, and nothing after.
    assert "Automations tick, first: 9 automations (3 teams)" in table
    assert "1 runs recorded (a week's), 1 executed" in table
    assert "Automations, the next 4 ticks" in table and "0 runs recorded, 0 executed; in all: 1 sent" in table
    assert "< 60 s: ok" in table and "OVER" not in table
    assert not Threshold.objects.exists() and not ThresholdEvent.objects.exists()
    assert not Automation.objects.exists() and not AutomationRun.objects.exists()
    assert not Channel.objects.exists() and not OutboxMessage.objects.exists()


def test_the_bench_times_the_initiatives_pages_and_cleans_up(service, subteam, other_team):
    out = StringIO()

    call_command("bench_actions", "--only", "initiatives", "--initiatives", "4", "--requests", "2", stdout=out)

    table = out.getvalue()
    assert "Threshold" not in table and "Automations" not in table
    # The leaf teams are Payments API (under Payments) and Search, a tie of depths: the shallower, Search's, where
    # Payments is the one candidate. All four are on Search; the planned one is not frozen.
    assert "Initiatives frozen at their start: 3 of 4" in table and "3 team baselines" in table
    assert "Initiatives' reports published: 3 started, 1 planned" in table
    assert "Initiatives list: 4 of 4, a published headline each" in table
    assert "Initiative page (1 team, 1 candidate teams)" in table
    assert "Initiative page (1 teams in 1 cohorts, 1 candidate teams)" in table
    assert "Initiative page, planned (1 team, 1 candidate teams)" in table
    assert "Initiative CSV (1 team, 1 candidate teams)" in table
    assert "Initiative CSV (1 teams in 1 cohorts, 1 candidate teams)" in table
    assert f"Velocity gains, {gains.quarter_of(timezone.now()).label}: " in table
    assert table.count("queries max") == 7
    assert not Initiative.objects.exists() and not InitiativeTeam.objects.exists()


def test_the_bench_keeps_what_it_adds_when_asked(service):
    call_command("bench_actions", "--keep", "--ticks", "2", "--initiatives", "3", "--requests", "1", stdout=StringIO())
    assert Threshold.objects.filter(name__startswith="bench: ").count() == 2
    assert Automation.objects.filter(name__startswith="bench: ").count() == 7  # six and the service's team's
    assert OutboxMessage.objects.filter(channel__name="bench: outbox").count() == 1
    assert Initiative.objects.filter(name__startswith="bench: ").count() == 3
    assert Initiative.objects.filter(frozen_at__isnull=False).count() == 2  # the planned one has not started

    out = StringIO()
    # A run after a kept one starts afresh.
    call_command("bench_actions", "--ticks", "1", "--initiatives", "3", "--requests", "1", stdout=out)

    assert "Automations tick, first: 7 automations (1 teams)" in out.getvalue()
    assert "next" not in out.getvalue()
    assert "Initiatives list: 3 of 3, a published headline each" in out.getvalue()
    assert not Automation.objects.exists() and not Channel.objects.exists() and not Initiative.objects.exists()


def test_the_bench_needs_a_catalog(db):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("bench_actions", stdout=StringIO())
