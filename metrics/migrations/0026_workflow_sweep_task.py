"""The hourly workflow rollup sweep is the task ``metrics.tasks.workflow_rollups_sweep`` since the rollups moved
into ``metrics.rollups`` (issue 15, item 2): a database that scheduled it under its old path calls the new one."""

from __future__ import annotations

from django.db import migrations

OLD = "metrics.workflow_rollups.sweep"
NEW = "metrics.tasks.workflow_rollups_sweep"


def point(old: str, new: str):
    def run(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(func=old).update(func=new)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("django_q", "0018_task_success_index"),
        ("metrics", "0025_inbound_event"),
    ]

    operations = [migrations.RunPython(point(OLD, NEW), point(NEW, OLD))]
