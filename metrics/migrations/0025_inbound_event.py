"""A raw inbound payload is an ``InboundEvent``, not a "delivery" (issue 15, item 6): the word
names the DORA delivery pages. The table is renamed with its rows; its constraint and index get
names of their own, and the drain's schedule calls the task by its new name."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

OLD = ("Process waiting deliveries", "metrics.tasks.delivery_drain")
NEW = ("Process waiting inbound events", "metrics.tasks.inbound_drain")


def rename_schedule(old: tuple[str, str], new: tuple[str, str]):
    def run(apps, schema_editor):
        apps.get_model("django_q", "Schedule").objects.filter(name=old[0]).update(name=new[0], func=new[1])

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("django_q", "0018_task_success_index"),
        ("metrics", "0024_names"),
    ]

    operations = [
        migrations.RenameModel("Delivery", "InboundEvent"),
        migrations.AlterModelOptions(name="inboundevent", options={"ordering": ["-received_at"]}),
        migrations.RemoveConstraint(model_name="inboundevent", name="delivery_unique_per_source"),
        migrations.AddConstraint(
            model_name="inboundevent",
            constraint=models.UniqueConstraint(
                fields=("source", "delivery_id"), name="inbound_event_unique_per_source"
            ),
        ),
        migrations.RenameIndex(
            "inboundevent", new_name="inbound_event_waiting", old_name="metrics_del_status_35b774_idx"
        ),
        migrations.AlterField(
            model_name="inboundevent",
            name="source",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="inbound_events",
                to="metrics.source",
            ),
        ),
        migrations.AlterField(
            model_name="source",
            name="drain_queued",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="A task to process this source's waiting inbound events is queued.",
            ),
        ),
        migrations.RunPython(rename_schedule(OLD, NEW), rename_schedule(NEW, OLD)),
    ]
