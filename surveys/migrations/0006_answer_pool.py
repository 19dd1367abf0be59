from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("surveys", "0005_group_score_participation")]

    operations = []
