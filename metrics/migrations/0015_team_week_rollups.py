"""Week rows of team rollups, built from the day rows already stored."""

import django.db.models.deletion
from django.db import migrations, models


def build_weeks(apps, schema_editor):
    from metrics.rollups import teams

    teams.build_weeks(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("e360", "0002_org_viewers_and_heartbeat_schedule"),
        ("metrics", "0014_source_and_organisation_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="TeamWeekRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("production", models.BooleanField()),
                ("week", models.DateField(help_text="Its Monday.")),
                ("distributions", models.JSONField(default=dict, help_text="As ``TeamRollup.distributions``.")),
                (
                    "team",
                    models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="e360.team"),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("team", "production", "week"), name="team_week_rollup_unique")
                ],
            },
        ),
        migrations.RunPython(build_weeks, migrations.RunPython.noop, elidable=True),
    ]
