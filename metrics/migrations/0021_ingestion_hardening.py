from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("metrics", "0020_unknown_sizes_and_changes")]

    operations = []
