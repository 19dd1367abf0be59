from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


def forget_stored_figures(apps, schema_editor):
    """Stored figures are computed again on their next read, now with their withheld questions and changes. A
    campaign closed before this has no frozen tree: it is frozen then, on the tree as it is (docs/surveys.md)."""
    apps.get_model("surveys", "GroupScore").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("surveys", "0006_answer_pool")]

    operations = [
        migrations.RunPython(forget_stored_figures, migrations.RunPython.noop),
        migrations.AddField(
            model_name="campaign",
            name="frozen_tree",
            field=models.JSONField(
                blank=True,
                editable=False,
                help_text="The team tree its results are published on, stored when it closed (``surveys.published``).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="groupscore",
            name="change_status",
            field=models.CharField(
                default="no_data",
                help_text="Whether its change since the previous wave may be shown: shown, too_few, suppressed or "
                "no_data.",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="groupscore",
            name="withheld",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Question → too_few or suppressed: its answers in this shown group are withheld (not in "
                "counts).",
            ),
        ),
        migrations.AlterField(
            model_name="groupscore",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="e360.team",
            ),
        ),
        migrations.AlterField(
            model_name="invitation",
            name="label",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The team the response is stored under (at least k invitees share it); empty: the "
                "organisation.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="e360.team",
            ),
        ),
        migrations.AlterField(
            model_name="response",
            name="label",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="e360.team",
            ),
        ),
    ]
