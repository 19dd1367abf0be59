"""The apps' declared schedules are what every migrate writes (e360/schedules.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps
from django_q.models import Schedule

from e360.schedules import Every, sync


def test_every_declared_schedule_is_in_the_table_after_migrate(db):
    declared = [s for config in apps.get_app_configs() for s in getattr(config, "schedules", ())]
    assert len(declared) == 13
    for schedule in declared:
        row = Schedule.objects.get(name=schedule.name)
        assert {field: getattr(row, field) for field in schedule.fields()} == schedule.fields()


def test_a_schedule_renamed_or_changed_in_code_follows_and_others_are_left_alone(db):
    Schedule.objects.create(name="Old name", func="metrics.tasks.inbound_drain", schedule_type=Schedule.MINUTES)
    Schedule.objects.create(name="An admin's", func="e360.tasks.heartbeat", schedule_type=Schedule.DAILY)
    Schedule.objects.create(name="Elsewhere", func="reports.weekly", schedule_type=Schedule.WEEKLY)
    Schedule.objects.filter(name="Re-queue lost service refreshes").update(minutes=5, kwargs=None)
    sync(apps.get_app_config("metrics"))
    names = set(Schedule.objects.values_list("name", flat=True))
    assert "Old name" not in names  # a metrics task no metrics schedule declares: renamed in code
    assert {"An admin's", "Elsewhere"} <= names  # another app's function, or none of e360's apps'
    assert Schedule.objects.get(name="Re-queue lost service refreshes").minutes == 1


def test_a_one_off_schedule_a_task_set_for_itself_is_kept(db):
    Schedule.objects.create(
        name="Resume backfill 7", func="integrations.tasks.backfill_run", schedule_type=Schedule.ONCE
    )
    sync(apps.get_app_config("integrations"))
    assert Schedule.objects.filter(name="Resume backfill 7").exists()


def test_a_sender_without_schedules_keeps_its_tasks_schedules_out(db):
    Schedule.objects.create(name="Stale", func="actions.tasks.remind", schedule_type=Schedule.HOURLY)
    sync(SimpleNamespace(name="actions"))
    assert not Schedule.objects.filter(name="Stale").exists()


def test_a_schedule_is_every_few_minutes_or_hourly():
    with pytest.raises(ValueError, match="either minutes or hourly"):
        Every("Both", "e360.tasks.heartbeat", minutes=1, hourly=True)
    with pytest.raises(ValueError, match="either minutes or hourly"):
        Every("Neither", "e360.tasks.heartbeat")
