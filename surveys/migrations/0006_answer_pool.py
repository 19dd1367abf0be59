from __future__ import annotations

import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("surveys", "0005_group_score_participation")]

    operations = [
        # Submitted answers wait here until moved into responses (docs/surveys.md, rule 1; services.pool_move).
        migrations.CreateModel(
            name="PooledResponse",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("answers", models.JSONField(default=list)),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="pooled", to="surveys.campaign"
                    ),
                ),
                (
                    "label",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="e360.team",
                    ),
                ),
            ],
            options={"ordering": []},
        ),
    ]
