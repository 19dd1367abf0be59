from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("metrics", "0021_ingestion_hardening")]

    operations = []
