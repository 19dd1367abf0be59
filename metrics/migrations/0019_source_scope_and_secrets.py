from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("metrics", "0018_build_workflow_period_rollups")]

    operations = []
