from django.db import migrations

NAME = "Process waiting deliveries"


def forwards(apps, schema_editor):
    # Each stored delivery queues a drain; this catches any whose task was lost (a broker restart).
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={"func": "metrics.tasks.delivery_drain", "schedule_type": "I", "minutes": 5, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0002_rollup_changes_deployed"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
