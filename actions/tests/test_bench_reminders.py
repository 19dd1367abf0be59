"""``manage.py bench_reminders`` on a tiny organisation: it measures, and leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from actions.management.commands.bench_reminders import working_moment
from actions.models import Reminder, ReminderPolicy
from e360.tests.factories import MembershipFactory, PersonFactory
from metrics.tests.factories import PullRequestFactory


def test_the_bench_times_selection_and_recording_then_rolls_back(service, owner, teammate):
    PullRequestFactory(service=service, opened_at=datetime.now(UTC) - timedelta(days=20))
    MembershipFactory(person=PersonFactory(), team=service.owner)
    out = StringIO()

    call_command("bench_reminders", "--repeat", "2", stdout=out)

    table = out.getvalue()
    assert "Reminder selection, 1 policies, 1 waiting pull requests" in table
    assert "7 queries; 1 due" in table
    assert "Recording the due reminders" in table and "1 rows" in table
    assert "p95 ≤ 10 s: ok" in table
    assert not ReminderPolicy.objects.exists() and not Reminder.objects.exists()


def test_the_bench_needs_a_catalog(db):
    with pytest.raises(CommandError, match="catalog is empty"):
        call_command("bench_reminders", stdout=StringIO())


def test_the_bench_measures_at_a_weekday_late_morning():
    paris = ZoneInfo("Europe/Paris")
    monday_early = datetime(2026, 5, 4, 5, tzinfo=paris)
    assert working_moment(paris, monday_early) == datetime(2026, 5, 1, 11, tzinfo=paris)  # the Friday before
    assert working_moment(paris, datetime(2026, 5, 5, 12, tzinfo=paris)) == datetime(2026, 5, 5, 11, tzinfo=paris)
