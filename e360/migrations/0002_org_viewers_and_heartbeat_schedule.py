from django.contrib.auth.management import create_permissions
from django.db import migrations

ORG_VIEWERS = "Org viewers"
HEARTBEAT = "e360.tasks.heartbeat"


def forwards(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure ours exist now.
    app_config = apps.get_app_config("e360")
    app_config.models_module = True  # create_permissions skips app configs without models
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=ORG_VIEWERS)
    group.permissions.add(Permission.objects.get(content_type__app_label="e360", codename="view_org"))

    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="Worker heartbeat",
        defaults={"func": HEARTBEAT, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=ORG_VIEWERS).delete()
    apps.get_model("django_q", "Schedule").objects.filter(name="Worker heartbeat").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("e360", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
