"""Recovering from a killed worker within a minute (issue 13, item 10).

- Service refreshes are requested through ``RefreshRequest`` rows instead of a cache key, so
  a request made while a refresh runs is never dropped; a schedule re-queues lost ones.
- The sweep of deliveries still "received" runs every minute instead of every five.
- The tasks that scale with the organisation (the team rollup sync, the workflow rollup sweep,
  the survey tick that sends emails) may run longer than the cluster's 50 s timeout: their
  schedules give them their own (``e360.broker.LONG_TASK``), and the broker leases them for it.
"""

from __future__ import annotations

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

DRAIN = "Process waiting deliveries"
REFRESH_SWEEP = "Re-queue lost service refreshes"
LONG = ("metrics.tasks.team_rollups_sync", "metrics.tasks.workflow_rollups_sweep", "surveys.tasks.tick")
LONG_KWARGS = "{'q_options': {'timeout': 600}}"  # e360.broker.LONG_TASK, as it was when written


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=DRAIN).update(minutes=1)
    Schedule.objects.update_or_create(
        name=REFRESH_SWEEP,
        defaults={"func": "metrics.tasks.refresh_requests_sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )
    Schedule.objects.filter(func__in=LONG, kwargs__isnull=True).update(kwargs=LONG_KWARGS)


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=DRAIN).update(minutes=5)
    Schedule.objects.filter(name=REFRESH_SWEEP).delete()
    Schedule.objects.filter(func__in=LONG, kwargs=LONG_KWARGS).update(kwargs=None)


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0021_ingestion_hardening"),
        ("surveys", "0002_shipped_templates_and_schedule"),  # the tick's schedule exists
    ]

    operations = [
        migrations.CreateModel(
            name="RefreshRequest",
            fields=[
                (
                    "service",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="e360.service",
                    ),
                ),
                ("since", models.DateTimeField(help_text="The earliest record time the waiting writes touched.")),
                ("requests", models.PositiveBigIntegerField(default=1)),
                (
                    "taken",
                    models.PositiveBigIntegerField(help_text="``requests`` when a refresh took the row.", null=True),
                ),
                (
                    "queued_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now,
                        help_text="When a task was last queued for it or took it; older ones are re-queued.",
                    ),
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
