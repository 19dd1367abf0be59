"""The background schedules, declared by the app that owns them and kept in django-q2's table.

Each app config lists its schedules (``schedules``, a tuple of ``Every``). After every
``migrate`` (the ``post_migrate`` signal, as Django creates permissions), ``sync`` writes each
one by name and removes the repeating rows of that app's tasks (``<app>.tasks.*``) no app
declares any more, so renaming or dropping a schedule in code is all it takes. One-off schedules
a task sets for itself (a rate-limited backfill's resumption) and schedules an admin adds for
other functions are left alone. The ``post_migrate`` signal also runs after a test flush, so
transactional tests find the schedules too.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS


@dataclass(frozen=True)
class Every:
    """A task run by the cluster's scheduler every ``minutes`` minutes, or every hour (``hourly``).

    ``long``: it scales with the organisation and gets ``e360.broker.LONG_TASK`` seconds."""

    name: str
    func: str
    minutes: int = 0
    hourly: bool = False
    long: bool = False

    def __post_init__(self) -> None:
        if self.hourly == bool(self.minutes):
            raise ValueError(f"{self.name}: give either minutes or hourly")

    def fields(self) -> dict:
        from django_q.models import Schedule

        from e360.broker import LONG_TASK

        return {
            "func": self.func,
            "schedule_type": Schedule.HOURLY if self.hourly else Schedule.MINUTES,
            "minutes": self.minutes or None,
            "repeats": -1,
            "kwargs": repr({"q_options": {"timeout": LONG_TASK}}) if self.long else None,
        }


def sync(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """The ``post_migrate`` receiver: bring the table in line with ``sender``'s declared schedules."""
    from django_q.models import Schedule

    declared: tuple[Every, ...] = getattr(sender, "schedules", ())
    rows = Schedule.objects.using(using)
    rows.filter(func__startswith=f"{sender.name}.tasks.").exclude(schedule_type=Schedule.ONCE).exclude(
        name__in=[s.name for s in declared]
    ).delete()
    for schedule in declared:
        row = rows.filter(name=schedule.name).first()
        wanted = schedule.fields()
        if row is None:
            rows.create(name=schedule.name, **wanted)
        elif any(getattr(row, field) != value for field, value in wanted.items()):
            rows.filter(pk=row.pk).update(**wanted)
