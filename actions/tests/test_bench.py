"""``manage.py bench_actions`` on a tiny scale: one threshold per team and per service, two ticks, two backtests."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from actions.models import Threshold, ThresholdEvent


def test_the_bench_times_a_tick_of_every_team_and_service_and_cleans_up(service, subteam, other_team):
    out = StringIO()

    call_command("bench_actions", stdout=out)

    table = out.getvalue()
    assert "Threshold tick: 3 teams + 1 services" in table
    assert "4 thresholds" in table and "< 15 min: ok" in table
    assert "Next tick (nothing fires again)" in table and "WRONG" not in table
    assert "Backtest, organisation, 90 days" in table and "Backtest, a team with sub-teams" in table
    assert "Backtest, organisation, PRs waiting" in table
    assert not Threshold.objects.exists() and not ThresholdEvent.objects.exists()


def test_the_bench_keeps_its_thresholds_when_asked(service):
    call_command("bench_actions", "--keep", stdout=StringIO())
    assert Threshold.objects.filter(name__startswith="bench: ").count() == 2


def test_the_bench_needs_a_catalog(db):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("bench_actions", stdout=StringIO())
