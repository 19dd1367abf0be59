"""The templates e360 ships (``surveys.bank``) and the schedule that opens, closes and reminds."""

from django.db import migrations

TICK = "surveys.tasks.tick"
NAME = "Survey campaigns: open, close, remind"


def forwards(apps, schema_editor):
    from surveys.services import templates_load_bank

    templates_load_bank(apps)
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": TICK, "schedule_type": "I", "minutes": 1, "repeats": -1}
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(forwards, backwards)]
