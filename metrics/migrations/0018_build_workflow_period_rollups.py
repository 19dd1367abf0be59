# Builds the workflow period rollups of every service from its runs of the longest period, one
# service per transaction (so refreshes are held back one service at a time, and a second run
# resumes where a stopped one left off), then schedules the hourly sweep that keeps them.

from django.db import migrations

NAME = "Write the coming day's workflow rollups"


def forwards(apps, schema_editor):
    from metrics.rollups import workflows

    workflows.sweep(apps)
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "metrics.tasks.workflow_rollups_sweep", "schedule_type": "H", "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    atomic = False  # each service's rows commit with it: see above

    dependencies = [
        ("metrics", "0017_workflow_period_rollups"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=True)]
