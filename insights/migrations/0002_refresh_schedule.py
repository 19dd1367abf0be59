"""The hourly schedule that recomputes the precomputed insight results (``insights.tasks.refresh``)."""

from django.db import migrations

NAME = "Insights: recompute bottlenecks and correlations"


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "insights.tasks.refresh", "schedule_type": "H", "repeats": -1}
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_initial"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(forwards, backwards)]
